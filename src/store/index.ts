export * from './store.js';
export { DEFAULT_MAX_BATCH, MessageWriter, type MessageWriterOptions } from './message-writer.js';
export { openStore } from './open-store.js';
export { PostgresStore, redactUrl } from './postgres-store.js';
export { SqliteStore } from './sqlite-store.js';
export { summarizeRun } from './rows.js';
