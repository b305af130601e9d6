/**
 * The WebAssembly SIMD GEMM engine (the compute core of the `vqkit-cpu`
 * backend).
 *
 *   const engine = await createWasmGemmEngine({ threads: 2 });
 *   engine.sgemm({ m, n, k, a, b, c });          // synchronous, like tfjs CPU kernels
 *   const col = engine.alloc(rows * cols);        // lives inside engine memory:
 *   engine.im2col(x, convInfo, col);              //   filled without a copy,
 *   engine.sgemm({ m: rows, n, k: cols, a: col, b: w, c: y }); // read in place
 *   engine.free(col);
 *   engine.dispose();
 *
 * The kernels are built by `scripts/build-wasm.mjs` into `packages/core/wasm/`
 * (part of the root `build`/`test` scripts).
 */
export { createWasmGemmEngine, DEFAULT_BLOCKING } from './engine.js';
export type { GemmBlocking, Im2colGeometry, VectorBinaryOp, VectorUnaryOp, WasmGemmEngine, WasmGemmOptions } from './engine.js';
export { bestGemmVariant, gemmWasmPath, relaxedSimdSupported } from './module.js';
export type { GemmVariant } from './module.js';
export { benchmarkGemm } from './benchmark.js';
export type { GemmBenchmarkOptions, GemmBenchmarkResult } from './benchmark.js';
