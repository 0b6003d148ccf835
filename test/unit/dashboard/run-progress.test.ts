import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NowResponse } from '../../../src/dashboard/api-types.js';
import { StoreFeed, createDashboardApp } from '../../../src/dashboard/index.js';
import { EventBus, RUN_PROGRESS_EVENT, type RunId, type RunProgressEvent, type WorkItemId } from '../../../src/events/index.js';
import { SqliteStore } from '../../../src/store/index.js';

let dir: string;
let store: SqliteStore;

const RUN = 'r-progress' as RunId;
const OTHER = 'r-silent' as RunId;
const AT = '2026-11-25T10:00:00.000Z';

async function runningRun(id: RunId): Promise<void> {
  await store.createRun({ id, agent: 'code-developer', taskKind: 'code-developer', prompt: 'p', cwd: dir, workItemId: 'P-1' as WorkItemId, ownerPid: 1, host: 'h', createdAt: AT });
  await store.markRunRunning(id, { pid: 4242, startedAt: AT });
}

async function report(status: string, percent: number | null, at: string): Promise<void> {
  await store.appendEvent({ at, kind: RUN_PROGRESS_EVENT, runId: RUN, workItemId: 'P-1' as WorkItemId, message: status, data: { status, percent } });
}

describe('progress reports (report_progress) on the dashboard', () => {
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dash-progress-'));
    store = SqliteStore.open(join(dir, 'o.db'));
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the Now snapshot gives each active run its latest report (read from the store), and none to a run that reported nothing', async () => {
    await runningRun(RUN);
    await runningRun(OTHER);
    await report('reading the spec', 10, '2026-11-25T10:00:01.000Z');
    await report('tests pass; writing docs', 80, '2026-11-25T10:00:05.000Z');
    const app = createDashboardApp({ store, events: null, controls: null, info: { version: 'test', repoRoot: null, database: 'o.db' }, token: null, boundHost: '127.0.0.1', staticDir: null });
    const response = await app.request('http://127.0.0.1/api/now', { headers: { host: '127.0.0.1' } });
    expect(response.status).toBe(200);
    const now = (await response.json()) as NowResponse;
    const byId = new Map(now.runs.map((run) => [run.id, run.progress]));
    expect(byId.get(RUN)).toEqual({ status: 'tests pass; writing docs', percent: 80, at: '2026-11-25T10:00:05.000Z' });
    expect(byId.get(OTHER)).toBeNull();
  });

  it('a dashboard in another process hears a report through its StoreFeed, as the bus event run.progress', async () => {
    await runningRun(RUN);
    const bus = new EventBus();
    const heard: RunProgressEvent[] = [];
    bus.on('run.progress', (event) => heard.push(event));
    const feed = new StoreFeed(store, bus, { intervalMs: 60_000, changes: null });
    await feed.start((error) => {
      throw error;
    });
    try {
      await report('half way', 50, '2026-11-25T10:00:02.000Z');
      await report('no percent', null, '2026-11-25T10:00:03.000Z');
      await feed.poll();
      expect(heard).toEqual([
        { runId: RUN, workItemId: 'P-1', status: 'half way', percent: 50, at: '2026-11-25T10:00:02.000Z' },
        { runId: RUN, workItemId: 'P-1', status: 'no percent', percent: null, at: '2026-11-25T10:00:03.000Z' },
      ]);
    } finally {
      await feed.stop();
    }
  });
});
