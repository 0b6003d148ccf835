import { resolveRemote } from '../git/index.js';
import { ConfigError } from '../lib/errors.js';
import type { SupervisorOptions } from '../orchestrator/index.js';
import { installQueueSchema, openQueueClient, type QueueClient } from '../queue/index.js';
import { PostgresStore } from '../store/index.js';
import type { CommandContext } from './context.js';

export interface CoordinatorQueue extends AsyncDisposable {
  workers: NonNullable<SupervisorOptions['workers']>;
  queue: QueueClient;
  close(): Promise<void>;
}

/**
 * With `workers.enabled`: the job queue in PostgreSQL (installed here: the coordinator owns its schema) and the
 * shared remote workers clone. Null on one machine. Refuses, naming the fix, what cannot work across machines.
 */
export async function openCoordinatorQueue(ctx: CommandContext, coordinatorVersion: string): Promise<CoordinatorQueue | null> {
  const { config, store } = ctx;
  if (!config.workers.enabled) return null;
  const url = config.database.url;
  if (!(store instanceof PostgresStore) || !url) {
    throw new ConfigError('workers.enabled needs a PostgreSQL database that the workers share', {
      hint: 'Start with --db postgres://… (or set database.url), the same database every `orchestrator worker` uses; or set workers.enabled to false to run the sessions here.',
    });
  }
  const remote = await resolveRemote(config.repoRoot, config.git.remote);
  const location = { connectionString: url, schema: config.workers.queueSchema };
  await installQueueSchema(location);
  const queue = await openQueueClient(location);
  return { workers: { queue, remoteUrl: remote.fetchUrl, coordinatorVersion }, queue, close: () => queue.close(), [Symbol.asyncDispose]: () => queue.close() };
}
