import { describe, expect, it } from 'vitest';
import type { InvocationId, MessageRecord, RunId } from '../../../src/events/index.js';
import { MessageWriter } from '../../../src/store/index.js';

const record = (runId: string, seq: number): MessageRecord => ({ runId: runId as RunId, invocationId: `i-${runId}` as InvocationId, seq, at: 't', type: 'assistant', subtype: null, toolName: null, payload: { seq } });

/** A store that refuses every write while `down`. */
function switchableStore() {
  const written: string[] = [];
  const state = { down: true };
  return {
    state,
    written,
    async appendMessages(records: readonly MessageRecord[]) {
      if (state.down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      written.push(...records.map((r) => `${r.runId}:${r.seq}`));
    },
  };
}

describe('MessageWriter while the database is away', () => {
  it('keeps up to its buffer, counts what overflows per run, and reports the counts once writes succeed again', async () => {
    const store = switchableStore();
    const overflows: number[] = [];
    const reports: Map<RunId, number>[] = [];
    const writer = new MessageWriter(store, {
      maxBatch: 100,
      flushIntervalMs: 60_000,
      retryBaseMs: 60_000,
      maxBuffered: 3,
      onOverflow: (dropped) => overflows.push(dropped),
      onDropsEnded: (dropped) => reports.push(new Map(dropped)),
    });
    writer.write(record('a', 1));
    writer.write(record('b', 1));
    await expect(writer.flush()).rejects.toThrow('ECONNREFUSED');
    writer.write(record('a', 2));
    // The buffer holds 3: these are dropped and counted, per run.
    writer.write(record('a', 3));
    writer.write(record('b', 2));
    writer.write(record('a', 4));
    expect(writer.dropped).toBe(3);
    expect(overflows).toEqual([1]);
    expect(reports).toEqual([]);

    store.state.down = false;
    await writer.flush();
    expect(store.written).toEqual(['a:1', 'b:1', 'a:2']);
    expect(reports).toEqual([
      new Map([
        ['a', 2],
        ['b', 1],
      ]),
    ]);
    // Reported once: a later successful write reports nothing more.
    writer.write(record('a', 5));
    await writer.flush();
    expect(reports).toHaveLength(1);
    await writer.close();
  });
});
