import { describe, expect, it } from 'vitest';
import type { InvocationId, MessageRecord, RunId } from '../../../src/events/index.js';
import { MessageWriter } from '../../../src/store/index.js';

const record = (seq: number): MessageRecord => ({ runId: 'r' as RunId, invocationId: 'i' as InvocationId, seq, at: 't', type: 'assistant', subtype: null, toolName: null, payload: { seq } });

function recordingStore(failTimes = 0) {
  const batches: number[][] = [];
  let failures = failTimes;
  return {
    batches,
    async appendMessages(records: readonly MessageRecord[]) {
      if (failures > 0) {
        failures -= 1;
        throw new Error('disk full');
      }
      batches.push(records.map((r) => r.seq));
    },
  };
}

describe('MessageWriter', () => {
  it('writes full batches as they fill and the rest on flush, in order', async () => {
    const store = recordingStore();
    const writer = new MessageWriter(store, { maxBatch: 4, flushIntervalMs: 10_000 });
    for (let seq = 1; seq <= 10; seq++) writer.write(record(seq));
    await writer.flush();
    expect(store.batches).toEqual([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]);
    expect(writer.written).toBe(10);
    expect(writer.pending).toBe(0);
  });

  it('flushes on its interval without being asked', async () => {
    const store = recordingStore();
    const writer = new MessageWriter(store, { maxBatch: 100, flushIntervalMs: 5 });
    writer.write(record(1));
    writer.write(record(2));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(store.batches).toEqual([[1, 2]]);
    await writer.close();
  });

  it('keeps records whose write failed and writes them, in order, on the next flush', async () => {
    const store = recordingStore(1);
    const errors: unknown[] = [];
    const writer = new MessageWriter(store, { maxBatch: 100, flushIntervalMs: 10_000, onError: (error) => errors.push(error) });
    writer.write(record(1));
    await expect(writer.flush()).rejects.toThrow('disk full');
    writer.write(record(2));
    await writer.flush();
    expect(store.batches).toEqual([[1, 2]]);
    expect(errors).toHaveLength(1);
  });

  it('close flushes and refuses later writes', async () => {
    const store = recordingStore();
    const writer = new MessageWriter(store);
    writer.write(record(1));
    await writer.close();
    expect(store.batches).toEqual([[1]]);
    expect(() => writer.write(record(2))).toThrow('closed');
  });
  it('tries a failed write again with backoff, without waiting for a new record, and keeps the order', async () => {
    const store = recordingStore(2);
    const errors: unknown[] = [];
    const writer = new MessageWriter(store, { maxBatch: 100, flushIntervalMs: 10_000, retryBaseMs: 5, retryMaxMs: 20, onError: (error) => errors.push(error) });
    writer.write(record(1));
    writer.write(record(2));
    await expect(writer.flush()).rejects.toThrow('disk full');
    for (let i = 0; i < 200 && store.batches.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(store.batches).toEqual([[1, 2]]);
    expect(errors).toHaveLength(2);
    expect(writer.pending).toBe(0);
    await writer.close();
  });

  it('keeps up to maxBuffered records while the database is out of reach, counts what overflows (said once), and writes the rest when it is back', async () => {
    let down = true;
    const batches: number[][] = [];
    const store = {
      async appendMessages(records: readonly MessageRecord[]) {
        if (down) throw new Error('connection terminated');
        batches.push(records.map((r) => r.seq));
      },
    };
    const overflows: number[] = [];
    const writer = new MessageWriter(store, { maxBatch: 100, flushIntervalMs: 1, maxBuffered: 5, retryBaseMs: 5, retryMaxMs: 10, onOverflow: (dropped) => overflows.push(dropped) });
    for (let seq = 1; seq <= 8; seq++) writer.write(record(seq));
    expect(writer.pending).toBe(5);
    expect(writer.dropped).toBe(3);
    expect(overflows).toEqual([1]);
    down = false;
    for (let i = 0; i < 200 && batches.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(batches).toEqual([[1, 2, 3, 4, 5]]);
    expect(writer.written).toBe(5);
    await writer.close();
  });
});
