export {};
export * from './io.js';
