import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type Socket } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JsonObject, RunId, WorkItemId } from '../../src/events/index.js';
import { newSortableId } from '../../src/lib/ids.js';
import { remoteSessionPayload, remoteSessionStep, type SessionJob } from '../../src/orchestrator/index.js';
import { Role } from '../../src/orchestrator/role-policies.js';
import { installQueueSchema, openQueueClient, sessionJobKey, type QueueLocation } from '../../src/queue/index.js';
import { SCHEMA_VERSION, type Store } from '../../src/store/index.js';
import type { ScenarioInput } from '../../src/scripted-model/index.js';
import { runCli, startCli, type StartedCli } from '../helpers/cli.js';
import { pgAdmin, postgresTestDatabase, PG_TEST_URL, type TestDatabase } from '../helpers/databases.js';
import { cliPath, sessionEnv, useScriptedModel } from '../helpers/model.js';
import { pipelineRepo, roadmapOf } from '../helpers/pipeline.js';
import { roleSessionJob } from '../helpers/session-jobs.js';

const model = useScriptedModel();
const WAIT_MS = 180_000;
const VERSION = (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

/**
 * How long the model takes before the first answer given while the database is cut, and before the last one: the
 * session goes on through the cut for at least this long twice, so its messages, its result and its final writes
 * are made while the worker cannot reach the database (the test does not depend on exactly when).
 */
const MODEL_PAUSE_MS = 2_500;
/** The Bash calls the session makes while the database is cut (each one a model turn: assistant, tool result). */
const TURNS_DURING_CUT = 4;

/** A developer session of several turns: one before the cut, TURNS_DURING_CUT during it, then the final text. */
const longSession: ScenarioInput = {
  name: 'long-session',
  match: { prompt: 'DBLOSS-LONG' },
  turns: [
    { tools: [{ name: 'Bash', input: { command: 'echo before-cut', description: 'say before' } }] },
    ...Array.from({ length: TURNS_DURING_CUT }, (_, index) => ({
      ...(index === 0 ? { delayMs: MODEL_PAUSE_MS } : {}),
      tools: [{ name: 'Bash', input: { command: `echo during-cut-${index + 1}`, description: `say ${index + 1}` } }],
    })),
    { delayMs: MODEL_PAUSE_MS, text: 'DBLOSS-LONG DONE' },
  ],
};
const shortSession: ScenarioInput = { name: 'short-session', match: { prompt: 'DBLOSS-SHORT' }, turns: [{ text: 'DBLOSS-SHORT DONE' }] };

/**
 * A TCP proxy to PostgreSQL that can be cut as a lost network link is seen by the worker: `cut()` destroys every
 * connection through it and refuses new ones (accepted, then destroyed at once), until `restore()`.
 */
async function cuttableProxy(target: { host: string; port: number }) {
  let isCut = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    client.on('error', () => undefined);
    if (isCut) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    upstream.on('error', () => undefined);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    cut() {
      isCut = true;
      for (const socket of sockets) socket.destroy();
    },
    restore() {
      isCut = false;
    },
    async close() {
      isCut = true;
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Waits until `text` is in the worker's output (stdout or stderr), failing if it exits first. */
async function waitForOutput(worker: StartedCli, text: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  let exited = false;
  void worker.closed.then(() => (exited = true));
  while (!worker.output.stdout.includes(text) && !worker.output.stderr.includes(text)) {
    if (exited) throw new Error(`the worker exited before "${text}":\n${worker.output.stdout}\n${worker.output.stderr}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${WAIT_MS} ms:\n${worker.output.stdout}\n${worker.output.stderr}`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      const wake = () => {
        clearTimeout(timer);
        worker.stdout?.off('data', wake);
        worker.stderr?.off('data', wake);
        resolve();
      };
      worker.stdout?.on('data', wake);
      worker.stderr?.on('data', wake);
    });
  }
}

/** Checks `condition` after each short pause until it holds (conditions in the database, which nothing announces to the test). */
async function until<T>(what: string, read: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await read();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`not within ${WAIT_MS} ms: ${what}`);
    await sleep(200);
  }
}

const count = (text: string, part: string) => text.split(part).length - 1;

