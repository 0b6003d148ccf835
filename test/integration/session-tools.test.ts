import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAgentDefinition } from '../../src/agents/index.js';
import { EventBus, type JsonObject, type MessageRecord, type RunId, type RunProgressEvent, type WorkItemId } from '../../src/events/index.js';
import { newSortableId } from '../../src/lib/ids.js';
import { InProcessSessionExecutor, runAgent, runRemoteSession, sessionToolServer, UNATTENDED_TEXT, type SessionJob } from '../../src/orchestrator/index.js';
import { Role } from '../../src/orchestrator/role-policies.js';
import { MessageWriter, SqliteStore } from '../../src/store/index.js';
import { priceTable } from '../../src/usage/index.js';
import { cliPath, sessionEnv, useScriptedModel } from '../helpers/model.js';
import { tmpRepo } from '../helpers/tmp-repo.js';

const model = useScriptedModel();

const ITEM = 'P-1' as WorkItemId;
const SPEC = 'docs/specs/SPEC-1-widgets.md';
const REVIEW = 'docs/reviews/REVIEW-1-abc1234.md';

/** An agent file that lists only Read: the orchestrator's tools must still be there. */
const READ_ONLY_AGENT = parseAgentDefinition('---\nname: code-developer\ndescription: Works with Read alone\ntools: Read\n---\nYou read files.\n', 'code-developer.md');

const tool = (name: string, input: Record<string, unknown>) => ({ name: `mcp__orchestrator__${name}`, input });

function job(prompt: string): SessionJob {
  return {
    workItemId: ITEM,
    role: Role.codeDeveloper,
    attempt: 2,
    agent: READ_ONLY_AGENT,
    prompt,
    branch: 'orchestrator/1-widgets',
    paths: {},
    testCommand: null,
    resumeSessionId: null,
    maxBudgetUsd: null,
    defaultModel: null,
    agentPromptOnly: false,
    limits: { timeoutMs: 120_000, idleTimeoutMs: 60_000, stopGraceMs: 2_000, maxTurns: 20 },
  };
}

/** Each tool_use of the run's recorded messages with its tool_result, in order. */
function toolCalls(messages: readonly MessageRecord[]): { name: string; input: JsonObject; result: string; isError: boolean }[] {
  const results = new Map<string, { text: string; isError: boolean }>();
  for (const message of messages) {
    if (message.type !== 'user') continue;
    const content = (message.payload.message as JsonObject | undefined)?.content;
    if (!Array.isArray(content)) continue;
    for (const block of content as JsonObject[]) {
      if (block.type !== 'tool_result') continue;
      const text = typeof block.content === 'string' ? block.content : (block.content as JsonObject[]).map((part) => (typeof part.text === 'string' ? part.text : '')).join('\n');
      results.set(block.tool_use_id as string, { text, isError: block.is_error === true });
    }
  }
  const calls: { name: string; input: JsonObject; result: string; isError: boolean }[] = [];
  for (const message of messages) {
    if (message.type !== 'assistant') continue;
    const content = (message.payload.message as JsonObject | undefined)?.content;
    for (const block of (content ?? []) as JsonObject[]) {
      if (block.type !== 'tool_use') continue;
      const result = results.get(block.id as string);
      calls.push({ name: block.name as string, input: block.input as JsonObject, result: result?.text ?? '(no result)', isError: result?.isError ?? false });
    }
  }
  return calls;
}

