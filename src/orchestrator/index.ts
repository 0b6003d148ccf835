export * from './run-agent.js';
export * from './stop-run.js';
export * from './recovery.js';
export * from './permissions.js';
export * from './role-policies.js';
export * from './work-item-machine.js';
export * from './instance-lock.js';
export * from './retry.js';
