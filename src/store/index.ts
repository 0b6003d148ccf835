export * from './store.js';
export * from './cluster.js';
export { DEFAULT_MAX_BATCH, MessageWriter, type MessageWriterOptions } from './message-writer.js';
export { openStore } from './open-store.js';
export { PostgresStore, redactUrl } from './postgres-store.js';
export { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
export { SqliteStore } from './sqlite-store.js';
export { summarizeRun } from './rows.js';
