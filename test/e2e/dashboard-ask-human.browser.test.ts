import { describe, expect, it } from 'vitest';
import { DEFAULT_AGENTS, parseAgentDefinition } from '../../src/agents/index.js';
import { dashboardUiDir } from '../../src/cli/commands/dashboard.js';
import type { WorkItemId } from '../../src/events/index.js';
import { DEFAULT_SESSION_TOOL_SETTINGS, InProcessSessionExecutor, type SessionJob } from '../../src/orchestrator/index.js';
import { Role } from '../../src/orchestrator/role-policies.js';
import type { RecordedRequest } from '../../src/scripted-model/index.js';
import { priceTable } from '../../src/usage/index.js';
import { screenshot, useBrowser, watchPageErrors } from '../helpers/browser.js';
import { dashboardHarness } from '../helpers/dashboard.js';
import { cliPath, sessionEnv, useScriptedModel } from '../helpers/model.js';

const model = useScriptedModel();
const chromium = useBrowser();

const turn = (index: number) => (request: RecordedRequest) => request.kind === 'turn' && request.scenario === 'ask-in-browser' && request.turnIndex === index;

/** The tool results of a request's messages, as text. */
function toolResultsOf(request: RecordedRequest): string[] {
  const results: string[] = [];
  for (const message of request.body?.messages ?? []) {
    if (typeof message.content === 'string') continue;
    for (const block of message.content) {
      if (block.type !== 'tool_result') continue;
      const content = block.content;
      results.push(typeof content === 'string' ? content : Array.isArray(content) ? content.map((part: { text?: unknown }) => (typeof part.text === 'string' ? part.text : '')).join('\n') : JSON.stringify(content));
    }
  }
  return results;
}

describe('ask_human answered in the browser (real browser, real CLI)', () => {
  it('a session\'s question shows on Now; the answer clicked there is in the model\'s next request, and the session succeeds', async () => {
    const staticDir = dashboardUiDir();
    expect(staticDir, 'the web UI must be built (npm run build) before the browser tests').not.toBeNull();
    model.addScenarios([
      {
        name: 'ask-in-browser',
        turns: [{ tools: [{ name: 'mcp__orchestrator__ask_human', input: { question: 'Keep the old name as an alias?', choices: ['yes', 'no'] } }] }, { text: 'DONE: kept the alias' }],
      },
    ]);
    const harness = await dashboardHarness(model, { staticDir });
    const page = await chromium.browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors = watchPageErrors(page);
    const sessions = new AbortController();
    let done: Promise<unknown> = Promise.resolve();
    try {
      const job: SessionJob = {
        workItemId: 'P-1' as WorkItemId,
        role: Role.codeDeveloper,
        attempt: 1,
        agent: parseAgentDefinition(DEFAULT_AGENTS['code-developer']!, 'code-developer.md'),
        prompt: 'Rename the helper; ask before dropping the old name',
        branch: 'main',
        paths: {},
        testCommand: null,
        resumeSessionId: null,
        maxBudgetUsd: null,
        defaultModel: null,
        agentPromptOnly: false,
        limits: { timeoutMs: 600_000, idleTimeoutMs: 120_000, stopGraceMs: 3_000, maxTurns: 10 },
      };
      const executor = new InProcessSessionExecutor({
        store: harness.store,
        bus: harness.bus,
        messages: harness.writer,
        cliPath: cliPath(),
        env: sessionEnv(model),
        prices: priceTable(),
        sessionTools: { ...DEFAULT_SESSION_TOOL_SETTINGS, askHumanTimeoutMs: 600_000, askHuman: 'wait' },
      });
      const running = executor.run(job, harness.repo.path, sessions.signal, { integrationBranch: 'main' });
      done = running;

      // The page is open before the question is asked: it shows up live.
      await page.goto(`${harness.dashboard.url}#/now`);
      const item = page.locator('[data-question-id]');
      await item.waitFor({ timeout: 90_000 });
      expect(await item.locator('.question-text').textContent()).toBe('Keep the old name as an alias?');
      await screenshot(page, 'ask-human-now-page');
      const [question] = await harness.store.listQuestions({ state: 'open' });
      expect(question).toBeDefined();
      await item.locator('[data-choice="yes"]').click();

      const next = await model.waitForRequest(turn(1));
      expect(toolResultsOf(next)).toContainEqual(`A person (dashboard) answered question ${question?.id}:\nyes`);
      const { run } = await running;
      expect(run.status, run.errorMessage ?? '').toBe('succeeded');
      expect(await harness.store.getQuestion(question?.id ?? 0)).toMatchObject({ state: 'answered', answer: 'yes', answeredBy: 'dashboard' });
      await item.waitFor({ state: 'detached' });
      expect(errors).toEqual([]);
    } finally {
      sessions.abort();
      await done.catch(() => undefined);
      await page.close();
      await harness.close();
    }
  });
});
