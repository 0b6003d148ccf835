import { describe, expect, it } from 'vitest';
import { dashboardUiDir } from '../../src/cli/commands/dashboard.js';
import type { RunId, WorkItemId } from '../../src/events/index.js';
import { isProcessAlive } from '../../src/runtime/index.js';
import { screenshot, useBrowser, watchPageErrors } from '../helpers/browser.js';
import { dashboardHarness, type DashboardHarness } from '../helpers/dashboard.js';
import { useScriptedModel } from '../helpers/model.js';
import { liveProcessesOfRun } from '../helpers/processes.js';

const model = useScriptedModel();
const chromium = useBrowser();

/** A developer session that works step by step (a Bash call every ~300 ms), then waits on the model until stopped. */
function slowSessionScenario(steps: number) {
  return {
    name: 'slow-developer',
    turns: [
      ...Array.from({ length: steps }, (_, i) => ({
        delayMs: 300,
        text: `Step ${i + 1}: checking the build.`,
        tools: [{ name: 'Bash', input: { command: `echo step-${i + 1}`, description: `step ${i + 1}` } }],
        usage: { input_tokens: 1000 + i * 100, output_tokens: 50 },
      })),
      { hang: true as const },
    ],
  };
}

describe('dashboard in a real browser', () => {
  it('shows a run on Now as it starts, fills its timeline live, stops it, replays it, and charts usage', async () => {
    const staticDir = dashboardUiDir();
    expect(staticDir, 'the web UI must be built (npm run build) before the browser tests').not.toBeNull();
    // More steps than the test watches before it stops the run (it is stopped mid-way), so the timeline is still
    // growing when the run page opens however slow the machine is.
    model.addScenarios([slowSessionScenario(40)]);
    const harness: DashboardHarness = await dashboardHarness(model, { staticDir });
    const page = await chromium.browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors = watchPageErrors(page);
    try {
      await page.goto(`${harness.dashboard.url}#/now`);
      await page.waitForSelector('[data-empty="active"]');

      // 1. The run appears on Now as it starts, pushed to the open page (no reload), while it is still running.
      // How fast is a benchmark's figure (npm run bench -- dashboard: message → DOM), not this test's.
      let started = false;
      const off = harness.bus.on('run.started', () => {
        started = true;
      });
      const { runId, done } = harness.startRun('code-developer', 'Check the build, step by step.');
      const id: RunId = await runId;
      await page.waitForSelector(`tr.active-run[data-run-id="${id}"]`, { timeout: 15_000 });
      off();
      expect(started).toBe(true);
      expect((await harness.store.getRun(id))?.status).toBe('running');
      // …and what it is doing now, live.
      await page.locator(`tr[data-run-id="${id}"] [data-field="last-tool"]`).filter({ hasText: 'Bash' }).waitFor({ timeout: 15_000 });
      await screenshot(page, 'now-live');

      // 2. Its timeline fills while it runs.
      await page.click(`tr[data-run-id="${id}"] a[href="#/runs/${id}"]`);
      await page.waitForSelector('[data-timeline] .tl-entry');
      const countNow = () => page.locator('[data-timeline] .tl-entry').count();
      const first = await countNow();
      await expect.poll(countNow, { timeout: 15_000 }).toBeGreaterThan(first + 3);
      expect(await page.locator('[data-run-status]').getAttribute('data-run-status')).toBe('running');
      await page.waitForSelector('[data-kind="tool_use"][data-tool="Bash"]');
      await screenshot(page, 'run-live');

      // 3. The stop button (with its confirmation) stops the run's process group; the status changes on the page.
      await page.click('a[href="#/now"]');
      await page.click(`tr[data-run-id="${id}"] [data-action="stop"]`);
      await page.click(`tr[data-run-id="${id}"] [data-action="confirm-stop"]`);
      await page.waitForSelector(`[data-table="recent"] tr[data-run-id="${id}"] [data-status="stopped"]`, { timeout: 20_000 });
      expect(await page.locator(`tr.active-run[data-run-id="${id}"]`).count()).toBe(0);
      const result = await done;
      expect(result.run.status).toBe('stopped');
      expect(result.run.pid === null || !isProcessAlive(result.run.pid)).toBe(true);
      expect(liveProcessesOfRun(id)).toEqual([]);
      // Interrupted through its control channel, the CLI still reported what the session used.
      const [stoppedSession] = await harness.store.listInvocations(id);
      expect(stoppedSession!.resultSubtype).not.toBeNull();
      expect(stoppedSession!.costUsd).toBeGreaterThan(0);
      await screenshot(page, 'now-stopped');

      // 4. Replay of the finished run: instant shows everything; 1× and 10× play it back from the start.
      await harness.writer.flush();
      const total = (await harness.store.listMessages({ runId: id, limit: 10_000 })).length;
      await page.goto(`${harness.dashboard.url}#/runs/${id}`);
      await expect.poll(countNow, { timeout: 10_000 }).toBe(total);
      // 1× plays it back from the start at the recorded pace: the timeline empties and fills again. The page itself
      // records the fewest entries it ever shows, so a loaded machine (this test's timers running late) cannot hide it…
      await page.evaluate(() => {
        const page = globalThis as unknown as { fewestEntries: number; document: { querySelectorAll(selector: string): { length: number }; body: object } };
        page.fewestEntries = Number.POSITIVE_INFINITY;
        const record = () => {
          page.fewestEntries = Math.min(page.fewestEntries, page.document.querySelectorAll('[data-timeline] .tl-entry').length);
        };
        new (globalThis as unknown as { MutationObserver: new (callback: () => void) => { observe(target: object, options: object): void } }).MutationObserver(record).observe(page.document.body, { childList: true, subtree: true });
      });
      await page.click('[data-speed="1"]');
      await page.waitForSelector('[data-field="replay-progress"]');
      await expect.poll(() => page.evaluate(() => (globalThis as unknown as { fewestEntries: number }).fewestEntries), { timeout: 10_000 }).toBeLessThan(total);
      // …and 10× plays the rest from there.
      await page.click('[data-speed="10"]');
      await expect.poll(countNow, { timeout: 20_000, interval: 50 }).toBe(total);
      await screenshot(page, 'run-replay');
      await page.click('[data-speed="instant"]');
      expect(await countNow()).toBe(total);

      // 5. Work items: states, runs, the roadmap's note, the state history of a priority, and the roadmap's problems.
      const item = await harness.store.upsertWorkItem({ id: 'P-1' as WorkItemId, kind: 'priority', number: '1', title: 'Check the build', slug: 'check-the-build', state: 'planned', position: 0, note: '(2025-10-19) - HIGH PRIORITY', at: new Date().toISOString() });
      await harness.store.saveRoadmapRead({
        path: 'docs/roadmap/ROADMAP.md',
        branch: 'main',
        tipSha: 'a'.repeat(40),
        readAt: new Date().toISOString(),
        itemCount: 2,
        problems: [{ file: 'docs/roadmap/ROADMAP.md', line: 12, severity: 'error', message: 'unknown status "Whenever": PRIORITY 2 is held back', hint: 'Start the status with ✅ Complete' }],
      });
      await harness.store.transitionWorkItem(item.id, 'planned', 'specifying', 'no spec yet: the architect writes it', new Date().toISOString());
      await harness.store.updateWorkItem(item.id, { blockedReason: null, branch: 'orchestrator/1-check-the-build', updatedAt: new Date().toISOString() });
      await page.goto(`${harness.dashboard.url}#/work-items`);
      await page.click('tr[data-work-item="P-1"] button.link');
      await page.locator('[data-history="P-1"] li').filter({ hasText: 'no spec yet: the architect writes it' }).waitFor();
      expect(await page.locator('tr[data-work-item="P-1"] [data-status="specifying"]').count()).toBe(1);
      expect(await page.locator('tr[data-work-item="P-1"]').textContent()).toContain('orchestrator/1-check-the-build');
      expect(await page.locator('[data-note="P-1"]').textContent()).toBe('(2025-10-19) - HIGH PRIORITY');
      expect(await page.locator('[data-roadmap-problems] [data-problem-line="12"]').textContent()).toContain('docs/roadmap/ROADMAP.md:12 error unknown status "Whenever": PRIORITY 2 is held back');
      await screenshot(page, 'work-items');

      // 6. Usage: the chart renders with the run's data.
      await page.goto(`${harness.dashboard.url}#/usage`);
      await page.waitForSelector('[data-chart="usage-per-day"] canvas');
      await page.waitForSelector('[data-chart="cost-per-agent"] canvas');
      const size = await page.locator('[data-chart="usage-per-day"] canvas').boundingBox();
      expect(size?.width).toBeGreaterThan(200);
      expect(await page.locator('[data-field="total-runs"]').textContent()).toBe('1');
      expect(await page.locator('[data-table="agents"] tr[data-agent="code-developer"]').count()).toBe(1);
      await screenshot(page, 'usage');

      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await harness.close();
    }
  });
});
