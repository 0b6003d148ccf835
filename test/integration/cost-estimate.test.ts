import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AGENTS } from '../../src/agents/index.js';
import { isProcessAlive } from '../../src/runtime/index.js';
import type { InvocationRecord, RunSummary, UsageRow } from '../../src/store/index.js';
import { priceOf, priceTable } from '../../src/usage/index.js';
import { runCli, startCli, waitCli } from '../helpers/cli.js';
import { postgresTestDatabase, sqliteTestDatabase, withTestStore, type TestDatabase } from '../helpers/databases.js';
import { sessionEnv, useScriptedModel } from '../helpers/model.js';
import { liveProcessesOfRun } from '../helpers/processes.js';
import { tmpRepo } from '../helpers/tmp-repo.js';

const model = useScriptedModel();

async function repoWithAgents() {
  const files: Record<string, string> = { 'README.md': '# sample\n' };
  for (const [name, text] of Object.entries(DEFAULT_AGENTS)) files[`.claude/agents/${name}.md`] = text;
  return tmpRepo({ files });
}

async function database(kind: 'sqlite' | 'postgres', root: string): Promise<TestDatabase> {
  return kind === 'sqlite' ? sqliteTestDatabase(root) : postgresTestDatabase('orch_cost');
}

const withStore = withTestStore;

/** Waits until the store holds the session's Bash call: the model has answered twice and the command runs. */
async function waitForRecordedBash(db: TestDatabase, timeoutMs = 60_000): Promise<RunSummary> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await withStore(db, async (store) => {
      const [run] = await store.listRuns({ limit: 1 });
      if (!run || run.pid === null) return null;
      const messages = await store.listMessages({ runId: run.id, limit: 1000 });
      return messages.some((message) => message.toolName === 'Bash') ? run : null;
    }).catch(() => null);
    if (found) return found;
    await sleep(100);
  }
  throw new Error('the session never recorded its Bash call');
}

/** Two model turns with known input and cache figures, then a long Bash command the test kills the session in. */
const KILLED_SCENARIO = {
  name: 'killed-mid-command',
  turns: [
    { text: 'Writing the file.', tools: [{ name: 'Write', input: { file_path: '{{cwd}}/notes.txt', content: 'alpha\n' } }], usage: { input_tokens: 1500, output_tokens: 80, cache_read_input_tokens: 300, cache_creation_input_tokens: 200 } },
    { tools: [{ name: 'Bash', input: { command: 'sleep 60', description: 'a long build' } }], usage: { input_tokens: 1700, output_tokens: 40, cache_read_input_tokens: 400 } },
    { text: 'IMPLEMENTED: never reached' },
  ],
};
const EXPECTED = { inputTokens: 1500 + 1700, cacheReadInputTokens: 300 + 400, cacheCreationInputTokens: 200 };

/** The estimate's input and cache part is exact; only the output count is estimated from content. */
function expectEstimated(invocation: InvocationRecord): void {
  expect(invocation).toMatchObject({ costEstimated: true, resultSubtype: null, ...EXPECTED });
  expect(invocation.outputTokens).toBeGreaterThanOrEqual(2);
  const price = priceOf(priceTable(), invocation.model)!;
  expect(price).not.toBeNull();
  const inputPart = (EXPECTED.inputTokens * price.price.inputPerMTok + EXPECTED.cacheReadInputTokens * price.price.cacheReadPerMTok + EXPECTED.cacheCreationInputTokens * price.price.cacheWritePerMTok) / 1_000_000;
  expect(invocation.costUsd).toBeCloseTo(inputPart + (invocation.outputTokens * price.price.outputPerMTok) / 1_000_000, 12);
  expect(invocation.costNote).toContain('estimated from 2 API message(s)');
}

async function showAndUsage(root: string, db: TestDatabase, runId: string) {
  const env = sessionEnv(model);
  const show = await runCli([...db.args, 'show', runId, '--json'], { cwd: root, env });
  expect(show.exitCode, show.stderr).toBe(0);
  const shown = JSON.parse(show.stdout) as { run: RunSummary; invocations: InvocationRecord[] };
  const usage = await runCli([...db.args, 'usage', '--json'], { cwd: root, env });
  expect(usage.exitCode, usage.stderr).toBe(0);
  const rows = JSON.parse(usage.stdout) as UsageRow[];
  const text = await runCli([...db.args, 'show', runId], { cwd: root, env });
  return { shown, rows, showText: text.stdout };
}

describe.each(['sqlite', 'postgres'] as const)('cost of a session that ends without the CLI\'s result (the real CLI against the scripted model, %s)', (kind) => {
  it('a session SIGKILLed while its owner lives keeps estimated tokens and cost, marked estimated in show and usage', async () => {
    await using repo = await repoWithAgents();
    await using db = await database(kind, repo.path);
    model.addScenarios([KILLED_SCENARIO]);
    const running = startCli([...db.args, 'run', 'code-developer', 'Write notes.txt and build'], { cwd: repo.path, env: sessionEnv(model) });
    const run = await waitForRecordedBash(db);
    // What the OOM killer or `kill -9` does: the CLI's whole group dies at once, with no chance to write a result.
    process.kill(-run.pid!, 'SIGKILL');
    const finished = await waitCli(running, 60_000);
    expect(finished.exitCode).toBe(1);
    expect(finished.stdout).toMatch(/≈\$\d+\.\d{4} \(estimated\)/);
    expect(isProcessAlive(run.pid!)).toBe(false);
    expect(liveProcessesOfRun(run.id)).toEqual([]);

    const { shown, rows, showText } = await showAndUsage(repo.path, db, run.id);
    expect(shown.run).toMatchObject({ status: 'failed', errorKind: 'missing_result', costEstimated: true, ...EXPECTED });
    const [invocation] = shown.invocations;
    expect(invocation).toMatchObject({ status: 'failed', signal: 'SIGKILL' });
    expectEstimated(invocation!);
    expect(shown.run.costUsd).toBe(invocation!.costUsd);
    expect(rows).toEqual([expect.objectContaining({ key: 'code-developer', costEstimated: true, costUsd: invocation!.costUsd, ...EXPECTED })]);
    expect(showText).toContain(`≈$${invocation!.costUsd.toFixed(6)} (estimated)`);
  });

  it('a session whose orchestrator was SIGKILLed gets estimated tokens and cost when the next command recovers it', async () => {
    await using repo = await repoWithAgents();
    await using db = await database(kind, repo.path);
    model.addScenarios([KILLED_SCENARIO]);
    const owner = startCli([...db.args, 'run', 'code-developer', 'Write notes.txt and build'], { cwd: repo.path, env: sessionEnv(model) });
    const run = await waitForRecordedBash(db);
    owner.kill('SIGKILL');
    await owner.closed;
    // `ps` reconciles runs whose owner is gone: it stops the session's group and closes its invocation.
    const ps = await runCli([...db.args, 'ps'], { cwd: repo.path, env: sessionEnv(model) });
    expect(ps.exitCode).toBe(0);
    expect(isProcessAlive(run.pid!)).toBe(false);
    expect(liveProcessesOfRun(run.id)).toEqual([]);

    const { shown, rows } = await showAndUsage(repo.path, db, run.id);
    expect(shown.run).toMatchObject({ status: 'orphaned', costEstimated: true, ...EXPECTED });
    const [invocation] = shown.invocations;
    expect(invocation).toMatchObject({ status: 'orphaned' });
    expectEstimated(invocation!);
    expect(rows).toEqual([expect.objectContaining({ key: 'code-developer', costEstimated: true, ...EXPECTED })]);
  });
});
