import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreFeed } from '../../src/dashboard/index.js';
import { EventBus, type InvocationId, type MessageRecord, type RunId } from '../../src/events/index.js';
import { StoppedError, type StoreError } from '../../src/lib/errors.js';
import { STOP_SEEN_EVENT, registerLocalSession } from '../../src/orchestrator/local-stops.js';
import { PostgresChangeListener, PostgresStore, type StoreChange } from '../../src/store/index.js';
import { PG_TEST_URL, pgAdmin } from '../helpers/databases.js';

/**
 * Changes committed by one process reach another through PostgreSQL's LISTEN/NOTIFY (migration 6's triggers and
 * the store's change listener): a dashboard's StoreFeed, a session owner's stop. Every feed here polls once an
 * hour, so a poll cannot be what delivered anything; waits end on the events themselves (the test's timeout is the
 * only clock).
 */

const HOUR_MS = 3_600_000;
const root = join(import.meta.dirname, '..', '..');
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freshSchema(prefix = 'orch_notify'): Promise<string> {
  const schema = `${prefix}_${randomBytes(5).toString('hex')}`;
  await pgAdmin(`CREATE SCHEMA ${schema}`);
  cleanups.push(() => pgAdmin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
  return schema;
}

async function openStore(schema: string): Promise<PostgresStore> {
  const store = await PostgresStore.open(PG_TEST_URL, { schema, max: 2 });
  cleanups.push(() => store.close());
  return store;
}

const at = () => new Date().toISOString();

async function startRun(store: PostgresStore, runId: string, invocationId: string): Promise<void> {
  await store.createRun({ id: runId as RunId, agent: 'code-developer', taskKind: 'implement', prompt: 'p', cwd: '/w', ownerPid: process.pid, host: 'test-host', createdAt: at() });
  await store.markRunRunning(runId as RunId, { pid: process.pid, startedAt: at() });
  await store.createInvocation({ id: invocationId as InvocationId, runId: runId as RunId, prompt: 'p', systemPrompt: null, model: null, resumeSessionId: null, startedAt: at() });
}

const message = (runId: string, invocationId: string, seq: number, text: string): MessageRecord => ({
  runId: runId as RunId,
  invocationId: invocationId as InvocationId,
  seq,
  at: at(),
  type: 'assistant',
  subtype: null,
  toolName: null,
  payload: { type: 'assistant', message: { id: `m${seq}`, content: [{ type: 'text', text }] } },
});

/** Resolves with the first bus message of `runId` numbered `seq`. */
function nextMessage(bus: EventBus, runId: string, seq: number): Promise<MessageRecord> {
  return new Promise((resolve) => {
    const off = bus.on('run.message', (record) => {
      if (record.runId !== runId || record.seq !== seq) return;
      off();
      resolve(record);
    });
  });
}

/** Subscribes and resolves once listening is active (the first onResync); keeps every change heard. */
async function listening(notifier: { subscribe: PostgresChangeListener['subscribe'] }): Promise<{ changes: StoreChange[]; heard: (predicate: (change: StoreChange) => boolean) => Promise<StoreChange> }> {
  const changes: StoreChange[] = [];
  const waiters: { predicate: (change: StoreChange) => boolean; resolve: (change: StoreChange) => void }[] = [];
  const subscription = new AbortController();
  cleanups.push(async () => subscription.abort());
  await new Promise<void>((ready) => {
    notifier.subscribe(
      {
        onChange: (change) => {
          changes.push(change);
          for (const waiter of [...waiters]) {
            if (!waiter.predicate(change)) continue;
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(change);
          }
        },
        onResync: () => ready(),
      },
      { signal: subscription.signal },
    );
  });
  return {
    changes,
    heard: (predicate) => {
      const earlier = changes.find(predicate);
      return earlier ? Promise.resolve(earlier) : new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
  };
}

/** Writes a run and one message from a separate node process, through the built store (dist/store). */
async function writeFromChildProcess(schema: string, runId: string, invocationId: string, text: string): Promise<void> {
  const script = `
    const { PostgresStore } = await import(${JSON.stringify(join(root, 'dist', 'store', 'index.js'))});
    const [url, schema, runId, invocationId, text] = process.argv.slice(1);
    const store = await PostgresStore.open(url, { schema, max: 1 });
    const at = new Date().toISOString();
    await store.createRun({ id: runId, agent: 'code-developer', taskKind: 'implement', prompt: 'p', cwd: '/w', ownerPid: process.pid, host: 'other-host', createdAt: at });
    await store.markRunRunning(runId, { pid: process.pid, startedAt: at });
    await store.createInvocation({ id: invocationId, runId, prompt: 'p', systemPrompt: null, model: null, resumeSessionId: null, startedAt: at });
    await store.appendMessages([{ runId, invocationId, seq: 1, at, type: 'assistant', subtype: null, toolName: null, payload: { type: 'assistant', message: { id: 'm1', content: [{ type: 'text', text }] } } }]);
    await store.close();
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, PG_TEST_URL, schema, runId, invocationId, text], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`the writing process exited ${code}: ${stderr}`);
}

describe('PostgreSQL change notifications (LISTEN/NOTIFY)', () => {
  it('shows a message written by another process in a StoreFeed, without a poll', async () => {
    const schema = await freshSchema();
    const store = await openStore(schema);
    const bus = new EventBus();
    const feed = new StoreFeed(store, bus, { intervalMs: HOUR_MS });
    expect(feed.notified).toBe(true);
    await feed.start((error) => {
      throw error;
    });
    cleanups.push(() => feed.stop());
    // Listening is active, and the feed's own first round (on that resync) is over: only a notification reads next.
    await listening(store.changes);
    await feed.poll();
    const arrived = nextMessage(bus, 'run-other-process', 1);
    const queued = new Promise<RunId>((resolve) => bus.on('run.queued', (event) => resolve(event.runId)));

    await writeFromChildProcess(schema, 'run-other-process', 'inv-other-process', 'written on another machine');

    const record = await arrived;
    expect(record.payload).toMatchObject({ message: { content: [{ text: 'written on another machine' }] } });
    expect(await queued).toBe('run-other-process');
    expect(store.changes.connections).toBe(1);
  });

  it('reconnects after its connection is killed and re-reads what was written meanwhile', async () => {
    const schema = await freshSchema();
    const reader = await openStore(schema);
    const writer = await openStore(schema);
    await startRun(writer, 'run-reconnect', 'inv-reconnect');
    const errors: StoreError[] = [];
    let whileDown: (() => Promise<void>) | null = null;
    const stopListener = new AbortController();
    const listener = new PostgresChangeListener({
      connectionString: PG_TEST_URL,
      schema,
      signal: stopListener.signal,
      onError: (error) => errors.push(error),
      // A reconnect waits until the test has written while nothing listened.
      wait: async () => {
        const write = whileDown;
        whileDown = null;
        await write?.();
      },
    });
    cleanups.push(async () => {
      stopListener.abort();
      await listener.closed;
    });
    const bus = new EventBus();
    const feed = new StoreFeed(reader, bus, { changes: listener, intervalMs: HOUR_MS });
    await feed.start((error) => {
      throw error;
    });
    cleanups.push(() => feed.stop());
    await listening(listener);

    const first = nextMessage(bus, 'run-reconnect', 1);
    await writer.appendMessages([message('run-reconnect', 'inv-reconnect', 1, 'before the cut')]);
    await first;

    let wroteWhileDown!: () => void;
    const written = new Promise<void>((resolve) => (wroteWhileDown = resolve));
    whileDown = async () => {
      await writer.appendMessages([message('run-reconnect', 'inv-reconnect', 2, 'while nobody listened')]);
      wroteWhileDown();
    };
    const missed = nextMessage(bus, 'run-reconnect', 2);
    const pid = listener.backendPid;
    expect(pid).not.toBeNull();
    await pgAdmin(`SELECT pg_terminate_backend(${pid})`);
    await written;
    expect((await missed).payload).toMatchObject({ message: { content: [{ text: 'while nobody listened' }] } });
    expect(listener.connections).toBe(2);
    expect(listener.backendPid).not.toBe(pid);
    expect(errors.map((error) => error.message).join('\n')).toMatch(/lost the connection that listens for changes/);

    // Listening again: the next message comes by notification.
    const after = nextMessage(bus, 'run-reconnect', 3);
    await writer.appendMessages([message('run-reconnect', 'inv-reconnect', 3, 'after the reconnect')]);
    expect((await after).payload).toMatchObject({ message: { content: [{ text: 'after the reconnect' }] } });
  });

  it("aborts a registered local session's signal when another connection requests a stop", async () => {
    const schema = await freshSchema();
    const owner = await openStore(schema);
    const requester = await openStore(schema);
    await startRun(owner, 'run-to-stop', 'inv-to-stop');
    await listening(owner.changes);
    const requesterHears = await listening(requester.changes);
    // No safety-net poll within the test: only the notification (or the resync at subscribing) can tell the owner.
    const session = registerLocalSession(owner, 'run-to-stop' as RunId, { pollMs: HOUR_MS });
    cleanups.push(async () => session.unregister());
    expect(session.signal.aborted).toBe(false);
    const aborted = new Promise<unknown>((resolve) => session.signal.addEventListener('abort', () => resolve(session.signal.reason), { once: true }));

    await requester.requestRunStop('run-to-stop' as RunId, at());

    expect(await aborted).toBeInstanceOf(StoppedError);
    // The owner tells the requester it is on it (stop-run.ts waits for this), which the requester hears too.
    const seen = await requesterHears.heard((change) => change.kind === 'event' && change.eventKind === STOP_SEEN_EVENT);
    expect(seen).toMatchObject({ kind: 'event', runId: 'run-to-stop' });
    expect(requesterHears.changes).toContainEqual({ kind: 'stop', runId: 'run-to-stop' });
  });

  it('keeps the notifications of two schemas apart (one with a name long enough to be hashed)', async () => {
    const schemaA = await freshSchema();
    const schemaB = await freshSchema('orch_notify_a_schema_name_longer_than_forty_bytes');
    const [storeA, storeB] = [await openStore(schemaA), await openStore(schemaB)];
    const [heardA, heardB] = [await listening(storeA.changes), await listening(storeB.changes)];
    const run = (store: PostgresStore, id: string) => store.createRun({ id: id as RunId, agent: 'a', taskKind: 't', prompt: 'p', cwd: '/w', ownerPid: 1, host: 'h', createdAt: at() });

    // Commit order is delivery order: by the time each listener hears its second run it has passed the other's.
    await run(storeA, 'a-1');
    await run(storeB, 'b-1');
    await run(storeA, 'a-2');
    await run(storeB, 'b-2');
    await heardA.heard((change) => change.kind === 'run' && change.runId === 'a-2');
    await heardB.heard((change) => change.kind === 'run' && change.runId === 'b-2');

    const runIds = (changes: StoreChange[]) => changes.flatMap((change) => ('runId' in change && change.runId ? [change.runId] : []));
    expect(runIds(heardA.changes)).toEqual(['a-1', 'a-2']);
    expect(runIds(heardB.changes)).toEqual(['b-1', 'b-2']);
  });

  it('keeps trying with growing backoff while the database cannot be reached, and stops when told', async () => {
    const errors: StoreError[] = [];
    const delays: number[] = [];
    const stop = new AbortController();
    let fifth!: () => void;
    const fiveAttempts = new Promise<void>((resolve) => (fifth = resolve));
    const listener = new PostgresChangeListener({
      // Nothing listens on port 1: every attempt is refused at once.
      connectionString: 'postgres://postgres@127.0.0.1:1/test',
      signal: stop.signal,
      initialBackoffMs: 100,
      maxBackoffMs: 400,
      onError: (error) => errors.push(error),
      wait: async (ms) => {
        delays.push(ms);
        if (delays.length === 5) fifth();
      },
    });
    const resynced: number[] = [];
    listener.subscribe({ onChange: () => undefined, onResync: () => resynced.push(1) }, { signal: stop.signal });
    await fiveAttempts;
    stop.abort();
    await listener.closed;
    expect(listener.state).toBe('stopped');
    expect(resynced).toEqual([]);
    expect(errors[0]?.message).toMatch(/^cannot listen for changes: /);
    expect(errors[0]?.hint).toMatch(/transaction-mode pooler/);
    // Equal jitter over a doubling delay, capped: each wait within [delay / 2, delay].
    expect(delays[0]).toBeGreaterThanOrEqual(100);
    expect(delays[0]).toBeLessThanOrEqual(200);
    expect(delays[1]).toBeGreaterThanOrEqual(200);
    for (const delay of delays) expect(delay).toBeLessThanOrEqual(400);
  });
});
