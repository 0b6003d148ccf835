export * from './status-text.js';
export * from './heading.js';
export * from './parse.js';
export * from './write-status.js';
export * from './status-change.js';
export * from './plan.js';
export * from './generate.js';
