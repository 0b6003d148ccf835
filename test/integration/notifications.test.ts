import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { EventBus } from '../../src/events/index.js';
import { Notifier } from '../../src/notify/index.js';
import { Supervisor } from '../../src/orchestrator/index.js';
import { MessageWriter, SqliteStore } from '../../src/store/index.js';
import { runCli } from '../helpers/cli.js';
import { cliPath, sessionEnv, useScriptedModel } from '../helpers/model.js';
import { pipelineRepo, roadmapOf } from '../helpers/pipeline.js';
import { developerWriting, standardRoles } from '../helpers/role-scenarios.js';
import { webhookReceiver } from '../helpers/webhook-receiver.js';

const model = useScriptedModel();

/** Fake credentials in the webhook paths, as Slack puts them: neither may appear anywhere but in the POSTs. */
const GOOD_TOKEN = 'notifyFakeToken9f8e7d6c5b4a3921';
const FAILING_TOKEN = 'failFakeToken1a2b3c4d5e6f7a8b';

/** Every file of the SQLite database (main file, WAL, shared memory) as text, to grep for a secret. */
function databaseText(root: string): string {
  const dir = join(root, '.orchestrator');
  return readdirSync(dir)
    .filter((name) => name.startsWith('orchestrator.db'))
    .map((name) => readFileSync(join(dir, name)).toString('latin1'))
    .join('\n');
}

