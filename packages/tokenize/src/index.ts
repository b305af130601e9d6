export * from './items.js';
export * from './shards.js';
export * from './tokenizers.js';
export * from './job.js';
export * from './pool.js';
export * from './queue.js';
export * from './tokenize.js';
