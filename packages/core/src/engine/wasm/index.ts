export { createWasmGemmEngine, DEFAULT_BLOCKING } from './engine.js';
export type { GemmBlocking, Im2colGeometry, WasmGemmEngine, WasmGemmOptions } from './engine.js';
export { bestGemmVariant, gemmWasmPath, relaxedSimdSupported } from './module.js';
export type { GemmVariant } from './module.js';
export { benchmarkGemm } from './benchmark.js';
export type { GemmBenchmarkOptions, GemmBenchmarkResult } from './benchmark.js';
