import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { WorkItemId } from '../../src/events/index.js';
import { SqliteStore } from '../../src/store/index.js';
import { screenshot, useBrowser, watchPageErrors } from '../helpers/browser.js';
import { startCli } from '../helpers/cli.js';
import { testSessionHome } from '../helpers/model.js';
import { tmpRepo } from '../helpers/tmp-repo.js';

const chromium = useBrowser();

/**
 * Observes every `new Notification(…)` of the page, keeping the real constructor (the context grants the
 * permission): the test reads what was shown and can click it.
 */
const OBSERVE_NOTIFICATIONS = `
  window.__shown = [];
  const Native = window.Notification;
  window.Notification = new Proxy(Native, {
    construct(target, args) {
      const instance = Reflect.construct(target, args);
      window.__shown.push({ title: args[0], body: (args[1] || {}).body, tag: (args[1] || {}).tag, instance });
      return instance;
    },
  });
`;

type Shown = { title: string; body: string; tag: string };

describe('browser notifications on the dashboard', () => {
  it('"Notify me" shows a notification when an item is blocked or done; a click focuses the page on the item', async () => {
    await using repo = await tmpRepo();
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: testSessionHome() };
    const store = SqliteStore.open(join(repo.path, '.orchestrator', 'orchestrator.db'));
    const at = new Date().toISOString();
    await store.upsertWorkItem({ id: 'P-1' as WorkItemId, kind: 'priority', number: '1', title: 'Slugify helper', slug: 'slugify-helper', state: 'marking_done', position: 0, at });
    await store.upsertWorkItem({ id: 'P-2' as WorkItemId, kind: 'priority', number: '2', title: 'Word count', slug: 'word-count', state: 'implementing', position: 1, at });
    // The dashboard of another process follows the store, as it follows an orchestrator running elsewhere.
    const dashboard = startCli(['dashboard', '--port', '0'], { cwd: repo.path, env });
    const context = await chromium.browser.newContext({ viewport: { width: 1400, height: 900 } });
    try {
      await expect.poll(() => /dashboard: (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(dashboard.output.stdout)?.[1], { timeout: 30_000 }).toBeTruthy();
      const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(dashboard.output.stdout)![1]!;
      await context.grantPermissions(['notifications'], { origin: new URL(url).origin });
      await context.addInitScript(OBSERVE_NOTIFICATIONS);
      const page = await context.newPage();
      const errors = watchPageErrors(page);
      await page.goto(`${url}#/now`);

      await page.click('[data-notify-toggle="off"]');
      // Its own event stream is live: from here on no event can be missed.
      await page.waitForSelector('[data-notify-toggle="on"][data-notify-stream="live"]');
      const shown = () => page.evaluate(() => (globalThis as unknown as { __shown: Shown[] }).__shown.map(({ title, body, tag }) => ({ title, body, tag })));
      expect(await shown()).toEqual([]);

      // Nothing to tell about a transition to any other state.
      await store.transitionWorkItem('P-2' as WorkItemId, 'implementing', 'reviewing', 'implemented', new Date().toISOString());
      await store.transitionWorkItem('P-2' as WorkItemId, 'reviewing', 'blocked', 'code-reviewer failed 3 time(s); last: no verdict', new Date().toISOString());
      await store.transitionWorkItem('P-1' as WorkItemId, 'marking_done', 'done', 'roadmap marked complete', new Date().toISOString());
      await expect.poll(shown, { timeout: 30_000 }).toHaveLength(2);
      expect(await shown()).toEqual([
        { title: 'Blocked: P-2 Word count', body: 'code-reviewer failed 3 time(s); last: no verdict', tag: 'blocked:P-2' },
        { title: 'Done: P-1 Slugify helper', body: 'merged and marked complete', tag: 'done:P-1' },
      ]);

      // A click on the blocked one brings the page to that item, opened and marked.
      await page.evaluate(() => {
        const entry = (globalThis as unknown as { __shown: { instance: { onclick: ((event: unknown) => void) | null } }[] }).__shown[0]!;
        entry.instance.onclick?.({ type: 'click' });
      });
      await page.waitForSelector('tr[data-work-item="P-2"].focused');
      expect(new URL(page.url()).hash).toBe('#/work-items?item=P-2');
      expect(await page.locator('[data-history="P-2"]').textContent()).toContain('code-reviewer failed 3 time(s)');
      await screenshot(page, 'notification-focused-item');

      // Turned off: the choice is remembered, and nothing more is shown.
      await page.click('[data-notify-toggle="on"]');
      await page.waitForSelector('[data-notify-toggle="off"]');
      expect(await page.evaluate("localStorage.getItem('orchestrator-notify')")).toBe('off');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      dashboard.kill('SIGTERM');
      await dashboard.closed;
      await store.close();
    }
  });
});
