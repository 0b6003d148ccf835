import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAgentDefinition } from '../../src/agents/index.js';
import { EventBus, type JsonObject, type MessageRecord, type RunId, type WorkItemId } from '../../src/events/index.js';
import { newSortableId } from '../../src/lib/ids.js';
import { InProcessSessionExecutor, MESSAGE_SENT_EVENT, type SessionJob, type SessionToolSettings } from '../../src/orchestrator/index.js';
import { Role } from '../../src/orchestrator/role-policies.js';
import { MessageWriter, SqliteStore } from '../../src/store/index.js';
import { priceTable } from '../../src/usage/index.js';
import { startDashboard } from '../../src/dashboard/index.js';
import { runCli } from '../helpers/cli.js';
import { cliPath, sessionEnv, testSessionHome, useScriptedModel } from '../helpers/model.js';
import { tmpRepo } from '../helpers/tmp-repo.js';

const model = useScriptedModel();

const ITEM = 'P-1' as WorkItemId;
const OTHER_ITEM = 'P-2' as WorkItemId;

const agent = (name: string) => parseAgentDefinition(`---\nname: ${name}\ndescription: ${name} for the test\ntools: Read\n---\nYou do your part.\n`, `${name}.md`);
const tool = (name: string, input: Record<string, unknown>) => ({ name: `mcp__orchestrator__${name}`, input });

function job(role: Role, prompt: string): SessionJob {
  return {
    workItemId: ITEM,
    role,
    attempt: 1,
    agent: agent(role),
    prompt,
    branch: 'orchestrator/1-widgets',
    paths: {},
    testCommand: null,
    resumeSessionId: null,
    maxBudgetUsd: null,
    defaultModel: null,
    agentPromptOnly: false,
    limits: { timeoutMs: 240_000, idleTimeoutMs: 120_000, stopGraceMs: 2_000, maxTurns: 30 },
  };
}

/** Each tool_use of the run's recorded messages with its tool_result, in order. */
function toolCalls(messages: readonly MessageRecord[]): { name: string; result: string; isError: boolean }[] {
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
  const calls: { name: string; result: string; isError: boolean }[] = [];
  for (const message of messages) {
    if (message.type !== 'assistant') continue;
    for (const block of ((message.payload.message as JsonObject | undefined)?.content ?? []) as JsonObject[]) {
      if (block.type !== 'tool_use') continue;
      const result = results.get(block.id as string);
      calls.push({ name: block.name as string, result: result?.text ?? '(no result)', isError: result?.isError ?? false });
    }
  }
  return calls;
}

