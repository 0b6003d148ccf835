import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AGENTS } from '../../src/agents/index.js';
import { SqliteStore, type Store } from '../../src/store/index.js';
import type { RunRecord } from '../../src/store/index.js';
import { isProcessAlive } from '../../src/runtime/index.js';
import { STOP_SEEN_EVENT } from '../../src/orchestrator/index.js';
import { runCli, startCli, waitCli } from '../helpers/cli.js';
import { sessionEnv, useScriptedModel } from '../helpers/model.js';
import { liveProcessesOfRun } from '../helpers/processes.js';
import { tmpRepo } from '../helpers/tmp-repo.js';

const model = useScriptedModel();

async function repoWithAgents() {
  const files: Record<string, string> = { 'README.md': '# sample\n' };
  for (const [name, text] of Object.entries(DEFAULT_AGENTS)) files[`.claude/agents/${name}.md`] = text;
  return tmpRepo({ files });
}

const dbOf = (root: string) => join(root, '.orchestrator', 'orchestrator.db');

async function withStore<T>(root: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = SqliteStore.open(dbOf(root));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function waitForRun(root: string, predicate: (run: RunRecord) => boolean, timeoutMs = 30_000): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await withStore(root, async (store) => (await store.listRuns({ limit: 5 })).find(predicate) ?? null).catch(() => null);
    if (found) return found;
    await sleep(100);
  }
  throw new Error('run did not reach the expected state');
}

