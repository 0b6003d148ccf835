export * from './definitions.js';
export * from './registry.js';
export * from './templates.js';
export * from './prompts.js';
