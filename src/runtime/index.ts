export * from './claude-session.js';
export * from './cli-locator.js';
export * from './process-group.js';
export * from './stream-events.js';
export * from './inactivity-watchdog.js';
export * from './session-results.js';
export * from './steering.js';
export * from './control-channel-mcp.js';
