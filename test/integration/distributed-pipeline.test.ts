import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { EventBus, type WorkItemId } from '../../src/events/index.js';
import { InProcessSessionExecutor, Supervisor, parseRemoteSessionPayload, runRemoteSession } from '../../src/orchestrator/index.js';
import { installQueueSchema, openQueueClient, runQueueWorker, type QueueClient } from '../../src/queue/index.js';
import { MessageWriter, PostgresStore } from '../../src/store/index.js';
import { priceTable } from '../../src/usage/index.js';
import { PG_TEST_URL, pgAdmin } from '../helpers/databases.js';
import { cliPath, sessionEnv, useScriptedModel } from '../helpers/model.js';
import { pipelineRepo, roadmapOf } from '../helpers/pipeline.js';
import { developerWriting, standardRoles } from '../helpers/role-scenarios.js';

const model = useScriptedModel();

/**
 * A worker as `orchestrator worker` runs one, inside the test process: the queue, its own clone cache, the shared
 * store. (test/integration/worker-cli.test.ts runs the real command in processes of their own.)
 */
function startWorker(options: { workerId: string; schema: string; queueSchema: string; cacheDir: string; signal: AbortSignal; started: string[]; failWith?: string }): Promise<void> {
  return (async () => {
    const store = await PostgresStore.open(PG_TEST_URL, { schema: options.schema });
    const writer = new MessageWriter(store);
    const executor = new InProcessSessionExecutor({ store, bus: new EventBus(), messages: writer, cliPath: cliPath(), env: sessionEnv(model), prices: priceTable() });
    try {
      await runQueueWorker({
        connectionString: PG_TEST_URL,
        schema: options.queueSchema,
        workerId: options.workerId,
        concurrency: 2,
        pollIntervalMs: 500,
        signal: options.signal,
        log: () => undefined,
        handler: async (job, signal) => {
          const payload = parseRemoteSessionPayload(job.payload);
          options.started.push(`${options.workerId}:${payload.workItemId}:${payload.step}`);
          if (options.failWith) throw new Error(options.failWith);
          await runRemoteSession(payload.remoteSession, { executor, cacheDir: options.cacheDir, signal });
        },
      });
    } finally {
      await writer.close();
      await store.close();
    }
  })();
}

