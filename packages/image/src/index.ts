export {};
export * from './io.js';
export * from './data/idx.js';
