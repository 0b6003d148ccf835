import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startDashboard, type RunningDashboard, type WorkersResponse } from '../../../src/dashboard/index.js';
import type { RunId, WorkItemId } from '../../../src/events/index.js';
import { SqliteStore } from '../../../src/store/index.js';

let dir: string;
let store: SqliteStore;
const dashboards: RunningDashboard[] = [];

const RUN_A = '01runa0developer0000000000' as RunId;
const RUN_B = '01runb0architect0000000000' as RunId;

/** Waits until the database's clock is more than `ms` past `time` (as the store conformance tests do). */
async function databaseClockPast(time: string, ms: number): Promise<void> {
  const until = Date.parse(time) + ms;
  while (Date.parse(await store.databaseNow()) <= until) await new Promise((resolve) => setTimeout(resolve, 5));
}

async function run(id: RunId, agent: string, host: string): Promise<void> {
  const at = new Date().toISOString();
  await store.createRun({ id, agent, taskKind: agent, prompt: `do ${agent}`, cwd: dir, workItemId: 'P-1' as WorkItemId, ownerPid: 4242, host, createdAt: at });
  await store.markRunRunning(id, { pid: 999_999, startedAt: at });
}

const worker = (id: string, host: string, slots: number) => store.registerWorker({ id, host, pid: 100, slots, version: '0.1.0', schemaVersion: 1 });

/** Two workers: `w-lost` on box-b went silent and was swept (its job kept), `w-active` on box-a runs P-1's developer. */
async function seedWorkers(): Promise<void> {
  await store.upsertWorkItem({ id: 'P-1' as WorkItemId, kind: 'priority', number: '1', title: 'Slugify', slug: 'slugify', state: 'implementing', position: 0, at: new Date().toISOString() });
  await run(RUN_A, 'code-developer', 'box-a');
  await run(RUN_B, 'architect', 'box-b');
  const quiet = await worker('w-lost', 'box-b', 2);
  await store.startWorkerJob({ workerId: 'w-lost', jobId: 'job-b', runId: RUN_B, workItemId: 'P-1' as WorkItemId });
  await databaseClockPast(quiet.lastHeartbeatAt, 50);
  await worker('w-active', 'box-a', 3);
  await store.startWorkerJob({ workerId: 'w-active', jobId: 'job-a', runId: RUN_A, workItemId: 'P-1' as WorkItemId });
  await store.startWorkerJob({ workerId: 'w-active', jobId: 'job-pm' });
  expect((await store.markLostWorkers(50)).map((lost) => lost.id)).toEqual(['w-lost']);
  // As the coordinator does with a lost worker's runs.
  await store.finishRun(RUN_B, { status: 'orphaned', endedAt: new Date().toISOString(), exitCode: null });
  await worker('w-stopped', 'box-c', 1);
  await store.setWorkerState('w-stopped', 'stopped');
}

async function open(options: { workerLeaseSeconds?: number; token?: string } = {}): Promise<RunningDashboard> {
  const dashboard = await startDashboard({ store, bus: null, controls: null, host: '127.0.0.1', port: 0, token: options.token ?? null, staticDir: null, repoRoot: dir, version: 'test', ...(options.workerLeaseSeconds === undefined ? {} : { workerLeaseSeconds: options.workerLeaseSeconds }) });
  dashboards.push(dashboard);
  return dashboard;
}

const get = (dashboard: RunningDashboard, path: string, headers: Record<string, string> = {}) => fetch(`http://127.0.0.1:${dashboard.port}${path}`, { headers });
async function workers(dashboard: RunningDashboard, path = '/api/workers'): Promise<WorkersResponse> {
  const response = await get(dashboard, path);
  expect(response.status, `${path}: ${response.status}`).toBe(200);
  return (await response.json()) as WorkersResponse;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orch-dashboard-workers-'));
  store = SqliteStore.open(join(dir, 'db.sqlite'));
});

afterEach(async () => {
  for (const dashboard of dashboards.splice(0)) await dashboard.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('GET /api/workers', () => {
  it('is empty on one machine without workers', async () => {
    const body = await workers(await open());
    expect(body.workers).toEqual([]);
    expect(body.leaseSeconds).toBe(30);
    expect(body.now).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('lists live and lost workers with host, slots, running jobs named, heartbeat age and the lost flag; stopped ones on ?all=1', async () => {
    await seedWorkers();
    const body = await workers(await open({ workerLeaseSeconds: 600 }));
    expect(body.leaseSeconds).toBe(600);
    expect(body.workers.map((w) => w.id)).toEqual(['w-lost', 'w-active']);
    const [lost, active] = body.workers;
    expect(active).toMatchObject({ host: 'box-a', slots: 3, running: 2, state: 'active', flag: null, lost: false, late: false, version: '0.1.0' });
    expect(active!.jobs).toEqual([
      expect.objectContaining({ jobId: 'job-a', runId: RUN_A, workItemId: 'P-1', agent: 'code-developer', workItemTitle: 'Slugify' }),
      expect.objectContaining({ jobId: 'job-pm', runId: null, workItemId: null, agent: null, workItemTitle: null }),
    ]);
    expect(lost).toMatchObject({ host: 'box-b', slots: 2, running: 1, state: 'lost', flag: 'lost', lost: true, late: false });
    expect(lost!.jobs).toEqual([expect.objectContaining({ jobId: 'job-b', runId: RUN_B, agent: 'architect', workItemTitle: 'Slugify' })]);
    // Ages are measured on the database's clock, against the `now` sent with them.
    for (const w of body.workers) expect(w.heartbeatAgeMs).toBe(Math.max(0, Date.parse(body.now) - Date.parse(w.lastHeartbeatAt)));
    expect(lost!.heartbeatAgeMs).toBeGreaterThan(50);

    const all = await workers(dashboards[0]!, '/api/workers?all=1');
    expect(all.workers.map((w) => [w.id, w.state, w.flag])).toEqual([
      ['w-lost', 'lost', 'lost'],
      ['w-active', 'active', null],
      ['w-stopped', 'stopped', null],
    ]);
    const bad = await get(dashboards[0]!, '/api/workers?all=perhaps');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('all must be 1 or 0');
  });

  it('flags a live worker silent past the lease as late, as `orchestrator workers` does', async () => {
    await seedWorkers();
    const active = (await store.getWorker('w-active'))!;
    await databaseClockPast(active.lastHeartbeatAt, 100);
    const body = await workers(await open({ workerLeaseSeconds: 0.05 }));
    expect(body.workers.map((w) => [w.id, w.flag, w.lost, w.late])).toEqual([
      ['w-lost', 'lost', true, false],
      ['w-active', 'late', false, true],
    ]);
  });

  it('needs the token like every API request, and the Now payload carries each run\'s host', async () => {
    await seedWorkers();
    const dashboard = await open({ token: 'workers-panel-token' });
    expect((await get(dashboard, '/api/workers')).status).toBe(401);
    const body = (await (await get(dashboard, '/api/workers', { authorization: 'Bearer workers-panel-token' })).json()) as WorkersResponse;
    expect(body.workers).toHaveLength(2);
    const now = (await (await get(dashboard, '/api/now', { authorization: 'Bearer workers-panel-token' })).json()) as { runs: { id: string; host: string }[]; recent: { id: string; host: string; status: string }[] };
    expect(now.runs.map((r) => [r.id, r.host])).toEqual([[RUN_A, 'box-a']]);
    expect(now.recent.map((r) => [r.id, r.host, r.status])).toEqual([[RUN_B, 'box-b', 'orphaned']]);
  });
});
