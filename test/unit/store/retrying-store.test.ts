import { describe, expect, it } from 'vitest';
import type { InvocationId, MessageRecord, RunId } from '../../../src/events/index.js';
import { ConnectionRetry, isConnectionError, MessageWriter, retryingStore, SqliteStore, type NewRun, type Store } from '../../../src/store/index.js';

/** What node-postgres throws when the socket goes (a code on the error, or only a message). */
const reset = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
const terminated = () => new Error('Connection terminated unexpectedly');

const newRun = (id: string): NewRun => ({ id: id as RunId, agent: 'code-developer', taskKind: 'code-developer', prompt: 'p', cwd: '/w', ownerPid: 1, host: 'h', createdAt: '2026-12-06T00:00:00.000Z' });
const record = (runId: string, seq: number): MessageRecord => ({ runId: runId as RunId, invocationId: `inv-${runId}` as InvocationId, seq, at: '2026-12-06T00:00:01.000Z', type: 'assistant', subtype: null, toolName: null, payload: { seq } });

/** A fast policy for tests: waits of a few ms. */
const fast = (extra: ConstructorParameters<typeof ConnectionRetry>[0] = {}) => new ConnectionRetry({ baseDelayMs: 1, maxDelayMs: 4, ...extra });

/**
 * The store with a fault on the next calls of `method`: `before` fails before the call reaches the database,
 * `after` runs the call (it commits) and then fails, as when the connection goes between COMMIT and its answer.
 */
function faulty(store: Store) {
  const faults = new Map<PropertyKey, ('before' | 'after')[]>();
  const proxy = new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const fault = faults.get(property)?.shift();
        if (fault === 'before') throw reset();
        const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (fault === 'after') throw terminated();
        return result;
      };
    },
  });
  return { store: proxy, fail: (method: keyof Store, ...kinds: ('before' | 'after')[]) => faults.set(method, kinds) };
}

describe('isConnectionError', () => {
  it('knows a lost or refused connection, by code, message or cause, and nothing else', () => {
    expect(isConnectionError(reset())).toBe(true);
    expect(isConnectionError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('x'), { code: '08006' }))).toBe(true);
    expect(isConnectionError(terminated())).toBe(true);
    expect(isConnectionError(new Error('wrapped', { cause: reset() }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('password authentication failed'), { code: '28P01' }))).toBe(false);
    expect(isConnectionError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isConnectionError(new Error('syntax error at or near "SELEC"'))).toBe(false);
    expect(isConnectionError('ECONNRESET')).toBe(false);
  });
});

describe('ConnectionRetry', () => {
  it('retries connection failures until the call succeeds, reporting the outage once and its end once', async () => {
    const outages: unknown[] = [];
    const recoveries: number[] = [];
    const retry = fast({ onOutage: (error) => outages.push(error), onRecovered: (ms) => recoveries.push(ms) });
    let calls = 0;
    const value = await retry.run(async () => {
      calls++;
      if (calls < 4) throw reset();
      return 'written';
    });
    expect(value).toBe('written');
    expect(calls).toBe(4);
    expect(outages).toHaveLength(1);
    expect(recoveries).toHaveLength(1);
    expect(retry.inOutage).toBe(false);
  });

  it('throws any other failure at once', async () => {
    let calls = 0;
    const failing = fast().run(async () => {
      calls++;
      throw new Error('null value in column "agent"');
    });
    await expect(failing).rejects.toThrow('null value');
    expect(calls).toBe(1);
  });

  it('gives up after its total retry time, with the last connection error', async () => {
    let calls = 0;
    const retry = fast({ maxRetryMs: 30 });
    await expect(
      retry.run(async () => {
        calls++;
        throw reset();
      }),
    ).rejects.toThrow('ECONNRESET');
    expect(calls).toBeGreaterThan(1);
    expect(retry.inOutage).toBe(true);
  });

  it('stops retrying when its signal aborts', async () => {
    const controller = new AbortController();
    const retry = fast({ signal: controller.signal, baseDelayMs: 10_000, maxDelayMs: 10_000 });
    const pending = retry.run(async () => {
      throw reset();
    });
    controller.abort();
    await expect(pending).rejects.toThrow('ECONNRESET');
  });
});

describe('retryingStore', () => {
  it('writes through failures before and after the commit, without failing on or duplicating what committed', async () => {
    const sqlite = SqliteStore.open(':memory:');
    try {
      const { store: broken, fail } = faulty(sqlite);
      const store = retryingStore(broken, fast());

      fail('createRun', 'before', 'after');
      expect(await store.createRun(newRun('01run'))).toMatchObject({ id: '01run', status: 'queued' });
      expect(await sqlite.countRuns()).toBe(1);

      fail('createInvocation', 'after');
      const invocation = await store.createInvocation({ id: 'inv-01run' as InvocationId, runId: '01run' as RunId, prompt: 'p', systemPrompt: null, model: null, resumeSessionId: null, startedAt: '2026-12-06T00:00:00.500Z' });
      expect(invocation.id).toBe('inv-01run');
      expect(await sqlite.listInvocations('01run' as RunId)).toHaveLength(1);

      fail('appendMessages', 'after');
      await store.appendMessages([record('01run', 1), record('01run', 2)]);
      expect((await sqlite.listMessages({ runId: '01run' as RunId })).map((message) => message.seq)).toEqual([1, 2]);

      fail('finishRun', 'before', 'before');
      await store.finishRun('01run' as RunId, { status: 'succeeded', endedAt: '2026-12-06T00:00:02.000Z' });
      expect((await sqlite.getRun('01run' as RunId))?.status).toBe('succeeded');

      // A genuine duplicate (no lost attempt before it) still fails.
      await expect(store.createRun(newRun('01run'))).rejects.toThrow();
    } finally {
      await sqlite.close();
    }
  });

  it('keeps a MessageWriter over it writing in order through an outage', async () => {
    const sqlite = SqliteStore.open(':memory:');
    try {
      await sqlite.createRun(newRun('01w'));
      const { store: broken, fail } = faulty(sqlite);
      const writer = new MessageWriter(retryingStore(broken, fast()), { maxBatch: 2, flushIntervalMs: 1 });
      fail('appendMessages', 'before', 'before', 'after', 'before');
      for (let seq = 1; seq <= 7; seq++) writer.write(record('01w', seq));
      await writer.flush();
      expect((await sqlite.listMessages({ runId: '01w' as RunId })).map((message) => message.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(writer.dropped).toBe(0);
      await writer.close();
    } finally {
      await sqlite.close();
    }
  });
});