describe('the pipeline with its sessions on workers (job queue, shared remote, PostgreSQL)', () => {
  let scratch: string;
  let schema: string;
  let queueSchema: string;
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'orch-distributed-'));
    schema = `orch_dist_${randomBytes(5).toString('hex')}`;
    queueSchema = `${schema}_queue`;
    await pgAdmin(`CREATE SCHEMA ${schema}`);
  });
  afterEach(async () => {
    await pgAdmin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pgAdmin(`DROP SCHEMA IF EXISTS ${queueSchema} CASCADE`);
    await rm(scratch, { recursive: true, force: true });
  });

  it('takes two priorities to done with every session on one of two workers; the merges land on the remote, the merged and the project manager\'s branches leave it', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Alpha' }, { number: '2', title: 'Beta' }]), { config: { workers: { enabled: true, queueSchema } } });
    const remote = join(scratch, 'shared.git');
    execFileSync('git', ['clone', '-q', '--bare', repo.path, remote]);
    repo.git('remote', 'add', 'origin', remote);
    model.addScenarios([
      developerWriting({ number: '1', file: 'src/alpha.js', content: 'export const alpha = 1;\n' }),
      developerWriting({ number: '2', file: 'src/beta.js', content: 'export const beta = 2;\n' }),
      ...standardRoles,
    ]);
    const connection = { connectionString: PG_TEST_URL, schema: queueSchema };
    await installQueueSchema(connection);
    const queue: QueueClient = await openQueueClient(connection);
    const workersStop = new AbortController();
    const started: string[] = [];
    const workers = ['worker-a', 'worker-b'].map((workerId) => startWorker({ workerId, schema, queueSchema, cacheDir: join(scratch, workerId), signal: workersStop.signal, started }));
    const config = await loadConfig({ repoRoot: repo.path, env: sessionEnv(model), overrides: {} });
    const store = await PostgresStore.open(PG_TEST_URL, { schema });
    const writer = new MessageWriter(store);
    try {
      const supervisor = new Supervisor({
        config,
        store,
        bus: new EventBus((error) => {
          throw error;
        }),
        messages: writer,
        cliPath: cliPath(),
        untilIdle: true,
        signal: new AbortController().signal,
        pollIntervalMs: 100,
        workers: { queue, remoteUrl: remote, coordinatorVersion: 'test' },
      });
      await supervisor.prepare();
      const report = await supervisor.run();
      expect(report.items.map((item) => (item.state === 'blocked' ? `blocked: ${item.blockedReason ?? ''}` : item.state))).toEqual(['done', 'done']);
      // Every session ran as a job on a worker: architect, developer, reviewer per item, and the project manager's
      // (one batch for both items, or one per item, as the merges fall).
      const steps = started.map((entry) => entry.split(':').slice(1).join(':')).sort();
      expect(steps.filter((step) => !step.includes(':project-manager#'))).toEqual(['P-1:architect#1', 'P-1:code-developer#1', 'P-1:code-reviewer#1', 'P-2:architect#1', 'P-2:code-developer#1', 'P-2:code-reviewer#1']);
      expect(steps.filter((step) => step.includes(':project-manager#')).length).toBeGreaterThanOrEqual(1);
      const runs = await store.listRuns({ limit: 100 });
      expect(runs.every((run) => run.status === 'succeeded')).toBe(true);
      // The remote's integration branch holds both merges and the roadmap update; no item branch is left there.
      const git = (...args: string[]) => execFileSync('git', args, { cwd: remote, encoding: 'utf8' });
      expect(git('show', 'main:src/alpha.js')).toBe('export const alpha = 1;\n');
      expect(git('show', 'main:src/beta.js')).toBe('export const beta = 2;\n');
      expect(git('show', 'main:docs/roadmap/ROADMAP.md').match(/✅/g)?.length).toBe(2);
      expect(git('for-each-ref', '--format=%(refname)', 'refs/heads/orchestrator/').trim()).toBe('');
      // Here and on the remote, the integration branch is the same commit.
      expect(repo.git('rev-parse', 'main').trim()).toBe(git('rev-parse', 'main').trim());
      expect((await store.getWorkItem('P-2' as WorkItemId))?.state).toBe('done');
    } finally {
      workersStop.abort();
      await Promise.allSettled(workers);
      await writer.close();
      await store.close();
      await queue.close();
    }
  });
  it('blocks an item whose session job used up its starts (workers.maxRestarts), with the reason, apart from task failures', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Doomed' }]), { config: { workers: { enabled: true, queueSchema, maxRestarts: 2 } } });
    const remote = join(scratch, 'shared.git');
    execFileSync('git', ['clone', '-q', '--bare', repo.path, remote]);
    repo.git('remote', 'add', 'origin', remote);
    model.addScenarios([...standardRoles]);
    const connection = { connectionString: PG_TEST_URL, schema: queueSchema };
    await installQueueSchema(connection);
    const queue: QueueClient = await openQueueClient(connection);
    const workersStop = new AbortController();
    const started: string[] = [];
    // A worker that cannot reach the remote: every start of every job fails before a session runs.
    const worker = startWorker({ workerId: 'worker-cut-off', schema, queueSchema, cacheDir: join(scratch, 'cut-off'), signal: workersStop.signal, started, failWith: 'could not fetch the shared remote: connection refused' });
    const config = await loadConfig({ repoRoot: repo.path, env: sessionEnv(model), overrides: {} });
    const store = await PostgresStore.open(PG_TEST_URL, { schema });
    const writer = new MessageWriter(store);
    try {
      const supervisor = new Supervisor({ config, store, bus: new EventBus(), messages: writer, cliPath: cliPath(), untilIdle: true, signal: new AbortController().signal, pollIntervalMs: 100, workers: { queue, remoteUrl: remote, coordinatorVersion: 'test' } });
      await supervisor.prepare();
      const report = await supervisor.run();
      const [item] = report.items;
      expect(item?.state).toBe('blocked');
      expect(item?.blockedReason).toMatch(/^the architect session of P-1 was started 2 time\(s\) without finishing \(workers\.maxRestarts 2\); last: .*could not fetch the shared remote: connection refused/);
      expect(started).toEqual(['worker-cut-off:P-1:architect#1', 'worker-cut-off:P-1:architect#1']);
      // No session ran, and the architect's attempt was counted once: restarts are not task failures.
      expect(await store.listRuns()).toEqual([]);
      expect(item?.attempts.architect).toBe(1);
    } finally {
      workersStop.abort();
      await Promise.allSettled([worker]);
      await writer.close();
      await store.close();
      await queue.close();
    }
  });
});
