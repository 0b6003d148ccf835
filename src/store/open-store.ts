import { ConfigError } from '../lib/errors.js';
import type { Store } from './store.js';
import { SqliteStore } from './sqlite-store.js';

/** Opens the configured store: SQLite at `sqlitePath` (the default, one machine). */
export async function openStore(options: { url?: string | undefined; sqlitePath: string }): Promise<Store> {
  if (options.url) {
    throw new ConfigError(`database.url ${options.url.replace(/\/\/[^@/]*@/, '//***@')} is not supported yet: only SQLite is implemented`, {
      hint: 'Remove database.url (and ORCHESTRATOR_DATABASE_URL / --db postgres://…) to use SQLite at .orchestrator/orchestrator.db.',
    });
  }
  return SqliteStore.open(options.sqlitePath);
}
