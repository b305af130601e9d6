export * from './wav.js';
export * from './resample.js';
export * from './dsp.js';
export * from './dsp-tf.js';
export * from './losses.js';
export * from './metrics.js';
export * from './chunking.js';