describe('orchestrator run (the real CLI against the scripted model)', () => {
  it('records a multi-turn session: run, invocation with the exact usage and cost of the result message, every message', async () => {
    await using repo = await repoWithAgents();
    model.addScenarios([
      {
        name: 'developer',
        turns: [
          { text: 'Adding the file.', tools: [{ name: 'Write', input: { file_path: '{{cwd}}/src/add.js', content: 'export const add = (a, b) => a + b;\n' } }], usage: { input_tokens: 1500, output_tokens: 120, cache_read_input_tokens: 300 } },
          { tools: [{ name: 'Bash', input: { command: 'node -e "import(\'./src/add.js\').then(m => console.log(m.add(2, 3)))"', description: 'Check it' } }], usage: { input_tokens: 1700, output_tokens: 60 } },
          { text: 'IMPLEMENTED: add', usage: { input_tokens: 1800, output_tokens: 15 } },
        ],
      },
    ]);
    const result = await runCli(['run', 'code-developer', 'Add an add() function in src/add.js', '--json'], { cwd: repo.path, env: sessionEnv(model) });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(await readFile(join(repo.path, 'src/add.js'), 'utf8')).toBe('export const add = (a, b) => a + b;\n');
    const printed = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; payload: Record<string, unknown> });
    const resultMessage = printed.find((record) => record.type === 'result')!.payload;
    await withStore(repo.path, async (store) => {
      const [run] = await store.listRuns();
      expect(run).toMatchObject({ agent: 'code-developer', status: 'succeeded', exitCode: 0, cwd: repo.path, errorKind: null });
      expect(run!.pid).toBeGreaterThan(1);
      const [invocation] = await store.listInvocations(run!.id);
      expect(invocation).toMatchObject({
        status: 'succeeded',
        inputTokens: 5000,
        outputTokens: 195,
        cacheReadInputTokens: 300,
        numTurns: 3,
        resultSubtype: 'success',
        resultText: 'IMPLEMENTED: add',
        cliVersion: '2.1.197',
        sessionId: resultMessage.session_id,
      });
      expect(invocation!.costUsd).toBe(resultMessage.total_cost_usd);
      expect(invocation!.costUsd).toBeGreaterThan(0);
      const messages = await store.listMessages({ invocationId: invocation!.id });
      expect(messages.map((m) => m.seq)).toEqual(printed.map((_, index) => index + 1));
      expect(messages.map((m) => m.type)).toEqual(printed.map((record) => record.type));
      expect(messages.filter((m) => m.toolName).map((m) => m.toolName)).toEqual(['Write', 'Bash']);
      const bashResult = messages.find((m) => m.type === 'user' && JSON.stringify(m.payload).includes('"5'));
      expect(bashResult).toBeDefined();
    });
  });

  it('records an API error the CLI cannot get past as failed, with its reason, and exits 1', async () => {
    await using repo = await repoWithAgents();
    model.addScenarios([{ name: 'overloaded', turns: [0, 1].map(() => ({ error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } })) }]);
    const result = await runCli(['run', 'architect', 'Write a spec'], { cwd: repo.path, env: sessionEnv(model) });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain('reason:');
    await withStore(repo.path, async (store) => {
      const [run] = await store.listRuns();
      expect(run).toMatchObject({ status: 'failed', errorKind: 'api_error' });
      expect(run!.errorMessage).toContain('HTTP 529');
      const [invocation] = await store.listInvocations(run!.id);
      expect(invocation).toMatchObject({ isError: true, apiErrorStatus: 529, exitCode: 1 });
    });
    expect(model.requests.filter((request) => request.kind === 'turn')).toHaveLength(2);
  });

  it('stops a hung session with the inactivity watchdog: timed_out, and nothing of it left running', async () => {
    await using repo = await repoWithAgents();
    model.addScenarios([{ name: 'hang', turns: [{ tools: [{ name: 'Bash', input: { command: 'node -e "setTimeout(() => {}, 600000)" > /dev/null 2>&1 & echo bg', description: 'bg' } }] }, { hang: true }] }]);
    // Clearly longer than any legitimate silence here (the CLI's start, the Bash call: under 2.5 s each on an idle
    // machine, several times that on a loaded one); the hang lasts until the watchdog ends the session.
    const idleLimitSeconds = 15;
    const result = await runCli(['run', 'code-developer', 'Think forever', '--idle-timeout', String(idleLimitSeconds)], { cwd: repo.path, env: sessionEnv(model) });
    expect(result.exitCode).toBe(1);
    // It fired while the model hung, not in a legitimate gap before: the model got the hanging second request.
    expect(model.requests.filter((request) => request.kind === 'turn').map((request) => request.turnIndex)).toEqual([0, 1]);
    await withStore(repo.path, async (store) => {
      const [run] = await store.listRuns();
      expect(run).toMatchObject({ status: 'timed_out', errorKind: 'inactivity', errorMessage: `session emitted no stream event for ${idleLimitSeconds} s` });
      expect(isProcessAlive(run!.pid!)).toBe(false);
      expect(liveProcessesOfRun(run!.id)).toEqual([]);
    });
  });

  it('is stopped by `orchestrator stop` from another process: stopped, exit 1, process group gone', async () => {
    await using repo = await repoWithAgents();
    model.addScenarios([{ name: 'slow', turns: [{ tools: [{ name: 'Bash', input: { command: 'sleep 120', description: 'long job' } }] }, { text: 'done' }] }]);
    const running = startCli(['run', 'code-developer', 'Run a long job'], { cwd: repo.path, env: sessionEnv(model) });
    const run = await waitForRun(repo.path, (candidate) => candidate.status === 'running' && candidate.pid !== null);
    await model.waitForRequest((request) => request.kind === 'turn');
    await sleep(500);
    const stop = await runCli(['stop', run.id.slice(0, 10)], { cwd: repo.path, env: sessionEnv(model) });
    expect(stop.exitCode).toBe(0);
    expect(stop.stdout).toContain('stopped (interrupted by the orchestrator that runs it)');
    const finished = await waitCli(running, 30_000);
    expect(finished.exitCode).toBe(1);
    await withStore(repo.path, async (store) => {
      const after = await store.getRun(run.id);
      expect(after).toMatchObject({ status: 'stopped', errorKind: 'stop_requested' });
      expect(after!.stopRequestedAt).not.toBeNull();
      // The owner saw the request and interrupted the session through its control channel: the CLI reported its usage.
      const [invocation] = await store.listInvocations(run.id);
      expect(invocation!.resultSubtype).not.toBeNull();
      expect(invocation!.costUsd).toBeGreaterThan(0);
      // …after recording that it saw the request (what `stop` waits for before it would fall back to signals).
      const events = await store.listEvents({ runId: run.id });
      expect(events.map((event) => event.kind)).toContain(STOP_SEEN_EVENT);
    });
    expect(isProcessAlive(run.pid!)).toBe(false);
    expect(liveProcessesOfRun(run.id)).toEqual([]);
  });

  it('stops a session at its cost budget (budgets.perRunUsd): recorded as stopped for budget, with the real cost', async () => {
    await using repo = await repoWithAgents();
    await writeFile(join(repo.path, 'orchestrator.config.json'), JSON.stringify({ budgets: { perRunUsd: 0.05 } }));
    const expensive = { input_tokens: 400_000, output_tokens: 2_000 };
    model.addScenarios([
      {
        name: 'spender',
        turns: [
          { tools: [{ name: 'Bash', input: { command: 'echo one', description: 'one' } }], usage: expensive },
          { tools: [{ name: 'Bash', input: { command: 'echo two', description: 'two' } }], usage: expensive },
          { tools: [{ name: 'Bash', input: { command: 'echo three', description: 'three' } }], usage: expensive },
          { text: 'done' },
        ],
      },
    ]);
    const result = await runCli(['run', 'code-developer', 'Spend a lot'], { cwd: repo.path, env: sessionEnv(model) });
    expect(result.exitCode).toBe(1);
    await withStore(repo.path, async (store) => {
      const [run] = await store.listRuns();
      expect(run).toMatchObject({ status: 'stopped', errorKind: 'budget' });
      expect(run!.errorMessage).toContain('stopped by its cost budget');
      // Checked after each turn, so it overshoots by at most a turn; it never reached the final reply.
      expect(run!.costUsd).toBeGreaterThan(0.05);
      const [invocation] = await store.listInvocations(run!.id);
      expect(invocation!.resultSubtype).toBe('error_max_budget_usd');
    });
    expect(model.requests.filter((request) => request.kind === 'turn').length).toBeLessThan(4);
  });

  it('names the problem and the fix when the CLI is missing or the agent file is', async () => {
    await using repo = await repoWithAgents();
    const missingCli = await runCli(['run', 'architect', 'x'], { cwd: repo.path, env: sessionEnv(model, { CLAUDE_BIN: join(repo.path, 'no-claude') }) });
    expect(missingCli.exitCode).toBe(1);
    expect(missingCli.stderr).toContain('Claude Code CLI not found');
    expect(missingCli.stderr).toContain('fix: ');
    const missingAgent = await runCli(['run', 'designer', 'x'], { cwd: repo.path, env: sessionEnv(model) });
    expect(missingAgent.exitCode).toBe(1);
    expect(missingAgent.stderr).toContain(`${join(repo.path, '.claude/agents/designer.md')}: agent "designer" not found`);
    expect(missingAgent.stderr).toContain('orchestrator init');
  });
});