describe('the orchestrator’s tools, served to every session over its control channel (real CLI, scripted model)', () => {
  let scratch: string;
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'orch-session-tools-'));
  });
  afterEach(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('a session whose agent lists only Read reports progress, files bugs up to its limit and reads its work item, as itself', async () => {
    await using repo = await tmpRepo({
      files: {
        'README.md': '# widgets\n',
        [SPEC]: '# SPEC 1: Widgets\n\nSPEC-MARKER: widgets are round.\n',
        [REVIEW]: '# Review of PRIORITY 1\n\nREVIEW-MARKER: the corners are square.\n\nVerdict: CHANGES REQUESTED\n',
      },
    });
    const store = SqliteStore.open(join(scratch, 'orchestrator.db'));
    const writer = new MessageWriter(store);
    const bus = new EventBus();
    const progress: RunProgressEvent[] = [];
    bus.on('run.progress', (event) => progress.push(event));
    // The environment the CLI runs with: its MCP tool timeout is the configured one (the default here).
    const environs: string[] = [];
    bus.on('run.started', (event) => environs.push(readFileSync(`/proc/${event.pid}/environ`, 'utf8')));
    try {
      // The item as the supervisor leaves it after a first attempt the reviewer sent back.
      const at = new Date().toISOString();
      await store.upsertWorkItem({ id: ITEM, kind: 'priority', number: '1', title: 'Widgets', slug: 'widgets', state: 'planned', position: 1, body: 'ROADMAP-MARKER: build the widgets.', at });
      await store.updateWorkItem(ITEM, { specPath: SPEC, reviewPath: REVIEW, branch: 'orchestrator/1-widgets', attempts: { 'code-developer': 2 }, updatedAt: at });
      await store.transitionWorkItem(ITEM, 'planned', 'implementing', 'spec ready: the developer takes it', at);
      const earlier = newSortableId() as RunId;
      await store.createRun({ id: earlier, agent: 'code-developer', taskKind: 'code-developer', prompt: 'first try', cwd: repo.path, workItemId: ITEM, attempt: 1, ownerPid: process.pid, host: hostname(), createdAt: at });
      await store.finishRun(earlier, { status: 'failed', endedAt: at, errorKind: 'error_result', errorMessage: 'EARLIER-FAILURE-MARKER: the tests failed (2 failing)' });
      await store.appendEvent({ at, kind: 'attempt.failed', workItemId: ITEM, message: 'code-developer attempt 1 of 3 not accepted: ATTEMPT-MARKER tests failed' });

      model.addScenarios([
        {
          name: 'session-tools',
          match: { prompt: 'SESSION-TOOLS' },
          turns: [
            { tools: [tool('report_progress', { status: 'reading the spec', percent: 25 })] },
            { tools: [tool('file_bug', { title: 'Parser drops the last line', body: 'Steps: parse a file without a final newline.', severity: 'high' })] },
            { tools: [tool('file_bug', { title: 'Logger leaks handles', body: 'Open files grow by one per run.', severity: 'medium' })] },
            { tools: [tool('file_bug', { title: 'Typo in the help', body: '"recieve" in orchestrator --help.', severity: 'low' })] },
            { tools: [tool('file_bug', { title: 'A fourth bug', body: 'Over the limit.', severity: 'low' })] },
            { tools: [tool('work_item', {})] },
            // An argument that names another run is refused: the caller is the channel's, never an argument's.
            { tools: [tool('report_progress', { status: 'posing as someone else', run_id: 'someone-else' })] },
            { text: 'COMPLETE: used the tools' },
          ],
        },
      ]);
      const executor = new InProcessSessionExecutor({ store, bus, messages: writer, cliPath: cliPath(), env: sessionEnv(model), prices: priceTable() });
      const { run } = await executor.run(job('SESSION-TOOLS: use the orchestrator tools'), repo.path, new AbortController().signal, { integrationBranch: 'main' });
      expect(run.status, run.errorMessage ?? '').toBe('succeeded');
      expect(environs).toHaveLength(1);
      expect(environs[0]).toContain('\0MCP_TOOL_TIMEOUT=86400000\0');

      // The CLI offered the agent's one tool and the orchestrator's, nothing else.
      const firstTurn = model.requests.find((request) => request.kind === 'turn' && request.turnIndex === 0);
      expect(firstTurn?.body?.tools?.map((offered) => offered.name).sort()).toEqual(['Read', 'mcp__orchestrator__ask_human', 'mcp__orchestrator__file_bug', 'mcp__orchestrator__read_messages', 'mcp__orchestrator__report_progress', 'mcp__orchestrator__send_message', 'mcp__orchestrator__work_item']);

      // Every call is recorded like any other tool call: in the run's messages, with its result.
      const messages = await store.listMessages({ runId: run.id, limit: 10_000 });
      expect(messages.filter((message) => message.toolName !== null).map((message) => message.toolName)).toEqual([
        'mcp__orchestrator__report_progress',
        'mcp__orchestrator__file_bug',
        'mcp__orchestrator__file_bug',
        'mcp__orchestrator__file_bug',
        'mcp__orchestrator__file_bug',
        'mcp__orchestrator__work_item',
        'mcp__orchestrator__report_progress',
      ]);
      const calls = toolCalls(messages);
      expect(calls.map((call) => call.isError)).toEqual([false, false, false, false, true, false, true]);

      // report_progress: a run.progress event in the store (and on this process's bus), as this run, for its item.
      const events = await store.listEvents({ runId: run.id, limit: 10_000 });
      const progressEvents = events.filter((event) => event.kind === 'run.progress');
      expect(progressEvents).toHaveLength(1);
      expect(progressEvents[0]).toMatchObject({ runId: run.id, workItemId: ITEM, message: 'reading the spec (25%)', data: { status: 'reading the spec', percent: 25 } });
      expect(progress).toEqual([expect.objectContaining({ runId: run.id, workItemId: ITEM, status: 'reading the spec', percent: 25 })]);

      // file_bug: three bugs in the queue, each linked to the run that filed them; the fourth refused.
      const bugs = await store.listWorkItems({ kind: 'bug' });
      expect(bugs.map((bug) => [bug.id, bug.title, bug.severity, bug.state])).toEqual([
        ['B-1', 'Parser drops the last line', 'high', 'planned'],
        ['B-2', 'Logger leaks handles', 'medium', 'planned'],
        ['B-3', 'Typo in the help', 'low', 'planned'],
      ]);
      for (const bug of bugs) expect(bug.body).toContain(`Filed by the code-developer session of run ${run.id} while it worked on P-1.`);
      expect(events.filter((event) => event.kind === 'bug.filed').map((event) => event.workItemId)).toEqual(['B-1', 'B-2', 'B-3']);
      expect(calls[1]?.result).toBe("Filed bug 1 (B-1, high): Parser drops the last line. It is in the orchestrator's queue for the bug fixer.");
      expect(calls[4]?.result).toContain('Not filed: this run has already filed 3 bugs, the limit per run (3');

      // work_item: the item's text, spec, latest review, history and the reasons earlier attempts failed.
      const item = calls[5]!.result;
      expect(item).toContain('# P-1 (PRIORITY 1): Widgets');
      expect(item).toContain('ROADMAP-MARKER: build the widgets.');
      expect(item).toContain(`## Spec: ${SPEC} (your worktree)`);
      expect(item).toContain('SPEC-MARKER: widgets are round.');
      expect(item).toContain(`## Latest review: ${REVIEW} (your worktree)`);
      expect(item).toContain('REVIEW-MARKER: the corners are square.');
      expect(item).toContain(`code-developer run ${earlier} (attempt 1) failed: EARLIER-FAILURE-MARKER: the tests failed (2 failing)`);
      expect(item).toContain('ATTEMPT-MARKER tests failed');
      expect(item).toContain('work_item.transitioned: spec ready: the developer takes it');
      expect(item).not.toContain('run.progress');

      // An argument naming another run is refused, and nothing is recorded for it.
      expect(calls[6]?.result).toContain('run_id');
      expect(progressEvents.some((event) => event.message.includes('posing'))).toBe(false);
      expect((await store.listEvents({ limit: 10_000 })).filter((event) => event.kind === 'run.progress')).toHaveLength(1);

      // No call was denied: the permission hook lets every session use them, whatever its agent file lists.
      const [invocation] = await store.listInvocations(run.id);
      expect(invocation?.permissionDenials).toEqual([]);
    } finally {
      await writer.close();
      await store.close();
    }
  });

  it('a session a worker runs (its own clone of the shared remote) gets the same tools, acting through the shared store', async () => {
    await using repo = await tmpRepo({ files: { 'README.md': '# widgets\n', [SPEC]: '# SPEC 1\n\nWORKER-SPEC-MARKER\n' } });
    const remote = join(scratch, 'shared.git');
    execFileSync('git', ['clone', '-q', '--bare', repo.path, remote]);
    const store = SqliteStore.open(join(scratch, 'shared.db'));
    const writer = new MessageWriter(store);
    try {
      const at = new Date().toISOString();
      await store.upsertWorkItem({ id: ITEM, kind: 'priority', number: '1', title: 'Widgets', slug: 'widgets', state: 'implementing', position: 1, at });
      await store.updateWorkItem(ITEM, { specPath: SPEC, branch: 'orchestrator/1-widgets', updatedAt: at });
      model.addScenarios([
        {
          name: 'worker-tools',
          match: { prompt: 'WORKER-TOOLS' },
          turns: [
            { tools: [tool('report_progress', { status: 'on the worker', percent: 60 })] },
            { tools: [tool('work_item', {})] },
            { tools: [tool('ask_human', { question: 'Keep the old name?' })] },
            { text: 'COMPLETE' },
          ],
        },
      ]);
      // The worker's own executor, as `orchestrator worker` makes it: no integration branch of its own (the job names it),
      // and ask_human would wait (a worker cannot tell whether anybody is at hand; the job says so).
      const executor = new InProcessSessionExecutor({ store, bus: new EventBus(), messages: writer, cliPath: cliPath(), env: sessionEnv(model), prices: priceTable() });
      const runId = newSortableId() as RunId;
      const outcome = await runRemoteSession(
        // Queued by a coordinator that runs unattended (--until-idle): ask_human falls back at once on the worker too.
        { runId, session: { ...job('WORKER-TOOLS: report and read'), askHuman: 'fallback' }, remote, integrationBranch: 'main' },
        { executor, cacheDir: join(scratch, 'worker'), signal: new AbortController().signal },
      );
      expect(outcome.run).toMatchObject({ id: runId, status: 'succeeded' });
      const calls = toolCalls(await store.listMessages({ runId, limit: 1000 }));
      expect(calls.map((call) => [call.name, call.isError])).toEqual([
        ['mcp__orchestrator__report_progress', false],
        ['mcp__orchestrator__work_item', false],
        ['mcp__orchestrator__ask_human', false],
      ]);
      expect(calls[2]?.result).toContain(UNATTENDED_TEXT);
      expect((await store.listQuestions({ runId })).map((question) => question.state)).toEqual(['expired']);
      expect(calls[1]?.result).toContain(`## Spec: ${SPEC} (your worktree)`);
      expect(calls[1]?.result).toContain('WORKER-SPEC-MARKER');
      const progress = (await store.listEvents({ runId, limit: 100 })).filter((event) => event.kind === 'run.progress');
      expect(progress.map((event) => event.message)).toEqual(['on the worker (60%)']);
    } finally {
      await writer.close();
      await store.close();
    }
  });

  it('a session with no work item (an ad-hoc run) is told so', async () => {
    await using repo = await tmpRepo();
    const store = SqliteStore.open(join(scratch, 'adhoc.db'));
    const writer = new MessageWriter(store);
    const bus = new EventBus();
    try {
      model.addScenarios([
        {
          name: 'adhoc-work-item',
          match: { prompt: 'ADHOC' },
          turns: [{ tools: [tool('work_item', {})] }, { text: 'COMPLETE' }],
        },
      ]);
      const { run } = await runAgent({
        store,
        bus,
        messages: writer,
        cliPath: cliPath(),
        agent: READ_ONLY_AGENT,
        prompt: 'ADHOC: what is my work item?',
        cwd: repo.path,
        env: sessionEnv(model),
        taskKind: 'adhoc',
        mcpServers: (runId) => [
          sessionToolServer({ runId, role: 'code-developer', workItemId: null, store, bus, cwd: repo.path, integrationBranch: null, settings: { bugsPerRun: 3, messagesPerRun: 20, messagesPerItem: 100, toolTimeoutMs: 5_400_000 } }),
        ],
      });
      expect(run.status, run.errorMessage ?? '').toBe('succeeded');
      const calls = toolCalls(await store.listMessages({ runId: run.id, limit: 1000 }));
      expect(calls).toEqual([
        {
          name: 'mcp__orchestrator__work_item',
          input: {},
          result: 'This session works on no work item (an ad-hoc run of the code-developer agent): there is no spec, review or history to show. Your task is the prompt you were given.',
          isError: false,
        },
      ]);
    } finally {
      await writer.close();
      await store.close();
    }
  });
});