describe('a worker that loses the database', () => {
  let scratch: string;
  let db: TestDatabase;
  let queue: QueueLocation;
  let home: string;
  let workDir: string;
  let worker: StartedCli | null;
  let proxy: Awaited<ReturnType<typeof cuttableProxy>>;
  let store: Store;

  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'orch-db-loss-'));
    db = await postgresTestDatabase('db_loss');
    queue = { connectionString: PG_TEST_URL, schema: `wq_${randomBytes(5).toString('hex')}` };
    home = join(scratch, 'home');
    await mkdir(join(home, '.claude'), { recursive: true });
    await writeFile(join(home, '.gitconfig'), '[user]\n\tname = Worker\n\temail = worker@example.invalid\n[commit]\n\tgpgsign = false\n');
    workDir = join(scratch, 'anywhere');
    await mkdir(workDir);
    // A short heartbeat, so that its failures and its return are seen within the cut; the lease stays long (no
    // coordinator sweeps here: the worker must not be declared lost meanwhile).
    await writeFile(join(workDir, 'orchestrator.config.json'), JSON.stringify({ workers: { heartbeatSeconds: 0.5, leaseSeconds: 60 } }));
    const target = new URL(PG_TEST_URL);
    proxy = await cuttableProxy({ host: target.hostname, port: Number(target.port || 5432) });
    store = await db.open();
    worker = null;
  });
  afterEach(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    await worker?.closed;
    await store.close();
    await proxy.close();
    await pgAdmin(`DROP SCHEMA IF EXISTS ${queue.schema} CASCADE`);
    await db[Symbol.asyncDispose]();
    await rm(scratch, { recursive: true, force: true });
  });

  it('keeps its session going, loses no message, takes no job while cut, and is back (heartbeat, jobs) after', async () => {
    await installQueueSchema(queue);
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Long' }, { number: '2', title: 'Short' }]));
    const remote = join(scratch, 'shared.git');
    execFileSync('git', ['clone', '-q', '--bare', repo.path, remote]);
    model.addScenarios([longSession, shortSession]);

    // Only the worker goes through the proxy; this test (the coordinator's side) talks to PostgreSQL directly.
    const viaProxy = db.args[1]!.replace(PG_TEST_URL, PG_TEST_URL.replace(/@[^/]+\//, `@127.0.0.1:${proxy.port}/`));
    expect(viaProxy).toContain(`:${proxy.port}/`);
    worker = startCli(['--db', viaProxy, 'worker', '--slots', '2', '--cache-dir', join(scratch, 'clones'), '--queue-schema', queue.schema], {
      cwd: workDir,
      env: sessionEnv(model, { HOME: home, CLAUDE_BIN: cliPath() }),
    });
    await waitForOutput(worker, 'ready: 2 slots');
    const [me] = await store.listWorkers();
    expect(me).toBeDefined();
    const workerId = me!.id;

    await using client = await openQueueClient(queue);
    const enqueue = async (number: string, prompt: string) => {
      const runId = newSortableId() as RunId;
      const session: SessionJob = { ...roleSessionJob(Role.codeDeveloper, { prompt, branch: `orchestrator/${number}-db-loss` }), workItemId: `P-${number}` as WorkItemId };
      const payload = remoteSessionPayload({ runId, session, remote, integrationBranch: 'main' }, { coordinatorVersion: VERSION, schemaVersion: SCHEMA_VERSION });
      const { jobId } = await client.enqueueSessionJob(payload, { jobKey: sessionJobKey(session.workItemId, remoteSessionStep(session)) });
      return { runId, jobId };
    };

    const long = await enqueue('1', 'DBLOSS-LONG: say things, several turns.');
    // The session has begun and its first turn is recorded: the model was asked for the second one, which it holds
    // MODEL_PAUSE_MS before answering. Cut now: everything from that answer on is made while the database is away.
    await model.waitForRequest((request) => request.scenario === 'long-session' && request.turnIndex === 1);
    await until('the first turn recorded', async () => (await store.listMessages({ runId: long.runId, limit: 1000 })).some((message) => message.type === 'user'));
    const cutAt = await store.databaseNow();
    proxy.cut();

    // A job queued while the worker cannot reach the database (it has a free slot) ...
    const short = await enqueue('2', 'DBLOSS-SHORT: answer once.');
    // ... the session goes on meanwhile: the model is asked for every later turn, the last one included.
    await model.waitForRequest((request) => request.scenario === 'long-session' && request.turnIndex === TURNS_DURING_CUT + 1);
    await waitForOutput(worker, 'the database is out of reach');
    await waitForOutput(worker, 'heartbeat failed');
    // The last answer comes MODEL_PAUSE_MS after its request; keep the cut past it, so the session's result and its
    // final writes are (most likely) made while the database is away too.
    await sleep(MODEL_PAUSE_MS * 2);
    // ... is not taken while the database is away.
    expect(await client.jobState(short.jobId)).toMatchObject({ state: 'waiting', attempts: 0 });
    expect(worker.output.stdout).not.toContain(`job ${short.jobId} started`);
    expect(model.requests.some((request) => request.scenario === 'short-session')).toBe(false);
    const restoredAt = await store.databaseNow();
    proxy.restore();

    // The long session ends succeeded, its job completed once.
    await waitForOutput(worker, `job ${long.jobId} done`);
    expect(worker.output.stdout).toContain(`job ${long.jobId} done: run ${long.runId}, P-1 code-developer: succeeded`);
    expect(count(worker.output.stdout, `job ${long.jobId} started`)).toBe(1);
    expect(count(worker.output.stdout, `job ${long.jobId} done`)).toBe(1);
    expect(worker.output.stdout).not.toContain(`job ${long.jobId} handed back`);
    // The library records the completion just after the handler returns.
    await until('the long job completed', async () => (await client.jobState(long.jobId)).state === 'done');
    const run = await store.getRun(long.runId);
    expect(run).toMatchObject({ status: 'succeeded', host: hostname(), workItemId: 'P-1' });
    const invocations = await store.listInvocations(long.runId);
    expect(invocations).toHaveLength(1);
    expect(invocations[0]).toMatchObject({ status: 'succeeded', resultText: 'DBLOSS-LONG DONE', numTurns: TURNS_DURING_CUT + 2 });

    // Every message the CLI streamed is there once, in order, with no gap: system init first, the result last.
    const messages = await store.listMessages({ invocationId: invocations[0]!.id, limit: 10_000 });
    expect(messages.map((message) => message.seq)).toEqual(Array.from({ length: messages.length }, (_, index) => index + 1));
    expect(messages[0]).toMatchObject({ type: 'system', subtype: 'init' });
    expect(messages.at(-1)).toMatchObject({ type: 'result', subtype: 'success' });
    expect((messages.at(-1)!.payload as { num_turns?: number }).num_turns).toBe(TURNS_DURING_CUT + 2);
    // Each Bash call and its output: the one before the cut and every one made during it.
    const toolUses = messages.flatMap((message) => contentOf(message.payload).filter((block) => block.type === 'tool_use'));
    const toolResults = messages.flatMap((message) => contentOf(message.payload).filter((block) => block.type === 'tool_result'));
    expect(toolUses).toHaveLength(TURNS_DURING_CUT + 1);
    expect(toolResults.map((block) => block.tool_use_id)).toEqual(toolUses.map((block) => block.id));
    const outputs = JSON.stringify(toolResults);
    for (const word of ['before-cut', ...Array.from({ length: TURNS_DURING_CUT }, (_, index) => `during-cut-${index + 1}`)]) expect(outputs).toContain(word);
    expect(messages.filter((message) => message.type === 'assistant' && JSON.stringify(message.payload).includes('DBLOSS-LONG DONE'))).toHaveLength(1);
    // Nothing was dropped, so nothing is reported as dropped.
    expect((await store.listEvents({ runId: long.runId })).map((event) => event.kind)).not.toContain('run.messages_dropped');

    // The job queued during the cut runs after it, on this worker.
    await waitForOutput(worker, `job ${short.jobId} done`);
    expect(worker.output.stdout).toContain(`job ${short.jobId} done: run ${short.runId}, P-2 code-developer: succeeded`);

    // The worker is still registered and heartbeating (a beat after the restore, by the database's clock).
    await until('a heartbeat after the restore', async () => {
      const row = await store.getWorker(workerId);
      return row !== null && row.state === 'active' && row.lastHeartbeatAt > restoredAt;
    });

    // Each run names its worker; `ps` and `show` print it next to the host.
    const workers = await store.runWorkers([long.runId, short.runId]);
    expect(workers.get(long.runId)).toEqual({ runId: long.runId, workerId, host: hostname() });
    expect(workers.get(short.runId)).toMatchObject({ workerId });
    const ps = await runCli([...db.args, 'ps'], { cwd: workDir, env: sessionEnv(model, { HOME: home }) });
    expect(ps.stdout).toContain(`${hostname()} (worker ${workerId.slice(0, 12)})`);
    const show = await runCli([...db.args, 'show', long.runId], { cwd: workDir, env: sessionEnv(model, { HOME: home }) });
    expect(show.stdout).toContain(`on ${hostname()} (worker ${workerId.slice(0, 12)})`);
    await waitForOutput(worker, 'heartbeat back after');
    // Figures for docs/architecture.md (not assertions: this machine is shared and busy).
    const madeDuringCut = messages.filter((message) => message.at > cutAt && message.at < restoredAt).length;
    const shortRun = await store.getRun(short.runId);
    process.stderr.write(
      `db-loss figures: cut ${(Date.parse(restoredAt) - Date.parse(cutAt)) / 1000} s; ${messages.length} messages, ${madeDuringCut} made during the cut; ` +
        `the session's result came ${messages.at(-1)!.at < restoredAt ? 'during' : 'after'} the cut; the job queued during the cut was taken ${(Date.parse(shortRun!.createdAt) - Date.parse(restoredAt)) / 1000} s after the restore\n`,
    );
    // Never the database URL.
    expect(`${worker.output.stdout}${worker.output.stderr}`).not.toContain(PG_TEST_URL);
  });
});

/** The content blocks of an assistant or user stream message. */
function contentOf(payload: JsonObject): { type?: string; id?: string; tool_use_id?: string }[] {
  const message = payload.message as { content?: unknown } | undefined;
  return Array.isArray(message?.content) ? (message.content as { type?: string; id?: string; tool_use_id?: string }[]) : [];
}