describe('notifications (webhooks) from `orchestrator start`', () => {
  it('posts done and blocked to a webhook; a failing webhook is retried and holds nothing up; the URLs stay secret', { timeout: 300_000 }, async () => {
    await using good = await webhookReceiver();
    // Every request fails: a 500, then a socket closed without an answer, alternately.
    await using failing = await webhookReceiver((n) => (n % 2 === 1 ? { status: 500 } : 'close-socket'));
    const goodUrl = `http://127.0.0.1:${good.port}/services/T0NOTIFY/B0NOTIFY/${GOOD_TOKEN}`;
    const failingUrl = `http://127.0.0.1:${failing.port}/services/T0FAIL/B0FAIL/${FAILING_TOKEN}`;
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Slugify helper' }, { number: '2', title: 'Nothing' }]), {
      config: {
        retries: { maxAttempts: 1, baseDelayMs: 100, maxDelayMs: 500 },
        notifications: {
          // One URL from the environment (the recommended way), one written in the config file.
          webhooks: [
            { name: 'team-chat', urlEnv: 'NOTIFY_TEST_WEBHOOK_URL' },
            { name: 'broken', url: failingUrl, events: ['done', 'blocked'] },
          ],
          maxAttempts: 3,
          retryBaseDelayMs: 50,
          retryMaxDelayMs: 200,
        },
      },
    });
    model.addScenarios([
      developerWriting({ number: '1', file: 'src/slugify.js', content: 'export const slugify = (s) => s.toLowerCase();\n' }),
      // PRIORITY 2's developer claims success and commits nothing: with one attempt allowed, the item is blocked.
      { name: 'liar', match: { prompt: '^ROLE: code-developer\\nPRIORITY 2:' }, turns: [{ text: 'All done! IMPLEMENTED: everything' }] },
      ...standardRoles,
    ]);

    const result = await runCli(['start', '--until-idle', '--no-dashboard'], { cwd: repo.path, env: sessionEnv(model, { NOTIFY_TEST_WEBHOOK_URL: goodUrl }), timeoutMs: 240_000 });

    // The pipeline went its way: P-1 done although every POST to `broken` failed, P-2 blocked (hence exit 1).
    const store = SqliteStore.open(join(repo.path, '.orchestrator', 'orchestrator.db'));
    try {
      expect((await store.listWorkItems()).map((item) => [item.id, item.state]), result.stderr).toEqual([
        ['P-1', 'done'],
        ['P-2', 'blocked'],
      ]);
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toContain(`notifications: team-chat (http://127.0.0.1:${good.port}/…), broken (http://127.0.0.1:${failing.port}/…)`);

      // The receiver got one JSON POST per notification, with a Slack-compatible `text` naming the item.
      expect(good.received.every((hook) => hook.contentType?.startsWith('application/json') && hook.path === `/services/T0NOTIFY/B0NOTIFY/${GOOD_TOKEN}`)).toBe(true);
      expect(good.received.map((hook) => hook.body.event).sort()).toEqual(['blocked', 'done']);
      const done = good.received.find((hook) => hook.body.event === 'done')!.body;
      expect(done.text).toBe('Done: PRIORITY 1 "Slugify helper" (P-1) is merged and marked complete');
      expect(done.item).toMatchObject({ id: 'P-1', kind: 'priority', number: '1', title: 'Slugify helper', state: 'done' });
      const blocked = good.received.find((hook) => hook.body.event === 'blocked')!.body;
      expect(blocked.text).toMatch(/^Blocked: PRIORITY 2 "Nothing" \(P-2\) needs a person: code-developer failed 1 time\(s\); last: the code-developer reported success but /);
      expect(blocked.item).toMatchObject({ id: 'P-2', state: 'blocked' });
      expect(blocked.detail).toMatch(/^code-developer failed 1 time/);

      // The failing receiver was retried: each of its two notifications was tried maxAttempts (3) times.
      const attempts = (event: string) => failing.received.filter((hook) => hook.body.event === event).length;
      expect(attempts('done')).toBeGreaterThanOrEqual(2);
      expect(attempts('blocked')).toBeGreaterThanOrEqual(2);
      // Given up: logged by name and host, and recorded as notify.failed with the redacted target.
      const failures = (await store.listEvents({ limit: 1000 })).filter((event) => event.kind === 'notify.failed');
      expect(failures.map((event) => [event.workItemId, event.data.webhook, event.data.target, event.data.notification]).sort()).toEqual([
        ['P-1', 'broken', `http://127.0.0.1:${failing.port}/…`, 'done'],
        ['P-2', 'broken', `http://127.0.0.1:${failing.port}/…`, 'blocked'],
      ]);
      expect(failures.every((event) => (event.data.attempts as number) >= 2)).toBe(true);
      expect(result.stderr).toMatch(new RegExp(`notifications: webhook broken \\(http://127\\.0\\.0\\.1:${failing.port}/…\\): the blocked notification of P-2 was not delivered after \\d attempt\\(s\\): `));
    } finally {
      await store.close();
    }

    // Neither URL, nor its token alone, is in the database, the process output, or anything the model was sent
    // (the sessions do not get the webhook's environment variable).
    const places = { database: databaseText(repo.path), stdout: result.stdout, stderr: result.stderr, 'model requests': JSON.stringify(model.requests) };
    // The grep can find what is there: the blocked reason is in the database, the prompts in the requests.
    expect(places.database).toContain('code-developer failed 1 time(s)');
    expect(places['model requests']).toContain('ROLE: code-developer');
    for (const [place, text] of Object.entries(places)) {
      for (const secret of [goodUrl, failingUrl, GOOD_TOKEN, FAILING_TOKEN]) expect(text.includes(secret), `${secret} in ${place}`).toBe(false);
    }
    expect(places['model requests']).not.toContain('NOTIFY_TEST_WEBHOOK_URL');
  });
});

describe('webhooks in `orchestrator doctor`', () => {
  it('lists each webhook by name and host, never its URL, and names a URL variable that is not set', async () => {
    const url = `https://chat.example.test/services/T0DOC/B0DOC/${GOOD_TOKEN}`;
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Anything' }]), {
      config: { notifications: { webhooks: [{ name: 'team-chat', urlEnv: 'DOCTOR_WEBHOOK_URL', events: ['question', 'blocked'] }, { name: 'ops', urlEnv: 'MISSING_WEBHOOK_URL' }] } },
    });
    const result = await runCli(['doctor'], { cwd: repo.path, env: sessionEnv(model, { DOCTOR_WEBHOOK_URL: url }) });
    expect(result.stdout).toMatch(/! notifications\s+2 webhook\(s\)\n {2}team-chat → https:\/\/chat\.example\.test\/… \(question, blocked\)\n {2}ops → no URL \(question, blocked, done, budget\)\n {2}error: ops: the environment variable MISSING_WEBHOOK_URL is not set\n/);
    expect(`${result.stdout}${result.stderr}`).not.toContain(GOOD_TOKEN);
  });
});

