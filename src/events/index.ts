export * from './event-types.js';
export * from './bus.js';
