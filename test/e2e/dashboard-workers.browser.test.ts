import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunId, WorkItemId } from '../../src/events/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { screenshot, useBrowser, watchPageErrors } from '../helpers/browser.js';
import { startCli } from '../helpers/cli.js';
import { testSessionHome } from '../helpers/model.js';
import { tmpRepo } from '../helpers/tmp-repo.js';

const chromium = useBrowser();

const RUN = '01runw0developer00000000a1' as RunId;

describe('the Workers panel on the Now page', () => {
  it('is absent on one machine; with workers registered it lists them live (host, state, slots, heartbeat), flags the lost one, and each run shows its host', async () => {
    // A long lease (the dashboard reads it from the config), so the live worker is never "late" on a slow machine.
    await using repo = await tmpRepo({ files: { 'orchestrator.config.json': JSON.stringify({ workers: { leaseSeconds: 600 } }) } });
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: testSessionHome() };
    const store = SqliteStore.open(join(repo.path, '.orchestrator', 'orchestrator.db'));
    const dashboard = startCli(['dashboard', '--port', '0'], { cwd: repo.path, env });
    const page = await chromium.browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors = watchPageErrors(page);
    try {
      const at = new Date().toISOString();
      await store.upsertWorkItem({ id: 'P-1' as WorkItemId, kind: 'priority', number: '1', title: 'Slugify', slug: 'slugify', state: 'implementing', position: 0, at });
      await store.createRun({ id: RUN, agent: 'code-developer', taskKind: 'code-developer', prompt: 'implement', cwd: repo.path, workItemId: 'P-1' as WorkItemId, ownerPid: 4242, host: 'box-a', createdAt: at });
      await store.markRunRunning(RUN, { pid: 999_999, startedAt: at });

      await expect.poll(() => /dashboard: (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(dashboard.output.stdout)?.[1], { timeout: 30_000 }).toBeTruthy();
      const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(dashboard.output.stdout)![1]!;

      // One machine, no worker: the page looks as it always did (no Workers panel, no host column), once the panel has asked.
      const firstPoll = page.waitForResponse((response) => response.url().endsWith('/api/workers') && response.ok());
      await page.goto(`${url}#/now`);
      await page.waitForSelector(`[data-table="active"] tr[data-run-id="${RUN}"]`);
      expect(((await (await firstPoll).json()) as { workers: unknown[] }).workers).toEqual([]);
      expect(await page.locator('[data-table="workers"]').count()).toBe(0);
      expect(await page.locator('[data-table="active"] th').allTextContents()).not.toContain('host');
      expect(await page.locator(`tr[data-run-id="${RUN}"] [data-field="host"]`).count()).toBe(0);

      // Two workers: one on box-b went silent and the coordinator's sweep marked it lost; one on box-a runs the session.
      const quiet = await store.registerWorker({ id: 'w-box-b-quiet', host: 'box-b', pid: 200, slots: 2, version: '0.1.0', schemaVersion: 1 });
      await store.startWorkerJob({ workerId: quiet.id, jobId: 'job-old', runId: null, workItemId: null });
      while (Date.parse(await store.databaseNow()) <= Date.parse(quiet.lastHeartbeatAt) + 50) await new Promise((resolve) => setTimeout(resolve, 5));
      await store.registerWorker({ id: 'w-box-a-live', host: 'box-a', pid: 100, slots: 2, version: '0.1.0', schemaVersion: 1 });
      await store.startWorkerJob({ workerId: 'w-box-a-live', jobId: 'job-1', runId: RUN, workItemId: 'P-1' as WorkItemId });
      expect((await store.markLostWorkers(50)).map((worker) => worker.id)).toEqual([quiet.id]);

      // The open page picks them up by itself (the panel polls), without a reload.
      const row = (id: string) => page.locator(`[data-table="workers"] tr[data-worker-id="${id}"]`);
      await row('w-box-a-live').waitFor({ timeout: 15_000 });
      await row(quiet.id).waitFor({ timeout: 15_000 });
      expect(await page.locator('.card-head h2', { hasText: 'Workers' }).textContent()).toBe('Workers (1 live, 1/2 slots busy, 1 lost)');
      expect(await page.locator('[data-table="workers"] th').allTextContents()).toEqual(['host', 'worker', 'state', 'slots', 'running', 'last heartbeat']);

      const live = row('w-box-a-live');
      expect(await live.getAttribute('data-worker-flag')).toBe('');
      expect(await live.locator('[data-field="host"]').textContent()).toBe('box-a');
      expect(await live.locator('[data-field="state"]').textContent()).toBe('active');
      expect(await live.locator('[data-field="slots"]').textContent()).toBe('1/2');
      expect(await live.locator(`[data-field="jobs"] a[href="#/runs/${RUN}"]`).count()).toBe(1);
      expect(await live.locator('[data-field="jobs"]').textContent()).toContain('code-developer');
      expect(await live.locator('[data-field="heartbeat"]').textContent()).toMatch(/^\d+ s ago$/);

      const lost = row(quiet.id);
      expect(await lost.getAttribute('data-worker-flag')).toBe('lost');
      expect(await lost.locator('[data-field="host"]').textContent()).toBe('box-b');
      expect(await lost.locator('[data-flag="lost"]').textContent()).toBe('LOST');
      expect(await lost.locator('[data-flag="lost"]').getAttribute('title')).toContain('its jobs went back to the queue');
      expect(await lost.locator('[data-field="state"]').textContent()).toMatch(/^LOST since /);
      expect(await page.locator('[data-field="workers-note"]').count()).toBe(1);

      // Each running run now says where it runs.
      expect(await page.locator('[data-table="active"] th').allTextContents()).toContain('host');
      expect(await page.locator(`tr[data-run-id="${RUN}"] [data-field="host"]`).textContent()).toBe('box-a');

      // The heartbeat's age ticks on the open page; a change of state shows without a reload.
      const age = () => lost.locator('[data-field="heartbeat"]').textContent();
      const first = await age();
      await expect.poll(age, { timeout: 10_000 }).not.toBe(first);
      await screenshot(page, 'now-workers');
      expect(await store.setWorkerState('w-box-a-live', 'draining')).toBe(true);
      await expect.poll(() => live.locator('[data-field="state"]').textContent(), { timeout: 15_000 }).toBe('draining');
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      dashboard.kill('SIGTERM');
      await dashboard.closed;
      await store.close();
    }
  });
});
