import { PostgresStore } from './postgres-store.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

/** Opens the configured store: PostgreSQL when a `postgres://` URL is given (several machines), else SQLite at `sqlitePath`. */
export async function openStore(options: { url?: string | undefined; sqlitePath: string; onListenerError?: (error: Error) => void }): Promise<Store> {
  if (options.url) return PostgresStore.open(options.url, options.onListenerError ? { listener: { onError: options.onListenerError } } : {});
  return SqliteStore.open(options.sqlitePath);
}
