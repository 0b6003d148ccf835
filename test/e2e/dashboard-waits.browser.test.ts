import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WorkItemId } from '../../src/events/index.js';
import { SqliteStore, type WaitReason, type WorkItemRecord } from '../../src/store/index.js';
import { screenshot, useBrowser, watchPageErrors } from '../helpers/browser.js';
import { runCli, startCli } from '../helpers/cli.js';
import { testSessionHome } from '../helpers/model.js';
import { tmpRepo } from '../helpers/tmp-repo.js';

const chromium = useBrowser();

/** Work items as the supervisor leaves them (its wait details, word for word): one works, the others wait, each for its reason. */
const ITEMS: { n: string; kind: 'priority' | 'bug'; state: string; wait: [WaitReason, string] | null }[] = [
  { n: '1', kind: 'priority', state: 'implementing', wait: null },
  { n: '2', kind: 'priority', state: 'spec_ready', wait: ['slot', '4 of 4 sessions running'] },
  { n: '3', kind: 'priority', state: 'planned', wait: ['slot', '4 of 4 sessions running'] },
  { n: '4', kind: 'priority', state: 'merging', wait: ['lock', 'main is being updated; PRIORITY 4 is next in roadmap order'] },
  { n: '5', kind: 'priority', state: 'planned', wait: ['dependency', 'P-4 (merging)'] },
  { n: '6', kind: 'priority', state: 'marking_done', wait: ['roadmap', 'the project manager is marking P-7, P-8; P-6 is in the next batch'] },
  { n: '1', kind: 'bug', state: 'implementing', wait: ['budget', "$0.40 of today's $5 is free: $4.60 is reserved by running sessions"] },
];
const idOf = (item: { n: string; kind: 'priority' | 'bug' }) => `${item.kind === 'bug' ? 'B' : 'P'}-${item.n}` as WorkItemId;
const cleared = { waitingFor: null, waitingDetail: null, waitingSince: null } as const;

