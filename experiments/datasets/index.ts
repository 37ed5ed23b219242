// Public surface of the dataset loaders and prompt templates.
export * from './limo.js';
export * from './templates.js';
