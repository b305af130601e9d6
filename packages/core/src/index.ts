export * from './errors.js';
export * from './engine/backend.js';
export * from './engine/gemm.js';
