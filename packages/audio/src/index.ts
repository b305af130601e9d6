export * from './wav.js';
export * from './resample.js';
