export * from './run-agent.js';
export * from './stop-run.js';
export * from './recovery.js';
export * from './permissions.js';
