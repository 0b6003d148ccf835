import { describe, expect, it } from 'vitest';
import type { RunId } from '../../../src/events/index.js';
import { RUN_HEADERS, runPlace, runRow } from '../../../src/cli/format.js';
import { RUN_WORKER_EVENT, SqliteStore } from '../../../src/store/index.js';

const at = '2026-12-06T00:00:00.000Z';

describe("a run's worker", () => {
  it('is read from the event its worker recorded (the latest when the run was started twice) and printed beside the host', async () => {
    const store = SqliteStore.open(':memory:');
    try {
      for (const id of ['01remote', '01local']) {
        await store.createRun({ id: id as RunId, agent: 'architect', taskKind: 'architect', prompt: 'p', cwd: '/w', ownerPid: 1, host: 'box-1', createdAt: at });
      }
      const started = (workerId: string) => store.appendEvent({ at, kind: RUN_WORKER_EVENT, runId: '01remote' as RunId, message: 'runs on a worker', data: { workerId, host: 'box-1', jobId: '7', attempts: 1 } });
      await started('01kqzworkerone00000000000');
      await started('01kqzworkertwo00000000000');
      await store.appendEvent({ at, kind: 'run.stop_seen', runId: '01local' as RunId, message: 'not a worker event' });

      const workers = await store.runWorkers(['01remote' as RunId, '01local' as RunId, '01none' as RunId]);
      expect([...workers.keys()]).toEqual(['01remote']);
      expect(workers.get('01remote' as RunId)).toEqual({ runId: '01remote', workerId: '01kqzworkertwo00000000000', host: 'box-1' });
      expect(await store.runWorkers([])).toEqual(new Map());

      const [remote, local] = await Promise.all(['01remote', '01local'].map(async (id) => (await store.listRuns()).find((run) => run.id === id)!));
      const hostColumn = RUN_HEADERS.indexOf('HOST');
      expect(runRow(remote!, workers.get('01remote' as RunId))[hostColumn]).toBe('box-1 (worker 01kqzworkert)');
      expect(runRow(local!)[hostColumn]).toBe('box-1');
      expect(runPlace(local!, undefined)).toBe('box-1');
    } finally {
      await store.close();
    }
  });
});