describe('send_message and read_messages: agents message each other through the orchestrator (real CLI, scripted model)', () => {
  let scratch: string;
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'orch-session-messages-'));
  });
  afterEach(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('a reviewer messages the developer of its item, as itself, within its caps; the developer’s next session gets it; each reads only its own inbox', async () => {
    await using repo = await tmpRepo({ files: { 'README.md': '# widgets\n' } });
    const store = SqliteStore.open(join(scratch, 'orchestrator.db'));
    const writer = new MessageWriter(store);
    const bus = new EventBus();
    try {
      const at = new Date().toISOString();
      await store.upsertWorkItem({ id: ITEM, kind: 'priority', number: '1', title: 'Widgets', slug: 'widgets', state: 'reviewing', position: 1, at });
      await store.upsertWorkItem({ id: OTHER_ITEM, kind: 'priority', number: '2', title: 'Gadgets', slug: 'gadgets', state: 'planned', position: 2, at });
      // An earlier developer run of the item, ended; and messages that are not the reviewer's to read.
      const earlier = newSortableId() as RunId;
      await store.createRun({ id: earlier, agent: 'code-developer', taskKind: 'code-developer', prompt: 'first try', cwd: repo.path, workItemId: ITEM, attempt: 1, ownerPid: process.pid, host: hostname(), createdAt: at });
      await store.finishRun(earlier, { status: 'succeeded', endedAt: at });
      await store.addAgentMessage({ at, sender: { kind: 'human', label: 'dashboard' }, recipient: { kind: 'run', runId: earlier }, workItemId: ITEM, body: 'FOR-OTHER-RUN: not yours' });
      await store.addAgentMessage({ at, sender: { kind: 'human', label: 'dashboard' }, recipient: { kind: 'role', role: Role.codeReviewer, workItemId: ITEM }, body: 'FOR-REVIEWER: look at the corners' });

      model.addScenarios([
        {
          name: 'reviewer-messages',
          match: { prompt: 'REVIEWER-SESSION' },
          turns: [
            { tools: [tool('send_message', { to: { kind: 'role', role: 'code-developer' }, text: 'REVIEWER-NOTE: the corners must be round.' })] },
            // Unknown recipients: each refused, naming the problem.
            { tools: [tool('send_message', { to: { kind: 'role', role: 'wizard' }, text: 'hello' })] },
            { tools: [tool('send_message', { to: { kind: 'run', run_id: 'zzzz-no-such-run' }, text: 'hello' })] },
            { tools: [tool('send_message', { to: { kind: 'run', run_id: earlier }, text: 'hello' })] },
            { tools: [tool('send_message', { to: { kind: 'role', role: 'code-developer', work_item: 'P-99' }, text: 'hello' })] },
            // Arguments that name another run as the sender: refused before the tool runs.
            { tools: [tool('send_message', { to: { kind: 'human' }, text: 'POSING', sender_run_id: earlier })] },
            { tools: [tool('send_message', { to: { kind: 'role', role: 'architect', run_id: earlier }, text: 'POSING' })] },
            { tools: [tool('send_message', { to: { kind: 'human' }, text: 'HUMAN-NOTE: P-1 needs a decision on the corner radius.' })] },
            { tools: [tool('send_message', { to: { kind: 'role', role: 'architect', work_item: 'p-1' }, text: 'ARCHITECT-NOTE: the spec says nothing about corners.' })] },
            // The run's cap (3 here): the fourth is refused.
            { tools: [tool('send_message', { to: { kind: 'work_item', work_item: 'P-2' }, text: 'OVER-THE-RUN-CAP' })] },
            { tools: [tool('read_messages', {})] },
            { tools: [tool('read_messages', {})] },
            { text: 'REVIEW WRITTEN: CHANGES REQUESTED' },
          ],
        },
        {
          name: 'developer-reads',
          match: { prompt: 'DEVELOPER-SESSION' },
          turns: [
            { tools: [tool('read_messages', { unread_only: false })] },
            { tools: [tool('send_message', { to: { kind: 'role', role: 'code-reviewer' }, text: 'DEVELOPER-REPLY: rounded them.' })] },
            // The item's cap (4 here, counting the reviewer's three): the next one is refused.
            { tools: [tool('send_message', { to: { kind: 'role', role: 'code-reviewer' }, text: 'OVER-THE-ITEM-CAP' })] },
            { text: 'IMPLEMENTED: round corners' },
          ],
        },
      ]);
      const executor = (settings: Partial<SessionToolSettings>) =>
        new InProcessSessionExecutor({
          store,
          bus,
          messages: writer,
          cliPath: cliPath(),
          env: sessionEnv(model),
          prices: priceTable(),
          sessionTools: { bugsPerRun: 3, messagesPerRun: 20, messagesPerItem: 100, toolTimeoutMs: 600_000, ...settings },
        });

      // The reviewer.
      const { run: reviewer } = await executor({ messagesPerRun: 3 }).run(job(Role.codeReviewer, 'REVIEWER-SESSION: review P-1'), repo.path, new AbortController().signal);
      expect(reviewer.status, reviewer.errorMessage ?? '').toBe('succeeded');
      const reviewerCalls = toolCalls(await store.listMessages({ runId: reviewer.id, limit: 10_000 }));
      expect(reviewerCalls.map((call) => [call.name.replace('mcp__orchestrator__', ''), call.isError])).toEqual([
        ['send_message', false],
        ['send_message', true],
        ['send_message', true],
        ['send_message', true],
        ['send_message', true],
        ['send_message', true],
        ['send_message', true],
        ['send_message', false],
        ['send_message', false],
        ['send_message', true],
        ['read_messages', false],
        ['read_messages', false],
      ]);
      const [toDeveloper, noRole, noRun, endedRun, noItem, posing, posingNested, toHuman, toArchitect, overRunCap, firstRead, secondRead] = reviewerCalls.map((call) => call.result);
      expect(toDeveloper).toMatch(/^Sent message \d+ to the code-developer of P-1\.$/);
      expect(noRole).toContain('Not sent: there is no role "wizard" on P-1. Name one of: architect, code-developer, code-reviewer');
      expect(noRun).toContain('Not sent: there is no run "zzzz-no-such-run"');
      expect(endedRun).toContain(`run ${earlier} (code-developer) has ended (succeeded)`);
      expect(endedRun).toContain('"kind": "role", "role": "code-developer", "work_item": "P-1"');
      expect(noItem).toContain('Not sent: there is no work item "P-99"');
      expect(posing).toContain('sender_run_id');
      expect(posingNested).toContain('run_id');
      expect(toHuman).toMatch(/^Sent message \d+ to the people watching the orchestrator/);
      expect(toArchitect).toMatch(/^Sent message \d+ to the architect of P-1\.$/);
      expect(overRunCap).toContain('Not sent: this run has already sent 3 messages, the limit per run (3, config sessionTools.messagesPerRun)');
      // The reviewer's inbox: the person's message to the reviewer of P-1 (in its prompt already), marked read; not
      // the message to another run, nor what it sent itself.
      expect(firstRead).toContain('1 message for you');
      expect(firstRead).toContain('from a person (dashboard) to the code-reviewer of P-1');
      expect(firstRead).toContain('> FOR-REVIEWER: look at the corners');
      expect(firstRead).not.toContain('FOR-OTHER-RUN');
      expect(firstRead).not.toContain('REVIEWER-NOTE');
      expect(secondRead).toBe('No unread messages for you.');
      expect(reviewer.prompt).toContain('FOR-REVIEWER: look at the corners');

      // Stored as sent by the reviewer's run and role, whatever the arguments said; the person's message is on the dashboard's list.
      const sent = (await store.listAgentMessages({ limit: 1000 })).filter((message) => message.senderKind === 'agent');
      expect(sent.map((message) => [message.senderRunId, message.senderRole, message.recipientKind, message.recipientRole, message.recipientWorkItemId, message.workItemId, message.body])).toEqual([
        [reviewer.id, 'code-reviewer', 'role', 'code-developer', ITEM, ITEM, 'REVIEWER-NOTE: the corners must be round.'],
        [reviewer.id, 'code-reviewer', 'human', null, null, ITEM, 'HUMAN-NOTE: P-1 needs a decision on the corner radius.'],
        [reviewer.id, 'code-reviewer', 'role', 'architect', ITEM, ITEM, 'ARCHITECT-NOTE: the spec says nothing about corners.'],
      ]);
      expect((await store.listAgentMessages({ recipientKind: 'human', limit: 100 })).map((message) => message.body)).toEqual(['HUMAN-NOTE: P-1 needs a decision on the corner radius.']);
      const sentEvents = (await store.listEvents({ runId: reviewer.id, limit: 1000 })).filter((event) => event.kind === MESSAGE_SENT_EVENT);
      expect(sentEvents.map((event) => event.message)).toEqual([
        `code-reviewer sent message ${sent[0]!.id} to the code-developer of P-1`,
        `code-reviewer sent message ${sent[1]!.id} to the people watching the orchestrator (its dashboard)`,
        `code-reviewer sent message ${sent[2]!.id} to the architect of P-1`,
      ]);

      // The developer's next session: the reviewer's note in its prompt, and in its inbox; not the reviewer's inbox.
      const { run: developer } = await executor({ messagesPerItem: 4 }).run(job(Role.codeDeveloper, 'DEVELOPER-SESSION: round the corners'), repo.path, new AbortController().signal);
      expect(developer.status, developer.errorMessage ?? '').toBe('succeeded');
      expect(developer.prompt).toContain('## Messages for you');
      expect(developer.prompt).toContain(`From agent "code-reviewer" of P-1 (run ${reviewer.id.slice(0, 12)})`);
      expect(developer.prompt).toContain('> REVIEWER-NOTE: the corners must be round.');
      const developerCalls = toolCalls(await store.listMessages({ runId: developer.id, limit: 10_000 }));
      expect(developerCalls.map((call) => call.isError)).toEqual([false, false, true]);
      const [developerRead, reply, overItemCap] = developerCalls.map((call) => call.result);
      expect(developerRead).toContain('1 message for you (1 unread)');
      expect(developerRead).toContain(`from agent "code-reviewer" of P-1 (run ${reviewer.id.slice(0, 12)}) to the code-developer of P-1`);
      expect(developerRead).toContain('> REVIEWER-NOTE: the corners must be round.');
      for (const other of ['FOR-REVIEWER', 'FOR-OTHER-RUN', 'ARCHITECT-NOTE', 'HUMAN-NOTE']) expect(developerRead).not.toContain(other);
      expect(reply).toMatch(/^Sent message \d+ to the code-reviewer of P-1\.$/);
      expect(overItemCap).toContain('Not sent: agents have already sent 4 messages on P-1, the limit per work item (4, config sessionTools.messagesPerItem)');

      const note = sent[0]!;
      expect(await store.getAgentMessage(note.id)).toMatchObject({ deliveredToRun: developer.id, readAt: expect.any(String) });
      // The architect's note waits for the architect's next session; the over-the-cap messages were never stored.
      expect(await store.getAgentMessage(sent[2]!.id)).toMatchObject({ deliveredAt: null, readAt: null });
      const bodies = (await store.listAgentMessages({ limit: 1000 })).map((message) => message.body);
      expect(bodies.filter((body) => body.startsWith('OVER-THE') || body === 'POSING')).toEqual([]);
    } finally {
      await writer.close();
      await store.close();
    }
  });

  it('the demo shows an agent-to-agent message and a progress report, on the dashboard', async () => {
    const demoDir = join(scratch, 'demo');
    const demo = await runCli(['demo', '--dir', demoDir, '--no-keep-open', '--no-dashboard', '--pace', '0'], {
      cwd: scratch,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: testSessionHome(), CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' },
      timeoutMs: 280_000,
    });
    expect(demo.exitCode, `${demo.stdout}\n${demo.stderr}`).toBe(0);
    expect(demo.stdout.match(/✅/g)?.length ?? 0).toBeGreaterThanOrEqual(3);

    const store = SqliteStore.open(join(demoDir, '.orchestrator', 'orchestrator.db'));
    const dashboard = await startDashboard({ store, bus: null, controls: null, host: '127.0.0.1', port: 0, token: null, staticDir: null, repoRoot: demoDir, version: 'test' });
    try {
      // The architect of each item warned its developer, and the developer's session got it in its prompt.
      const { messages } = (await (await fetch(new URL('/api/agent-messages', dashboard.url), { headers: { 'X-Orchestrator-Request': '1' } })).json()) as { messages: { senderRole: string; recipientRole: string; recipientWorkItemId: string; deliveredToRun: string | null; body: string }[] };
      messages.sort((a, b) => a.recipientWorkItemId.localeCompare(b.recipientWorkItemId));
      expect(messages.map((message) => [message.senderRole, message.recipientRole, message.recipientWorkItemId])).toEqual([
        ['architect', 'code-developer', 'P-1'],
        ['architect', 'code-developer', 'P-2'],
        ['architect', 'code-developer', 'P-3'],
      ]);
      const first = messages[0]!;
      expect(first.body).toContain('Heads-up for PRIORITY 1 (Slugify helper)');
      const developerRun = await store.getRun(first.deliveredToRun as RunId);
      expect(developerRun).toMatchObject({ agent: 'code-developer', workItemId: 'P-1', status: 'succeeded' });
      expect(developerRun?.prompt).toContain('## Messages for you');
      expect(developerRun?.prompt).toContain('Heads-up for PRIORITY 1 (Slugify helper)');

      // The developer reported its progress once, in its run's timeline on the dashboard.
      const detail = (await (await fetch(new URL(`/api/runs/${developerRun!.id}`, dashboard.url), { headers: { 'X-Orchestrator-Request': '1' } })).json()) as { events: { kind: string; message: string }[] };
      expect(detail.events.filter((event) => event.kind === 'run.progress').map((event) => event.message)).toEqual(['tests pass; committing (90%)']);
    } finally {
      await dashboard.close();
      await store.close();
    }
  });
});
