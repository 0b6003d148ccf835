export * from './definitions.js';
export * from './templates.js';
