export {};
export * from './io.js';
export * from './data/idx.js';
export * from './data/sources.js';
export * from './data/dataset.js';
export * from './metrics.js';
