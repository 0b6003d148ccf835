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
});