describe('a budget reached, notified', () => {
  it('posts the day budget reached and the session stopped at its cap, each once', { timeout: 240_000 }, async () => {
    await using receiver = await webhookReceiver();
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Costly' }, { number: '2', title: 'Waiting' }]), {
      config: { budgets: { perRunUsd: 5, perDayUsd: 0.05 }, concurrency: { maxRuns: 1 } },
    });
    const expensive = { input_tokens: 400_000, output_tokens: 2_000 };
    model.addScenarios([
      {
        name: 'costly-architect',
        match: { prompt: '^ROLE: architect\\nPRIORITY 1:' },
        turns: [
          { tools: [{ name: 'Bash', input: { command: 'echo thinking', description: 'think' } }], usage: expensive },
          { tools: [{ name: 'Bash', input: { command: 'echo thinking more', description: 'think' } }], usage: expensive },
          { text: 'never reached' },
        ],
      },
      ...standardRoles,
    ]);
    // The supervisor in this process, as `start` runs it, with the notifier on its bus.
    const config = await loadConfig({ repoRoot: repo.path, env: sessionEnv(model), overrides: {} });
    const store = SqliteStore.open(join(repo.path, '.orchestrator', 'orchestrator.db'));
    const bus = new EventBus((error) => {
      throw error;
    });
    const writer = new MessageWriter(store);
    const warnings: string[] = [];
    const policy = { maxAttempts: 2, retryBaseDelayMs: 10, retryMaxDelayMs: 50, timeoutMs: 10_000, queueSize: 10 };
    const notifier = await new Notifier({ bus, store, webhooks: [{ name: 'money', url: `http://127.0.0.1:${receiver.port}/budget`, target: 'http://127.0.0.1/…', kinds: ['budget'] }], policy, warn: (line) => warnings.push(line) }).start();
    try {
      const supervisor = new Supervisor({ config, store, bus, messages: writer, cliPath: cliPath(), untilIdle: true, signal: new AbortController().signal, pollIntervalMs: 100 });
      await supervisor.prepare();
      expect((await supervisor.run()).stoppedBy).toBe('budget');
      await writer.close();
      await notifier.close({ graceMs: 30_000 });
      const [architect] = await store.listRuns({ agent: 'architect' });
      expect(receiver.received.map((hook) => hook.body.event)).toEqual(['budget', 'budget']);
      // Either may come first: the day's budget is seen by the scheduler's next pass, the run's by its step.
      const run = receiver.received.find((hook) => hook.body.run !== null)?.body;
      const day = receiver.received.find((hook) => hook.body.run === null)?.body;
      // The session stopped at its cap ($0.05, the day's remainder), named with its item and run.
      expect(run).toMatchObject({ item: { id: 'P-1', title: 'Costly' }, run: architect!.id });
      expect(run!.text).toMatch(/^Budget reached \(PRIORITY 1 "Costly" \(P-1\)\): architect run /);
      // Then the day: no new session until tomorrow.
      expect(day).toMatchObject({ item: null, run: null });
      expect(day!.text).toMatch(/^Budget reached: daily budget of \$0\.05 reached \(\$\d+\.\d{4} spent today\): no new sessions until tomorrow$/);
      expect((await store.listEvents({ limit: 1000 })).filter((event) => event.kind === 'budget.reached').map((event) => event.data.scope).sort()).toEqual(['day', 'run']);
      expect(warnings).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
