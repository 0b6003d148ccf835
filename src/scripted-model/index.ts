export * from './scenario.js';
export * from './server.js';
