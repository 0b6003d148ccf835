import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { architectPrompt } from '../../src/agents/index.js';
import type { RunId } from '../../src/events/index.js';
import { newSortableId } from '../../src/lib/ids.js';
import { remoteSessionPayload, remoteSessionStep, RESTARTED_NOTE, sessionForAttempt, type SessionJob } from '../../src/orchestrator/index.js';
import { Role } from '../../src/orchestrator/role-policies.js';
import { installQueueSchema, openQueueClient, sessionJobKey, type QueueLocation } from '../../src/queue/index.js';
import { SCHEMA_VERSION } from '../../src/store/index.js';
import { runCli, startCli, waitCli, type StartedCli } from '../helpers/cli.js';
import { pgAdmin, postgresTestDatabase, PG_TEST_URL, type TestDatabase } from '../helpers/databases.js';
import { cliPath, sessionEnv, useScriptedModel } from '../helpers/model.js';
import { pipelineRepo, roadmapOf } from '../helpers/pipeline.js';
import { architectScenario } from '../helpers/role-scenarios.js';
import { roleSessionJob } from '../helpers/session-jobs.js';

const model = useScriptedModel();
const WAIT_MS = 120_000;
const BRANCH = 'orchestrator/1-remote';
const SPEC = 'docs/specs/SPEC-1-remote.md';
// The version a worker of this build runs (package.json), which the coordinator would put in the job.
const VERSION = (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

function architectJob(): SessionJob {
  return roleSessionJob(Role.architect, { prompt: architectPrompt({ number: '1', title: 'Remote', body: 'Build Remote.' }, SPEC), branch: BRANCH, paths: { specPath: SPEC } });
}

/** Waits until `text` appears in the worker's output (or it exits first). */
async function waitForOutput(worker: StartedCli, text: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  let exited = false;
  void worker.closed.then(() => (exited = true));
  while (!worker.output.stdout.includes(text) && !worker.output.stderr.includes(text)) {
    if (exited) throw new Error(`the worker exited before "${text}":\n${worker.output.stdout}\n${worker.output.stderr}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${WAIT_MS} ms:\n${worker.output.stdout}\n${worker.output.stderr}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      const wake = () => {
        clearTimeout(timer);
        worker.stdout?.off('data', wake);
        worker.stderr?.off('data', wake);
        resolve();
      };
      worker.stdout?.on('data', wake);
      worker.stderr?.on('data', wake);
      void worker.closed.then(wake);
    });
  }
}

describe('orchestrator worker', () => {
  let scratch: string;
  let db: TestDatabase;
  let queue: QueueLocation;
  let home: string;
  let workDir: string;
  let started: StartedCli[];

  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'orch-worker-cli-'));
    db = await postgresTestDatabase('worker_cli');
    queue = { connectionString: PG_TEST_URL, schema: `wq_${randomBytes(5).toString('hex')}` };
    // The worker's own HOME (its git identity, the sessions' ~/.claude) and a directory outside any repository.
    home = join(scratch, 'home');
    await mkdir(join(home, '.claude'), { recursive: true });
    await writeFile(join(home, '.gitconfig'), '[user]\n\tname = Worker\n\temail = worker@example.invalid\n[commit]\n\tgpgsign = false\n');
    workDir = join(scratch, 'anywhere');
    await mkdir(workDir);
    started = [];
  });
  afterEach(async () => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(started.map((child) => child.closed));
    await pgAdmin(`DROP SCHEMA IF EXISTS ${queue.schema} CASCADE`);
    await db[Symbol.asyncDispose]();
    await rm(scratch, { recursive: true, force: true });
  });

  const env = () => sessionEnv(model, { HOME: home, CLAUDE_BIN: cliPath() });
  const startWorker = (...extra: string[]) => {
    const child = startCli([...db.args, 'worker', '--slots', '1', '--cache-dir', join(scratch, 'clones'), '--queue-schema', queue.schema, ...extra], { cwd: workDir, env: env() });
    started.push(child);
    return child;
  };
  /** The queue's jobs, as the library keeps them. */
  const queuedJobs = async () => {
    const client = new pg.Client({ connectionString: PG_TEST_URL });
    await client.connect();
    try {
      return (await client.query<{ id: string; attempts: number; locked_by: string | null }>(`select id::text as id, attempts, locked_by from ${queue.schema}.jobs order by id`)).rows;
    } finally {
      await client.end();
    }
  };
  const bareRemote = async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Remote' }]));
    const remote = join(scratch, 'shared.git');
    execFileSync('git', ['clone', '-q', '--bare', repo.path, remote]);
    return remote;
  };

  it('refuses without PostgreSQL, and before the coordinator installed the queue, naming the fix', async () => {
    const noDb = await runCli(['worker'], { cwd: workDir, env: env() });
    expect(noDb.exitCode).toBe(2);
    expect(noDb.stderr).toContain('a worker needs the PostgreSQL database');
    expect(noDb.stderr).toContain('--db postgres://');

    const noQueue = await runCli([...db.args, 'worker', '--queue-schema', queue.schema], { cwd: workDir, env: env() });
    expect(noQueue.exitCode).toBe(1);
    expect(noQueue.stderr).toContain(`the job queue is not installed in schema "${queue.schema}"`);
    expect(noQueue.stderr).toContain('orchestrator start');
    // No worker was registered.
    const workers = await runCli([...db.args, 'workers', '--all', '--json'], { cwd: workDir, env: env() });
    expect((JSON.parse(workers.stdout) as { workers: unknown[] }).workers).toEqual([]);
  });

  it('takes a queued session, runs it in its own clone, pushes the branch, is listed; SIGTERM drains it', async () => {
    const remote = await bareRemote();
    await installQueueSchema(queue);
    model.addScenarios([architectScenario]);
    const worker = startWorker();
    await waitForOutput(worker, 'ready: 1 slot');

    const runId = newSortableId() as RunId;
    const session = architectJob();
    await using client = await openQueueClient(queue);
    const payload = remoteSessionPayload({ runId, session, remote, integrationBranch: 'main' }, { coordinatorVersion: VERSION, schemaVersion: SCHEMA_VERSION });
    const { jobId } = await client.enqueueSessionJob(payload, { jobKey: sessionJobKey(session.workItemId, remoteSessionStep(session)) });
    await waitForOutput(worker, `job ${jobId} done`);
    expect(worker.output.stdout).toContain(`job ${jobId} started: run ${runId}, P-1 architect`);
    expect(worker.output.stdout).toContain(`job ${jobId} done: run ${runId}, P-1 architect: succeeded (branch pushed)`);

    // The run is recorded in the shared store under the coordinator's id, with this worker's host.
    const store = await db.open();
    try {
      const run = await store.getRun(runId);
      expect(run).toMatchObject({ id: runId, status: 'succeeded', host: hostname(), branch: BRANCH, workItemId: 'P-1' });
      // The worker clone is under its cache dir, not in the working directory.
      expect(run?.worktree?.startsWith(join(scratch, 'clones'))).toBe(true);
    } finally {
      await store.close();
    }
    // The architect's spec reached the remote's branch.
    expect(execFileSync('git', ['show', `${BRANCH}:${SPEC}`], { cwd: remote, encoding: 'utf8' })).toContain('# SPEC 1');
    // The job is gone from the queue (completed).
    expect(await queuedJobs()).toEqual([]);

    const listed = await runCli([...db.args, 'workers', '--json'], { cwd: workDir, env: env() });
    const views = (JSON.parse(listed.stdout) as { workers: { host: string; slots: number; state: string }[] }).workers;
    expect(views).toEqual([expect.objectContaining({ host: hostname(), slots: 1, state: 'active' })]);

    worker.kill('SIGTERM');
    const result = await waitCli(worker, WAIT_MS);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('SIGTERM: draining');
    expect(result.stdout).toContain('stopped');
    const all = await runCli([...db.args, 'workers', '--all', '--json'], { cwd: workDir, env: env() });
    expect((JSON.parse(all.stdout) as { workers: { state: string }[] }).workers.map((w) => w.state)).toEqual(['stopped']);
    // Never the database URL.
    expect(`${result.stdout}${result.stderr}`).not.toContain(PG_TEST_URL);
  });

  it('SIGTERM drains while a session runs (the row says draining); a second SIGTERM stops it at once and hands the job back', async () => {
    const remote = await bareRemote();
    await installQueueSchema(queue);
    model.addScenarios([
      {
        name: 'architect-hangs',
        match: { prompt: '^ROLE: architect\\n[\\s\\S]*?to: (?<spec>\\S+)' },
        turns: [{ tools: [{ name: 'Write', input: { file_path: '{{cwd}}/{{spec}}', content: '# SPEC 1: Remote\n\nHalf done.\n' } }] }, { hang: true }],
      },
    ]);
    const worker = startWorker();
    await waitForOutput(worker, 'ready: 1 slot');
    const session = architectJob();
    const runId = newSortableId() as RunId;
    await using client = await openQueueClient(queue);
    const { jobId } = await client.enqueueSessionJob(remoteSessionPayload({ runId, session, remote, integrationBranch: 'main' }, { coordinatorVersion: VERSION, schemaVersion: SCHEMA_VERSION }), {
      jobKey: sessionJobKey(session.workItemId, remoteSessionStep(session)),
    });
    await waitForOutput(worker, `job ${jobId} started`);
    // The session is in its hanging turn: the model got the second request.
    const deadline = Date.now() + WAIT_MS;
    while (!model.requests.some((request) => request.scenario === 'architect-hangs' && request.turnIndex === 1)) {
      if (Date.now() > deadline) throw new Error(`the session never reached its second turn:\n${worker.output.stdout}\n${worker.output.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    worker.kill('SIGTERM');
    await waitForOutput(worker, 'SIGTERM: draining');
    const draining = async () => (JSON.parse((await runCli([...db.args, 'workers', '--all', '--json'], { cwd: workDir, env: env() })).stdout) as { workers: { state: string; jobs: unknown[] }[] }).workers;
    let views = await draining();
    while (views[0]?.state !== 'draining' && Date.now() < deadline) views = await draining();
    expect(views).toEqual([expect.objectContaining({ state: 'draining', jobs: [expect.anything()] })]);
    expect(worker.exitCode).toBeNull();

    worker.kill('SIGTERM');
    const result = await waitCli(worker, WAIT_MS);
    expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain('SIGTERM again: stopping running sessions now');
    expect(result.stdout).toContain(`job ${jobId} handed back: run ${runId}, P-1 architect: stopped by a second SIGTERM`);
    // What the session had written is on the remote's branch, for the worker that takes the job next.
    expect(execFileSync('git', ['show', `${BRANCH}:${SPEC}`], { cwd: remote, encoding: 'utf8' })).toBe('# SPEC 1: Remote\n\nHalf done.\n');
    // The job is back in the queue, free for another worker; the run ended stopped; the worker row is stopped.
    expect(await queuedJobs()).toEqual([{ id: jobId, attempts: 1, locked_by: null }]);
    const store = await db.open();
    try {
      expect((await store.getRun(runId))?.status).toBe('stopped');
      expect((await store.listWorkers()).map((w) => [w.state, w.jobs.length])).toEqual([['stopped', 0]]);
    } finally {
      await store.close();
    }
  });

  it('refuses a job of a coordinator of another version: not run, back in the queue, the worker drains and says why', async () => {
    const remote = await bareRemote();
    await installQueueSchema(queue);
    const worker = startWorker();
    await waitForOutput(worker, 'ready: 1 slot');

    const session = architectJob();
    await using client = await openQueueClient(queue);
    const payload = remoteSessionPayload({ runId: newSortableId() as RunId, session, remote, integrationBranch: 'main' }, { coordinatorVersion: '9.9.9', schemaVersion: SCHEMA_VERSION });
    const { jobId } = await client.enqueueSessionJob(payload, { jobKey: sessionJobKey(session.workItemId, remoteSessionStep(session)) });
    const result = await waitCli(worker, WAIT_MS);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(`job ${jobId} refused`);
    expect(result.stderr).toContain(`its coordinator runs orchestrator 9.9.9, this worker ${VERSION}`);
    expect(result.stderr).toContain('Install the same orchestrator version on every machine');
    // Not run: no session asked the model, no run recorded; the job is still queued for another worker.
    expect(model.requests).toHaveLength(0);
    const store = await db.open();
    try {
      expect(await store.listRuns()).toEqual([]);
      expect((await store.listWorkers()).map((w) => w.state)).toEqual(['stopped']);
    } finally {
      await store.close();
    }
    expect(await queuedJobs()).toEqual([{ id: jobId, attempts: 1, locked_by: null }]);
  });

  it('tells a session restarted after a lost worker (the job\'s second start) what the branch holds', async () => {
    const session = architectJob();
    expect(sessionForAttempt(session, 1)).toBe(session);
    expect(sessionForAttempt(session, 2).prompt).toBe(`${session.prompt}\n\n${RESTARTED_NOTE}`);

    const remote = await bareRemote();
    await installQueueSchema(queue);
    model.addScenarios([architectScenario]);
    const runId = newSortableId() as RunId;
    await using client = await openQueueClient(queue);
    const { jobId } = await client.enqueueSessionJob(remoteSessionPayload({ runId, session, remote, integrationBranch: 'main' }, { coordinatorVersion: VERSION, schemaVersion: SCHEMA_VERSION }), {
      jobKey: sessionJobKey(session.workItemId, remoteSessionStep(session)),
    });
    // As if a worker had taken it once and died (the queue counts every start; the coordinator handed it back).
    await pgAdmin(`update ${queue.schema}._private_jobs set attempts = 1 where id = ${Number(jobId)}`);
    const worker = startWorker();
    await waitForOutput(worker, `job ${jobId} done`);
    // A restart is a run of its own: the first start's run (orphaned by the sweep) keeps the coordinator's id.
    const started = new RegExp(`job ${jobId} started: run (\\w+), P-1 architect \\(restart 1 after a lost worker\\)`).exec(worker.output.stdout);
    expect(started?.[1]).toMatch(/^\w{26}$/);
    expect(started?.[1]).not.toBe(runId);
    const first = model.requests.find((request) => request.kind === 'turn' && request.turnIndex === 0);
    expect(JSON.stringify(first?.body?.messages ?? [])).toContain('the worker that ran it before was lost');
    worker.kill('SIGTERM');
    expect((await waitCli(worker, WAIT_MS)).exitCode).toBe(0);
  });

  it('refuses to start on a database of a newer schema, naming the fix', async () => {
    await installQueueSchema(queue);
    const store = await db.open();
    await store.close();
    // A newer build migrated this database further.
    const client = new pg.Client({ connectionString: db.args[1]! });
    await client.connect();
    try {
      await client.query(`insert into schema_migrations (version, name, applied_at) values ($1, 'from a newer build', 'now')`, [SCHEMA_VERSION + 1]);
    } finally {
      await client.end();
    }
    const result = await runCli([...db.args, 'worker', '--queue-schema', queue.schema], { cwd: workDir, env: env() });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`the database's schema is version ${SCHEMA_VERSION + 1}, newer than this orchestrator's (${SCHEMA_VERSION})`);
    expect(result.stderr).toContain('Install the orchestrator version the coordinator runs');
  });

  it('stops taking jobs when the coordinator declared it lost', async () => {
    await installQueueSchema(queue);
    await writeFile(join(workDir, 'orchestrator.config.json'), JSON.stringify({ workers: { heartbeatSeconds: 0.2, leaseSeconds: 30 } }));
    const worker = startWorker();
    await waitForOutput(worker, 'ready: 1 slot');
    const store = await db.open();
    try {
      // The coordinator's sweep with a lease of 0: every live worker is late.
      expect(await store.markLostWorkers(0)).toHaveLength(1);
    } finally {
      await store.close();
    }
    const result = await waitCli(worker, WAIT_MS);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('was marked lost');
    expect(result.stderr).toContain('stopping its sessions and taking no more jobs');
  });
});