describe('why a work item waits, in status and the dashboard', () => {
  it('status and both pages show each wait (reason, detail, how long) and a summary; a cleared wait disappears from all', async () => {
    await using repo = await tmpRepo();
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: testSessionHome() };
    const store = SqliteStore.open(join(repo.path, '.orchestrator', 'orchestrator.db'));
    const dashboard = startCli(['dashboard', '--port', '0'], { cwd: repo.path, env });
    const page = await chromium.browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors = watchPageErrors(page);
    try {
      const since = new Date(Date.now() - 12_000).toISOString();
      for (const [index, item] of ITEMS.entries()) {
        const id = idOf(item);
        await store.upsertWorkItem({ id, kind: item.kind, number: item.n, title: `Item ${id}`, slug: `item-${id}`, state: item.state, position: index, at: since });
        if (item.wait) await store.updateWorkItem(id, { waitingFor: item.wait[0], waitingDetail: item.wait[1], waitingSince: since, updatedAt: since });
      }

      // status: a WAITING FOR column (reason, detail, how long) and the one-line summary.
      const status = await runCli(['status'], { cwd: repo.path, env });
      expect(status.exitCode, status.stderr).toBe(0);
      expect(status.stdout).toMatch(/ITEM\s+TITLE\s+STATE\s+WAITING FOR\s+RUNS/);
      expect(status.stdout).toMatch(/PRIORITY 2\s+Item P-2\s+spec_ready\s+slot \(4 of 4 sessions running\) for \d+s\s+0\s/);
      expect(status.stdout).toMatch(/PRIORITY 4\s+Item P-4\s+merging\s+lock \(main is being updated; PRIORITY 4 is next in roadmap order\) for \d+s\s/);
      expect(status.stdout).toMatch(/BUG 1\s+Item B-1\s+implementing\s+budget \(\$0\.40 of today's \$5 is free: \$4\.60 is reserved by running sessions\) for \d+s\s/);
      expect(status.stdout).toMatch(/PRIORITY 1\s+Item P-1\s+implementing\s+0\s/);
      expect(status.stdout).toContain('waiting: 2 for a slot, 1 for the lock, 1 on a dependency, 1 for the budget, 1 for the roadmap update\n');
      const json = JSON.parse((await runCli(['status', '--json'], { cwd: repo.path, env })).stdout) as WorkItemRecord[];
      expect(json.find((item) => item.id === 'P-2')).toMatchObject({ waitingFor: 'slot', waitingDetail: '4 of 4 sessions running', waitingSince: since });
      expect(json.find((item) => item.id === 'P-1')).toMatchObject(cleared);

      // The dashboard of another process (`orchestrator dashboard`) over the same database.
      await expect.poll(() => /dashboard: (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(dashboard.output.stdout)?.[1], { timeout: 30_000 }).toBeTruthy();
      const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(dashboard.output.stdout)![1]!;

      // Work items: a "waiting for" column and the summary in the card's head.
      await page.goto(`${url}#/work-items`);
      const cell = (id: string) => page.locator(`tr[data-work-item="${id}"] [data-field="waiting"]`);
      await page.waitForSelector('[data-wait-item="P-2"]');
      expect(await page.locator('[data-table="work-items"] th').allTextContents()).toContain('waiting for');
      expect(await cell('P-2').textContent()).toMatch(/^slot 4 of 4 sessions running for \d+(\.\d)? s$/);
      expect(await cell('P-5').textContent()).toMatch(/^dependency P-4 \(merging\) for /);
      expect(await cell('P-1').textContent()).toBe('');
      expect(await page.locator('[data-wait-item="B-1"] .badge').getAttribute('title')).toBe('waiting for the daily budget (budgets.perDayUsd)');
      expect(await page.locator('[data-field="wait-summary"]').textContent()).toBe('waiting: 2 for a slot, 1 for the lock, 1 on a dependency, 1 for the budget, 1 for the roadmap update');
      await screenshot(page, 'work-items-waiting');

      // Now: the items that wait and why, in roadmap order, beside the (here: no) running sessions.
      await page.goto(`${url}#/now`);
      await page.waitForSelector('[data-table="waiting"]');
      const order: (string | null)[] = [];
      for (const row of await page.locator('[data-table="waiting"] tr[data-waiting-item]').all()) order.push(await row.getAttribute('data-waiting-item'));
      expect(order).toEqual(['P-2', 'P-3', 'P-4', 'P-5', 'P-6', 'B-1']);
      expect(await page.locator('tr[data-waiting-item="P-4"]').textContent()).toMatch(/^PRIORITY 4Item P-4merginglock main is being updated; PRIORITY 4 is next in roadmap order for \d/);
      // How long it has waited ticks on the open page.
      const waited = () => page.locator('tr[data-waiting-item="P-2"] [data-field="waited"]').textContent();
      const first = await waited();
      await expect.poll(waited, { timeout: 10_000 }).not.toBe(first);
      await screenshot(page, 'now-waiting');

      // A wait that ends disappears live (the dashboard follows the store); one that begins appears.
      const at = new Date().toISOString();
      await store.updateWorkItem('P-2' as WorkItemId, { ...cleared, updatedAt: at });
      await store.updateWorkItem('P-1' as WorkItemId, { waitingFor: 'backoff', waitingDetail: 'retry at 10:00:05 UTC', waitingSince: at, updatedAt: at });
      await page.locator('tr[data-waiting-item="P-2"]').waitFor({ state: 'detached', timeout: 15_000 });
      await page.locator('tr[data-waiting-item="P-1"]').waitFor({ timeout: 15_000 });
      expect(await page.locator('tr[data-waiting-item="P-1"]').textContent()).toContain('backoff retry at 10:00:05 UTC');
      await page.click('nav a[href="#/work-items"]');
      await page.locator('[data-wait-item="P-1"]').waitFor();
      expect(await cell('P-2').textContent()).toBe('');
      expect(await page.locator('[data-wait-item="P-2"]').count()).toBe(0);
      // …and on the Work items page while it is open.
      await store.updateWorkItem('P-3' as WorkItemId, { ...cleared, updatedAt: new Date().toISOString() });
      await page.locator('[data-wait-item="P-3"]').waitFor({ state: 'detached', timeout: 15_000 });
      expect(await page.locator('[data-field="wait-summary"]').textContent()).toBe('waiting: 1 for the lock, 1 on a dependency, 1 in backoff, 1 for the budget, 1 for the roadmap update');

      const after = await runCli(['status'], { cwd: repo.path, env });
      expect(after.stdout).toMatch(/PRIORITY 2\s+Item P-2\s+spec_ready\s+0\s/);
      expect(after.stdout).toMatch(/PRIORITY 1\s+Item P-1\s+implementing\s+backoff \(retry at 10:00:05 UTC\) for \d+(s| ms)\s/);
      expect(after.stdout).toContain('waiting: 1 for the lock, 1 on a dependency, 1 in backoff, 1 for the budget, 1 for the roadmap update\n');

      // Nothing waits: no column, no summary, and Now says so.
      for (const item of ITEMS) await store.updateWorkItem(idOf(item), { ...cleared, updatedAt: new Date().toISOString() });
      const idle = await runCli(['status'], { cwd: repo.path, env });
      expect(idle.stdout).not.toContain('WAITING FOR');
      expect(idle.stdout).not.toMatch(/^waiting:/m);
      await page.locator('[data-wait-item]').first().waitFor({ state: 'detached', timeout: 15_000 });
      expect(await page.locator('[data-field="wait-summary"]').count()).toBe(0);
      await page.click('nav a[href="#/now"]');
      await page.waitForSelector('[data-empty="waiting"]');
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      dashboard.kill('SIGTERM');
      await dashboard.closed;
      await store.close();
    }
  });
});
