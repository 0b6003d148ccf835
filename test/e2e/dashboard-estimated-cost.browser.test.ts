import { describe, expect, it } from 'vitest';
import { dashboardUiDir } from '../../src/cli/commands/dashboard.js';
import type { RunId } from '../../src/events/index.js';
import { screenshot, useBrowser, watchPageErrors } from '../helpers/browser.js';
import { dashboardHarness } from '../helpers/dashboard.js';
import { useScriptedModel } from '../helpers/model.js';

const model = useScriptedModel();
const chromium = useBrowser();

describe('dashboard: the cost of a session killed without a result', () => {
  it('shows the estimated tokens and cost as estimated on the run page and the usage page', async () => {
    const staticDir = dashboardUiDir();
    expect(staticDir, 'the web UI must be built (npm run build) before the browser tests').not.toBeNull();
    model.addScenarios([
      {
        name: 'killed',
        turns: [
          { text: 'Building.', tools: [{ name: 'Bash', input: { command: 'sleep 60', description: 'a long build' } }], usage: { input_tokens: 2500, output_tokens: 60, cache_read_input_tokens: 500 } },
          { text: 'never reached' },
        ],
      },
    ]);
    const harness = await dashboardHarness(model, { staticDir });
    const page = await chromium.browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors = watchPageErrors(page);
    try {
      const { runId, done } = harness.startRun('code-developer', 'Run the long build.');
      const id: RunId = await runId;
      await new Promise<void>((resolve) => {
        const off = harness.bus.on('run.message', (record) => {
          if (record.runId === id && record.toolName === 'Bash') {
            off();
            resolve();
          }
        });
      });
      const running = await harness.store.getRun(id);
      // The OOM killer's way: the CLI's whole process group dies at once and writes no result.
      process.kill(-running!.pid!, 'SIGKILL');
      const result = await done;
      expect(result.run).toMatchObject({ status: 'failed', errorKind: 'missing_result' });
      const [invocation] = await harness.store.listInvocations(id);
      expect(invocation).toMatchObject({ costEstimated: true, inputTokens: 2500, cacheReadInputTokens: 500 });
      expect(invocation!.costUsd).toBeGreaterThan(0);
      const shown = `≈$${invocation!.costUsd.toFixed(4)}`;

      await page.goto(`${harness.dashboard.url}#/runs/${id}`);
      const runCost = page.locator('[data-field="cost"] [data-cost-estimated="true"]');
      await runCost.waitFor();
      expect(await runCost.textContent()).toBe(`${shown} estimated`);
      const sessionCost = page.locator('[data-table="invocations"] [data-cost-estimated="true"]');
      expect(await sessionCost.textContent()).toBe(`${shown} estimated`);
      expect(await sessionCost.getAttribute('title')).toContain('estimated from 1 API message(s)');
      await screenshot(page, 'run-estimated-cost');

      await page.goto(`${harness.dashboard.url}#/usage`);
      const totalCost = page.locator('[data-field="total-cost"] [data-cost-estimated="true"]');
      await totalCost.waitFor();
      expect(await totalCost.textContent()).toBe(`≈$${invocation!.costUsd.toFixed(2)} estimated`);
      expect(await page.locator('[data-table="agents"] tr[data-agent="code-developer"] [data-cost-estimated="true"]').count()).toBe(1);
      await screenshot(page, 'usage-estimated-cost');
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await harness.close();
    }
  });
});
