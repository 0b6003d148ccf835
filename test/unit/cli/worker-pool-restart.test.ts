import { describe, expect, it } from 'vitest';
import { restartOnLostDatabase } from '../../../src/cli/commands/worker.js';
import { QueueSchemaMismatchError, QueueUnreachableError, QueueWorkerStoppedError } from '../../../src/queue/index.js';

const lost = () => new QueueUnreachableError('Connection terminated unexpectedly');

describe("the worker's queue pool", () => {
  it('is started again with growing waits after it stopped for want of the database, until it ends by a drain', async () => {
    const starts: number[] = [];
    const waits: number[] = [];
    await restartOnLostDatabase(
      async (restarts) => {
        starts.push(restarts);
        if (restarts < 3) throw restarts === 1 ? new QueueWorkerStoppedError('could not complete jobs', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }) : lost();
      },
      { signal: new AbortController().signal, baseDelayMs: 2, maxDelayMs: 1000, onRestart: (_error, delayMs) => waits.push(delayMs) },
    );
    expect(starts).toEqual([0, 1, 2, 3]);
    expect(waits).toEqual([2, 4, 8]);
  });

  it('is not started again after any other failure, nor once the worker drains', async () => {
    const mismatch = new QueueSchemaMismatchError('migrated by a newer version');
    await expect(restartOnLostDatabase(() => Promise.reject(mismatch), { signal: new AbortController().signal, baseDelayMs: 1 })).rejects.toBe(mismatch);
    const stoppedOtherwise = new QueueWorkerStoppedError('the queue library stopped the worker pool');
    await expect(restartOnLostDatabase(() => Promise.reject(stoppedOtherwise), { signal: new AbortController().signal, baseDelayMs: 1 })).rejects.toBe(stoppedOtherwise);

    const drain = new AbortController();
    let starts = 0;
    const serving = restartOnLostDatabase(
      async () => {
        starts++;
        throw lost();
      },
      { signal: drain.signal, baseDelayMs: 60_000, onRestart: () => drain.abort() },
    );
    await expect(serving).resolves.toBeUndefined();
    expect(starts).toBe(1);
  });
});
