export * from './errors.js';
export * from './engine/backend.js';
export * from './engine/gemm.js';
export * from './nn/module.js';
export * from './quantization/types.js';
export * from './util/rng.js';
export * from './util/atomic-write.js';
