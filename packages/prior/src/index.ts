export * from './vocabulary.js';
export * from './layout.js';
export * from './gpt/config.js';
export * from './gpt/model.js';
