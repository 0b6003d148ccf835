export * from './prices.js';
export * from './message-usage.js';
