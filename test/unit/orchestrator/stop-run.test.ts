import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { RunId } from '../../../src/events/index.js';
import { nowIso } from '../../../src/lib/time.js';
import { STOP_SEEN_EVENT, registerLocalSession } from '../../../src/orchestrator/local-stops.js';
import { stopRun } from '../../../src/orchestrator/stop-run.js';
import { isProcessAlive } from '../../../src/runtime/index.js';
import { SqliteStore } from '../../../src/store/index.js';

async function storeWithRun(runId: RunId, ownerPid: number) {
  const store = SqliteStore.open(':memory:');
  await store.createRun({ id: runId, agent: 'code-developer', taskKind: 'task', prompt: 'x', cwd: '/tmp', ownerPid, host: hostname(), createdAt: nowIso() });
  return store;
}

describe('stopRun (orchestrator stop from another process)', () => {
  it('leaves the stop to a live owner that acknowledged it, even when its own stop sequence is slow', async () => {
    const runId = 'run-slow-owner' as RunId;
    const store = await storeWithRun(runId, process.pid);
    // The owner (here this process) sees the request on its poll, records that it did, and ends the run later than
    // the two seconds `stop` used to give it: a loaded machine. `stop` must not race it with signals.
    const owner = registerLocalSession(store, runId, { pollMs: 50 });
    owner.signal.addEventListener('abort', () => {
      setTimeout(() => void store.finishRun(runId, { status: 'stopped', endedAt: nowIso(), errorKind: 'stop_requested', errorMessage: 'stopped on request' }), 2_500);
    });
    try {
      const run = (await store.getRun(runId))!;
      const outcome = await stopRun(store, run, { graceMs: 1_000 });
      expect(outcome).toMatchObject({ kind: 'stopped', by: 'owner', run: { status: 'stopped' } });
      expect((await store.listEvents({ runId })).map((event) => event.kind)).toEqual([STOP_SEEN_EVENT]);
    } finally {
      owner.unregister();
      await store.close();
    }
  });

  it('uses signals when the owner is gone, and records the run stopped itself', async () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.pid'], { stdio: 'ignore' }).pid;
    expect(isProcessAlive(gone)).toBe(false);
    const runId = 'run-orphan' as RunId;
    const store = await storeWithRun(runId, gone);
    try {
      const outcome = await stopRun(store, (await store.getRun(runId))!, { graceMs: 1_000 });
      expect(outcome).toMatchObject({ kind: 'stopped', by: 'signals', run: { status: 'stopped', errorMessage: 'stopped on request; its orchestrator process was gone' } });
      expect(await store.listEvents({ runId })).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
