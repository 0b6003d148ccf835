export * from './definitions.js';
export * from './templates.js';
export * from './prompts.js';
