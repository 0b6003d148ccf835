import { describe, expect, it } from 'vitest';
import { WORKER_HEADERS, viewWorkers, workerRow } from '../../../src/cli/workers-view.js';
import type { Paint } from '../../../src/cli/format.js';
import type { WorkerRecord } from '../../../src/store/index.js';

const plain: Paint = { dim: (t) => t, bold: (t) => t, red: (t) => t, green: (t) => t, yellow: (t) => t, cyan: (t) => t };
const worker = (id: string, extra: Partial<WorkerRecord>): WorkerRecord => ({
  id,
  host: `host-${id}`,
  pid: 10,
  slots: 2,
  version: '0.1.0',
  schemaVersion: 5,
  startedAt: '2026-11-26T10:00:00.000Z',
  lastHeartbeatAt: '2026-11-26T10:00:55.000Z',
  state: 'active',
  stateChangedAt: '2026-11-26T10:00:00.000Z',
  jobs: [],
  ...extra,
});

describe('workers view', () => {
  it('ages heartbeats by the database clock and flags lost and late workers', () => {
    const now = '2026-11-26T10:01:00.000Z';
    const views = viewWorkers(
      [
        worker('fine', { jobs: [{ workerId: 'fine', jobId: 'j1', runId: null, workItemId: null, startedAt: now }] }),
        worker('late', { lastHeartbeatAt: '2026-11-26T10:00:20.000Z' }),
        worker('lost', { lastHeartbeatAt: '2026-11-26T09:59:00.000Z', state: 'lost', stateChangedAt: '2026-11-26T10:00:31.000Z' }),
        worker('gone', { lastHeartbeatAt: '2026-11-26T09:00:00.000Z', state: 'stopped' }),
      ],
      now,
      30,
    );
    expect(views.map((view) => [view.id, view.heartbeatAgeMs, view.flag])).toEqual([
      ['fine', 5_000, null],
      ['late', 40_000, 'late'],
      ['lost', 120_000, 'lost'],
      ['gone', 3_660_000, null],
    ]);
    const rows = views.map((view) => workerRow(view, plain, 30));
    expect(rows[0]!.slice(0, 7)).toEqual(['fine', 'host-fine', '10', '2', '1/2', '5s ago', 'j1']);
    expect(rows[0]!.at(-1)).toBe('active');
    expect(rows[1]!.at(-1)).toContain('LATE');
    expect(rows[2]!.at(-1)).toBe('LOST since 2026-11-26 10:00:31');
    expect(rows[3]!.at(-1)).toBe('stopped');
    expect(rows.every((row) => row.length === WORKER_HEADERS.length)).toBe(true);
  });
});
