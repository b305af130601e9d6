export * from './errors.js';
export * from './ffmpeg.js';
export * from './frame-rate.js';
export * from './source.js';
export * from './writer.js';
export * from './temporal-model.js';
export * from './codec.js';
export * from './compress.js';
