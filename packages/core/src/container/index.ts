export * from './crc32.js';
export * from './format.js';
export * from './tokenizer-id.js';
export * from './container.js';
