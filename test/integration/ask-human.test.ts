import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_AGENTS } from '../../src/agents/index.js';
import { UNATTENDED_TEXT } from '../../src/orchestrator/index.js';
import type { RecordedRequest } from '../../src/scripted-model/index.js';
import { SqliteStore, type Store } from '../../src/store/index.js';
import { CLI_MAIN, runCli, startCli, waitCli } from '../helpers/cli.js';
import { sessionEnv, useScriptedModel } from '../helpers/model.js';
import { tmpRepo } from '../helpers/tmp-repo.js';

/**
 * `ask_human` end to end (issue 9): a session run by `orchestrator run` (the real CLI against the scripted model)
 * asks a person; the answer given with `orchestrator answer` is in the tool result of its next model request; without
 * an answer the limit gives the fallback; with nobody at hand (no terminal) the fallback comes at once; and the
 * session's own Bash cannot answer. Waits end on conditions (rows in the store, requests the model recorded).
 */

const model = useScriptedModel();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function repoWith(config: Record<string, unknown> | null) {
  const files: Record<string, string> = { 'README.md': '# sample\n' };
  for (const [name, text] of Object.entries(DEFAULT_AGENTS)) files[`.claude/agents/${name}.md`] = text;
  if (config) files['orchestrator.config.json'] = JSON.stringify(config);
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

/** Reads the store until `read` returns a value (another process writes it); the test's timeout bounds the wait. */
async function eventually<T>(root: string, read: (store: Store) => Promise<T | null | undefined>): Promise<T> {
  for (;;) {
    const value = await withStore(root, read).catch(() => null);
    if (value !== null && value !== undefined) return value;
    await sleep(100);
  }
}

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

const turn = (scenario: string, index: number) => (request: RecordedRequest) => request.kind === 'turn' && request.scenario === scenario && request.turnIndex === index;
const ask = (input: Record<string, unknown>) => ({ name: 'mcp__orchestrator__ask_human', input });

describe('ask_human: a session waits for a person (real CLI, scripted model)', () => {
  it('the answer given with `orchestrator answer` is in the next request\'s tool result, and the session goes on to succeed', async () => {
    await using repo = await repoWith({ sessionTools: { askHumanUnattended: 'wait' } });
    model.addScenarios([
      {
        name: 'ask-me',
        match: { prompt: 'ASK-ME' },
        turns: [{ tools: [ask({ question: 'Keep the old API?', choices: ['yes', 'no'] })] }, { text: 'DONE: kept the old API' }],
      },
    ]);
    const env = sessionEnv(model);
    const session = startCli(['run', 'code-developer', 'ASK-ME: ask before you change the API'], { cwd: repo.path, env });
    cleanups.push(async () => void session.kill('SIGKILL'));
    const question = await eventually(repo.path, async (store) => (await store.listQuestions({ state: 'open' }))[0]);
    expect(question).toMatchObject({ text: 'Keep the old API?', choices: ['yes', 'no'], role: 'code-developer', state: 'open' });
    expect(question.deadlineAt).not.toBeNull();
    // `ps` and `status` show the run waiting for a person while the tool call waits.
    const waitingLine = `Waiting for you (1)\n  question ${question.id} from run ${question.runId.slice(0, 12)}: Keep the old API?`;
    const ps = await runCli(['ps'], { cwd: repo.path, env });
    expect(ps.stdout).toContain(waitingLine);
    const status = await runCli(['status'], { cwd: repo.path, env });
    expect(status.stdout).toContain(waitingLine);

    const answered = await runCli(['answer', String(question.id), 'yes, keep it'], { cwd: repo.path, env });
    expect(answered.stderr).toBe('');
    expect(answered.exitCode).toBe(0);

    const next = await model.waitForRequest(turn('ask-me', 1));
    expect(toolResultsOf(next)).toContainEqual(`A person (cli) answered question ${question.id}:\nyes, keep it`);
    const result = await waitCli(session, 120_000);
    expect(result.exitCode, result.stderr).toBe(0);
    await withStore(repo.path, async (store) => {
      expect((await store.getRun(question.runId))?.status).toBe('succeeded');
      expect(await store.getQuestion(question.id)).toMatchObject({ state: 'answered', answer: 'yes, keep it', answeredBy: 'cli' });
      const kinds = (await store.listEvents({ runId: question.runId })).map((event) => event.kind);
      expect(kinds.filter((kind) => kind.startsWith('question.'))).toEqual(['question.asked', 'question.answered']);
    });
  });

  it('the wait does not count toward the session\'s wall-clock limit: answered after the limit has passed, the session still succeeds', async () => {
    const limitSeconds = 40;
    await using repo = await repoWith({ runtime: { timeoutSeconds: limitSeconds }, sessionTools: { askHumanUnattended: 'wait' } });
    model.addScenarios([{ name: 'long-wait', match: { prompt: 'LONG-WAIT' }, turns: [{ tools: [ask({ question: 'Ship it?' })] }, { text: 'DONE: shipped' }] }]);
    const env = sessionEnv(model);
    const session = startCli(['run', 'code-developer', 'LONG-WAIT: ask, then finish'], { cwd: repo.path, env });
    cleanups.push(async () => void session.kill('SIGKILL'));
    const question = await eventually(repo.path, async (store) => (await store.listQuestions({ state: 'open' }))[0]);
    const run = await eventually(repo.path, (store) => store.getRun(question.runId));
    // Answer only once the whole limit has passed since the session started: counted, the wait would have ended it.
    const limitPassesAt = Date.parse(run.startedAt ?? run.createdAt) + limitSeconds * 1000 + 1_000;
    await sleep(Math.max(0, limitPassesAt - Date.now()));
    expect((await withStore(repo.path, (store) => store.getRun(run.id)))?.status).toBe('running');
    const answered = await runCli(['answer', String(question.id), 'yes'], { cwd: repo.path, env });
    expect(answered.exitCode, answered.stderr).toBe(0);
    const result = await waitCli(session, 120_000);
    expect(result.exitCode, result.stderr).toBe(0);
    expect((await withStore(repo.path, (store) => store.getRun(run.id)))?.status).toBe('succeeded');
  });

  it('unanswered, the wait ends at its limit with the fallback and the question expires', async () => {
    await using repo = await repoWith({ sessionTools: { askHumanUnattended: 'wait', askHumanTimeoutSeconds: 1 } });
    model.addScenarios([{ name: 'nobody-answers', match: { prompt: 'NOBODY-ANSWERS' }, turns: [{ tools: [ask({ question: 'Which colour?' })] }, { text: 'DONE: chose blue' }] }]);
    const result = await runCli(['run', 'code-developer', 'NOBODY-ANSWERS: ask about the colour'], { cwd: repo.path, env: sessionEnv(model), timeoutMs: 120_000 });
    expect(result.exitCode, result.stderr).toBe(0);
    const next = model.requests.find(turn('nobody-answers', 1));
    expect(next).toBeDefined();
    expect(toolResultsOf(next as RecordedRequest)).toContainEqual('No answer from a person within 1 second: decide yourself, and say what you assumed.');
    await withStore(repo.path, async (store) => {
      const [question] = await store.listQuestions({});
      expect(question).toMatchObject({ text: 'Which colour?', state: 'expired', answer: null });
    });
  });

  it('with nobody at hand (no terminal, no dashboard) the fallback comes at once, and the question is recorded as expired', async () => {
    await using repo = await repoWith(null);
    model.addScenarios([{ name: 'unattended', match: { prompt: 'UNATTENDED' }, turns: [{ tools: [ask({ question: 'Delete the cache?' })] }, { text: 'DONE: kept the cache' }] }]);
    const result = await runCli(['run', 'code-developer', 'UNATTENDED: ask first'], { cwd: repo.path, env: sessionEnv(model), timeoutMs: 120_000 });
    expect(result.exitCode, result.stderr).toBe(0);
    const next = model.requests.find(turn('unattended', 1));
    expect(next).toBeDefined();
    const [question] = await withStore(repo.path, (store) => store.listQuestions({}));
    expect(question).toMatchObject({ text: 'Delete the cache?', state: 'expired' });
    expect(toolResultsOf(next as RecordedRequest)).toContainEqual(`${UNATTENDED_TEXT} (Question ${question?.id} is recorded.)`);
  });

  it('the session\'s own Bash cannot answer its question: `orchestrator answer` is refused and the question stays open', async () => {
    await using repo = await repoWith({ sessionTools: { askHumanUnattended: 'wait' } });
    // The Bash call waits for the test to name the open question of its run, then tries to answer it.
    const command = `while [ ! -f q.id ]; do sleep 0.1; done; "${process.execPath}" "${CLI_MAIN}" answer "$(cat q.id)" "yes, do it"; echo "answer-exit=$?"`;
    model.addScenarios([
      {
        name: 'self-answer',
        match: { prompt: 'SELF-ANSWER' },
        turns: [{ tools: [{ name: 'Bash', input: { command, description: 'Answer my own question' } }] }, { text: 'DONE: could not answer myself' }],
      },
    ]);
    const env = sessionEnv(model);
    const session = startCli(['run', 'code-developer', 'SELF-ANSWER: try to answer yourself'], { cwd: repo.path, env });
    cleanups.push(async () => void session.kill('SIGKILL'));
    await model.waitForRequest(turn('self-answer', 0));
    const run = await eventually(repo.path, async (store) => (await store.listRuns({ statuses: ['running'], limit: 1 }))[0]);
    const question = await withStore(repo.path, (store) => store.addQuestion({ runId: run.id, role: 'code-developer', text: 'May I drop the table?', at: new Date().toISOString() }));
    await writeFile(join(repo.path, 'q.id'), String(question.id));

    const next = await model.waitForRequest(turn('self-answer', 1));
    const output = toolResultsOf(next).join('\n');
    expect(output).toContain(`\`orchestrator answer\` was run inside the session of run ${run.id}`);
    expect(output).toContain('answer-exit=1');
    const result = await waitCli(session, 120_000);
    expect(result.exitCode, result.stderr).toBe(0);
    await withStore(repo.path, async (store) => {
      expect(await store.getQuestion(question.id)).toMatchObject({ state: 'open', answer: null });
    });
  });
});
