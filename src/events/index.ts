export * from './event-types.js';
export * from './bus.js';
export * from './payload-json.js';
