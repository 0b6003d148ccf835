import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresStore, SqliteStore, type Store } from '../../src/store/index.js';

export const PG_TEST_URL = process.env.ORCHESTRATOR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Runs one statement on the test database (schema creation and removal). */
export async function pgAdmin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_TEST_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** The `--db` URL that puts a CLI's tables in `schema`. */
export function pgUrlForSchema(schema: string): string {
  return `${PG_TEST_URL}${PG_TEST_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

/** Where a test's orchestrator keeps its data: the repository's SQLite file, or a PostgreSQL schema of its own. */
export interface TestDatabase extends AsyncDisposable {
  /** Global CLI arguments selecting the store. */
  args: string[];
  open(): Promise<Store>;
}

export function sqliteTestDatabase(repoRoot: string): TestDatabase {
  return { args: [], open: async () => SqliteStore.open(join(repoRoot, '.orchestrator', 'orchestrator.db')), [Symbol.asyncDispose]: async () => undefined };
}

/** A fresh schema named `<prefix>_<random>`, dropped on dispose. */
export async function postgresTestDatabase(prefix: string): Promise<TestDatabase> {
  const schema = `${prefix}_${randomBytes(5).toString('hex')}`;
  await pgAdmin(`CREATE SCHEMA ${schema}`);
  return { args: ['--db', pgUrlForSchema(schema)], open: () => PostgresStore.open(PG_TEST_URL, { schema }), [Symbol.asyncDispose]: () => pgAdmin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) };
}

/** Opens the store, hands it to `fn`, closes it. */
export async function withTestStore<T>(db: TestDatabase, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await db.open();
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
