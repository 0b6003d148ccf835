import { Logger, runMigrations, type SharedOptions } from 'graphile-worker';
import pg from 'pg';
import { QueueSchemaMissingError, QueueSchemaNameError, toQueueError } from './errors.js';

/** The default schema of the queue's tables (graphile-worker's own default is `graphile_worker`). */
export const DEFAULT_QUEUE_SCHEMA = 'orchestrator_queue';

/** Where a queue lives: one database, one schema. Two schemas never share jobs. */
export interface QueueLocation {
  connectionString: string;
  schema: string;
}

export type QueueLogLevel = 'error' | 'warning' | 'info' | 'debug';
export type QueueLog = (level: QueueLogLevel, message: string) => void;

/** The library's messages: warnings and errors to stderr, unless the caller takes them. */
export const stderrQueueLog: QueueLog = (level, message) => {
  if (level === 'error' || level === 'warning') process.stderr.write(`queue ${level}: ${message}\n`);
};

export function assertQueueSchemaName(schema: string): void {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new QueueSchemaNameError(schema);
}

/** Our one table beside the library's: which graphile-worker pools (their `locked_by`) belong to which worker. */
export const workerPoolsTable = (schema: string) => `${schema}.orchestrator_worker_pools`;

const MIGRATE_CHANNEL = 'worker:migrate';

/**
 * graphile-worker announces every breaking migration on the database-wide `worker:migrate` channel, and every
 * running pool in the database, whatever its schema, shuts down when it hears one. A fresh install (no migration
 * yet in this schema) has no pool of its own to warn, so its announcements are dropped: installing the queue in a
 * new schema (a test, a second project in the same database) never stops the workers of another schema. Upgrades
 * of an existing schema still announce, as the library intends. The library's `migrate` middleware is the hook;
 * the event's client is wrapped for the duration of the migration only.
 */
const quietFreshInstall: GraphileConfig.Plugin = {
  name: 'OrchestratorQuietFreshInstall',
  version: '1.0.0',
  worker: {
    middleware: {
      async migrate(next, event) {
        const { rows } = await event.client.query<{ n: number }>(`select count(*)::int as n from ${event.ctx.escapedWorkerSchema}.migrations`);
        if ((rows[0]?.n ?? 0) > 0) return next();
        const client = event.client;
        event.client = new Proxy(client, {
          get(target, property) {
            if (property === 'query') {
              return (text: unknown, values?: unknown) =>
                typeof text === 'string' && text.includes('pg_notify') && Array.isArray(values) && values[0] === MIGRATE_CHANNEL
                  ? Promise.resolve({ rows: [], rowCount: 0 })
                  : (target.query as (text: unknown, values?: unknown) => unknown)(text, values);
            }
            const value: unknown = Reflect.get(target, property, target);
            return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
          },
        });
        try {
          return await next();
        } finally {
          event.client = client;
        }
      },
    },
  },
};

/** The options every graphile-worker call of ours shares. */
export function libraryOptions(location: QueueLocation, log: QueueLog = stderrQueueLog): SharedOptions {
  assertQueueSchemaName(location.schema);
  return {
    connectionString: location.connectionString,
    schema: location.schema,
    logger: new Logger(() => (level: string, message: string) => log(level as QueueLogLevel, message)),
    preset: { plugins: [quietFreshInstall] },
  };
}

/**
 * Installs or upgrades the queue's tables in `location.schema` (the library's migrations, then ours). Safe to run
 * from several processes at once; the coordinator runs it at start.
 */
export async function installQueueSchema(location: QueueLocation, options: { log?: QueueLog } = {}): Promise<void> {
  try {
    await runMigrations(libraryOptions(location, options.log));
    await withClient(location, async (client) => {
      await client.query(`create table if not exists ${workerPoolsTable(location.schema)} (pool_id text primary key, worker_id text not null, started_at timestamptz not null default now())`);
      await client.query(`create index if not exists orchestrator_worker_pools_worker on ${workerPoolsTable(location.schema)} (worker_id)`);
    });
  } catch (error) {
    throw toQueueError(error);
  }
}

/** Refuses with a typed error when the queue is not installed in the schema (workers never install it). */
export async function assertQueueInstalled(location: QueueLocation): Promise<void> {
  assertQueueSchemaName(location.schema);
  const installed = await withClient(location, async (client) => {
    const { rows } = await client.query<{ migrations: string | null; pools: string | null }>('select to_regclass($1) as migrations, to_regclass($2) as pools', [`${location.schema}.migrations`, workerPoolsTable(location.schema)]);
    return rows[0]?.migrations != null && rows[0]?.pools != null;
  });
  if (!installed) throw new QueueSchemaMissingError(location.schema);
}

/** One short-lived connection (errors mapped to the queue's typed errors). */
export async function withClient<T>(location: QueueLocation, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: location.connectionString });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await fn(client);
  } catch (error) {
    throw toQueueError(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}
