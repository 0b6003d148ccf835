export * from './parse.js';
export * from './write-status.js';
export * from './generate.js';
