import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startDashboard, type RunningDashboard } from '../../../src/dashboard/index.js';
import { resolveDashboardToken } from '../../../src/dashboard/server.js';
import { EventBus, type InvocationId, type MessageRecord, type RunId, type WorkItemId } from '../../../src/events/index.js';
import { SqliteStore, type RunRecord } from '../../../src/store/index.js';
import { openSse } from '../../helpers/sse.js';

let dir: string;
let store: SqliteStore;
let bus: EventBus;
let dashboard: RunningDashboard;
const stopped: string[] = [];

async function seed(): Promise<void> {
  await store.upsertWorkItem({ id: 'P-1' as WorkItemId, kind: 'priority', number: '1', title: 'Slugify', slug: 'slugify', state: 'planned', position: 0, at: '2026-11-25T09:00:00.000Z' });
  await store.transitionWorkItem('P-1' as WorkItemId, 'planned', 'specifying', 'no spec yet', '2026-11-25T09:00:01.000Z');
  const runs: [string, string, string][] = [
    ['01run0architect00000000000', 'architect', '2026-11-25T09:00:02.000Z'],
    ['01run1developer00000000000', 'code-developer', '2026-11-25T09:01:00.000Z'],
    ['01run2developer00000000000', 'code-developer', '2026-11-25T09:02:00.000Z'],
  ];
  let n = 0;
  for (const [id, agent, createdAt] of runs) {
    n += 1;
    await store.createRun({ id: id as RunId, agent, taskKind: agent, prompt: `do ${agent}`, cwd: dir, workItemId: 'P-1' as WorkItemId, ownerPid: process.pid, host: 'elsewhere', createdAt });
    await store.markRunRunning(id as RunId, { pid: 999_999, startedAt: createdAt });
    const invocationId = `inv${n}` as InvocationId;
    await store.createInvocation({ id: invocationId, runId: id as RunId, prompt: 'p', systemPrompt: null, model: 'claude-sonnet-4-5', resumeSessionId: null, startedAt: createdAt });
    await store.appendMessages(
      Array.from({ length: 5 }, (_, i): MessageRecord => ({
        runId: id as RunId,
        invocationId,
        seq: i + 1,
        at: createdAt,
        type: i === 4 ? 'result' : 'assistant',
        subtype: i === 4 ? 'success' : null,
        toolName: null,
        payload: (i === 4 ? { type: 'result', subtype: 'success', result: 'done', total_cost_usd: 0.5 } : { type: 'assistant', message: { id: `m${i}`, content: [{ type: 'text', text: `step ${i}` }] } }),
      })),
    );
    if (n < 3) {
      await store.finishInvocation(invocationId, {
        status: 'succeeded', endedAt: createdAt, sessionId: `s${n}`, model: 'claude-sonnet-4-5', cliVersion: '2.1.197', durationMs: 1000 * n, durationApiMs: 900, numTurns: 3,
        inputTokens: 100 * n, outputTokens: 10 * n, cacheCreationInputTokens: 0, cacheReadInputTokens: 0, costUsd: 0.5 * n, resultSubtype: 'success', resultText: 'done',
        isError: false, terminalReason: null, apiErrorStatus: null, permissionDenials: [], exitCode: 0, signal: null, stderrTail: '',
      });
      await store.finishRun(id as RunId, { status: 'succeeded', endedAt: createdAt, exitCode: 0 });
    }
  }
}

async function startWith(options: { token?: string | null; controls?: boolean } = {}): Promise<void> {
  dashboard = await startDashboard({
    documents: {
      read: async (item, kind) => (kind === 'spec' && item.id === 'P-1' ? { path: 'docs/specs/SPEC-1-slugify.md', ref: 'main', text: '# Spec\nkey sk-ant-api03-leakedleakedleaked\n' } : null),
    },
    store,
    bus,
    controls:
      options.controls === false
        ? null
        : {
            stopRun: async (run: RunRecord) => {
              stopped.push(run.id);
              return 'stopping';
            },
          },
    host: '127.0.0.1',
    port: 0,
    token: options.token ?? null,
    staticDir: null,
    repoRoot: dir,
    version: 'test',
  });
}

const api = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${dashboard.port}${path}`, init);
const json = async <T>(path: string): Promise<T> => {
  const response = await api(path);
  expect(response.status, `${path}: ${response.status}`).toBe(200);
  return (await response.json()) as T;
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orch-dashboard-'));
  store = SqliteStore.open(join(dir, 'db.sqlite'));
  bus = new EventBus();
  stopped.length = 0;
  await seed();
});

afterEach(async () => {
  await dashboard?.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('dashboard API over a real store', () => {
  it('lists runs newest first with totals, filters, pages by id, and counts', async () => {
    await startWith();
    const all = await json<{ runs: { id: string; costUsd: number; inputTokens: number; workItemTitle: string }[]; total: number; nextBefore: string | null }>('/api/runs');
    expect(all.total).toBe(3);
    expect(all.runs.map((run) => run.id)).toEqual(['01run2developer00000000000', '01run1developer00000000000', '01run0architect00000000000']);
    expect(all.runs[1]).toMatchObject({ costUsd: 1, inputTokens: 200, workItemTitle: 'Slugify' });
    const page = await json<{ runs: { id: string }[]; nextBefore: string | null }>('/api/runs?agent=code-developer&limit=1');
    expect(page.runs.map((run) => run.id)).toEqual(['01run2developer00000000000']);
    const next = await json<{ runs: { id: string }[]; nextBefore: string | null }>(`/api/runs?agent=code-developer&limit=1&before=${page.nextBefore}`);
    expect(next.runs.map((run) => run.id)).toEqual(['01run1developer00000000000']);
    const running = await json<{ runs: { id: string }[]; total: number }>('/api/runs?status=running,queued');
    expect(running).toMatchObject({ total: 1, runs: [{ id: '01run2developer00000000000' }] });
    const since = await json<{ total: number }>('/api/runs?since=2026-11-25T09:00:30Z');
    expect(since.total).toBe(2);
  });

  it('shows a run with its sessions, events and messages, paged by seq', async () => {
    await startWith();
    const detail = await json<{ run: { id: string; costUsd: number; durationMs: number; sessionId: string }; invocations: { id: string }[]; workItem: { title: string } }>('/api/runs/01run1developer00000000000');
    expect(detail.run).toMatchObject({ costUsd: 1, durationMs: 2000, sessionId: 's2' });
    expect(detail.invocations.map((invocation) => invocation.id)).toEqual(['inv2']);
    expect(detail.workItem.title).toBe('Slugify');
    const first = await json<{ messages: { seq: number }[]; more: boolean }>('/api/runs/01run1developer00000000000/messages?invocation=inv2&limit=2');
    expect(first).toMatchObject({ more: true, messages: [{ seq: 1 }, { seq: 2 }] });
    const rest = await json<{ messages: { seq: number }[]; more: boolean }>('/api/runs/01run1developer00000000000/messages?invocation=inv2&after=2&limit=10');
    expect(rest.messages.map((message) => message.seq)).toEqual([3, 4, 5]);
    expect(rest.more).toBe(false);
    // An invocation of another run is not shown under this one.
    expect((await json<{ messages: unknown[] }>('/api/runs/01run1developer00000000000/messages?invocation=inv1')).messages).toEqual([]);
  });

  it('shows now (active and recent), work items with runs and history, and usage with the slowest runs', async () => {
    await startWith();
    const now = await json<{ runs: { id: string }[]; recent: { id: string }[] }>('/api/now');
    expect(now.runs.map((run) => run.id)).toEqual(['01run2developer00000000000']);
    expect(now.recent.map((run) => run.id)).toEqual(['01run1developer00000000000', '01run0architect00000000000']);
    const items = await json<{ items: { id: string; state: string; runs: unknown[]; costUsd: number }[] }>('/api/work-items');
    expect(items.items).toMatchObject([{ id: 'P-1', state: 'specifying', costUsd: 1.5 }]);
    expect(items.items[0]!.runs).toHaveLength(3);
    const item = await json<{ events: { message: string }[] }>('/api/work-items/P-1');
    expect(item.events.map((event) => event.message)).toEqual(['no spec yet']);
    const usage = await json<{ byAgent: { key: string; costUsd: number }[]; byDay: { key: string }[]; slowest: { id: string }[]; totals: { runs: number; costUsd: number } }>('/api/usage');
    expect(usage.byAgent.map((row) => [row.key, row.costUsd])).toEqual([['architect', 0.5], ['code-developer', 1]]);
    expect(usage.byDay.map((row) => row.key)).toEqual(['2026-11-25']);
    expect(usage.slowest.map((run) => run.id)).toEqual(['01run1developer00000000000', '01run0architect00000000000']);
    expect(usage.totals).toMatchObject({ runs: 3, costUsd: 1.5 });
    const filtered = await json<{ totals: { runs: number } }>('/api/usage?agent=architect&status=succeeded');
    expect(filtered.totals.runs).toBe(1);
  });

  it("shows each work item's roadmap note and the problems of the last roadmap read with file:line and the fix", async () => {
    await startWith();
    expect((await json<{ roadmap: unknown }>('/api/work-items')).roadmap).toBeNull();
    await store.updateWorkItem('P-1' as WorkItemId, { note: '(2025-10-19) - HIGH PRIORITY', updatedAt: '2026-11-25T09:05:00.000Z' });
    const problem = { file: 'docs/roadmap/ROADMAP.md', line: 97, severity: 'error' as const, message: 'unknown status "Whenever": PRIORITY 4 is held back', hint: 'Start the status with ✅ Complete' };
    await store.saveRoadmapRead({ path: 'docs/roadmap/ROADMAP.md', branch: 'main', tipSha: 'f'.repeat(40), readAt: '2026-11-25T09:06:00.000Z', itemCount: 5, problems: [problem] });
    const body = await json<{ items: { id: string; note: string | null }[]; roadmap: { branch: string; itemCount: number; problems: unknown[] } }>('/api/work-items');
    expect(body.items.map((item) => [item.id, item.note])).toEqual([['P-1', '(2025-10-19) - HIGH PRIORITY']]);
    expect(body.roadmap).toMatchObject({ branch: 'main', itemCount: 5, problems: [problem] });
  });

  it('lists the work items that wait on now, and carries the wait on every work item; a cleared wait is gone', async () => {
    await startWith();
    expect((await json<{ waiting: unknown[] }>('/api/now')).waiting).toEqual([]);
    await store.upsertWorkItem({ id: 'P-2' as WorkItemId, kind: 'priority', number: '2', title: 'Two', slug: 'two', state: 'spec_ready', position: 1, at: '2026-11-25T09:05:00.000Z' });
    await store.updateWorkItem('P-2' as WorkItemId, { waitingFor: 'slot', waitingDetail: '4 of 4 sessions running', waitingSince: '2026-11-25T09:05:01.000Z', updatedAt: '2026-11-25T09:05:01.000Z' });
    const now = await json<{ waiting: unknown[] }>('/api/now');
    expect(now.waiting).toEqual([{ id: 'P-2', kind: 'priority', number: '2', title: 'Two', state: 'spec_ready', waitingFor: 'slot', waitingDetail: '4 of 4 sessions running', waitingSince: '2026-11-25T09:05:01.000Z' }]);
    const items = await json<{ items: { id: string; waitingFor: string | null; waitingDetail: string | null; waitingSince: string | null }[] }>('/api/work-items');
    expect(items.items.map((item) => [item.id, item.waitingFor, item.waitingDetail, item.waitingSince])).toEqual([
      ['P-1', null, null, null],
      ['P-2', 'slot', '4 of 4 sessions running', '2026-11-25T09:05:01.000Z'],
    ]);
    await store.updateWorkItem('P-2' as WorkItemId, { waitingFor: null, waitingDetail: null, waitingSince: null, updatedAt: '2026-11-25T09:05:02.000Z' });
    expect((await json<{ waiting: unknown[] }>('/api/now')).waiting).toEqual([]);
  });

  it("serves a work item's committed spec, redacted; 404 when there is none, 400 for an unknown kind", async () => {
    await startWith();
    const spec = await json<{ path: string; ref: string; text: string }>('/api/work-items/P-1/documents/spec');
    expect(spec).toEqual({ path: 'docs/specs/SPEC-1-slugify.md', ref: 'main', text: '# Spec\nkey [REDACTED]\n' });
    expect((await api('/api/work-items/P-1/documents/review')).status).toBe(404);
    expect((await api('/api/work-items/P-9/documents/spec')).status).toBe(404);
    expect((await api('/api/work-items/P-1/documents/passwd')).status).toBe(400);
  });

  it('answers bad input with 4xx and a reason, and keeps serving', async () => {
    await startWith();
    const cases: [string, number][] = [
      ['/api/runs/..%2F..%2Fetc%2Fpasswd', 400],
      ['/api/runs/%E0%A4%A', 400],
      ["/api/runs/1'%20OR%201=1", 400],
      ['/api/runs/01doesnotexist', 404],
      ['/api/runs?limit=-5', 400],
      ['/api/runs?status=bogus', 400],
      ['/api/runs?since=yesterday', 400],
      ['/api/runs?agent=%00', 400],
      ['/api/work-items/nope', 404],
      ['/api/nothing-here', 404],
      [`/api/runs?agent=${'a'.repeat(10_000)}`, 414],
    ];
    for (const [path, status] of cases) {
      const response = await api(path);
      expect(response.status, path).toBe(status);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.message.length, path).toBeGreaterThan(0);
    }
    // longer than Node's header limit: refused by the HTTP layer itself
    expect([400, 431]).toContain((await api(`/api/runs?agent=${'a'.repeat(40_000)}`)).status);
    // a raw malformed HTTP request does not take the server down
    const { connect } = await import('node:net');
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(dashboard.port, '127.0.0.1', () => socket.write('GARBAGE / HTTP/9.9\r\n\r\n'));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(String(data));
      });
      socket.on('error', () => resolve('error'));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect((await api('/api/info')).status).toBe(200);
  });

  it('refuses other Host headers (DNS rebinding) on a loopback bind', async () => {
    await startWith();
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: dashboard.port, path: '/api/info', headers: { host: 'attacker.example:80' } }, (res) => resolve(res.statusCode ?? 0));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(421);
  });

  it('guards every API and event-stream request with the token when there is one', async () => {
    const token = 'test-token-0123456789abcdef';
    await startWith({ token });
    expect(dashboard.url).toContain(`?token=${token}`);
    expect((await api('/api/runs')).status).toBe(401);
    expect((await api('/api/runs', { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
    expect((await api('/api/events')).status).toBe(401);
    expect((await api('/api/runs', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const sse = await openSse(`http://127.0.0.1:${dashboard.port}/api/events?token=${token}`);
    await sse.waitFor((frame) => frame.event === 'hello');
    sse.close();
    const stop = await api('/api/runs/01run2developer00000000000/stop', { method: 'POST', headers: { 'x-orchestrator-request': '1' } });
    expect(stop.status).toBe(401);
    expect(stopped).toEqual([]);
    // the static UI itself carries no data and loads without the token (it then reads ?token=)
    expect((await api('/')).status).toBe(404);
  });

  it('requires a token for any non-loopback address, generating one when none is configured', () => {
    expect(resolveDashboardToken('127.0.0.1', null)).toBeNull();
    expect(resolveDashboardToken('localhost', 'configured-token-123456')).toBe('configured-token-123456');
    const generated = resolveDashboardToken('0.0.0.0', null);
    expect(generated).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(resolveDashboardToken('192.168.1.5', null)).not.toBe(generated);
    expect(resolveDashboardToken('::', 'configured-token-123456')).toBe('configured-token-123456');
  });

  it('stops a run only with the request header and from the same origin', async () => {
    await startWith();
    const path = '/api/runs/01run2developer00000000000/stop';
    expect((await api(path, { method: 'POST' })).status).toBe(403);
    expect((await api(path, { method: 'POST', headers: { 'x-orchestrator-request': '1', origin: 'http://evil.example' } })).status).toBe(403);
    expect(stopped).toEqual([]);
    const response = await api(path, { method: 'POST', headers: { 'x-orchestrator-request': '1' } });
    expect(response.status).toBe(202);
    expect(((await response.json()) as { outcome: string }).outcome).toBe('stopping');
    expect(stopped).toEqual(['01run2developer00000000000']);
    expect((await api('/api/runs/01missing/stop', { method: 'POST', headers: { 'x-orchestrator-request': '1' } })).status).toBe(404);
  });

  it('says it cannot stop runs when it has no controls', async () => {
    await startWith({ controls: false });
    const response = await api('/api/runs/01run2developer00000000000/stop', { method: 'POST', headers: { 'x-orchestrator-request': '1' } });
    expect(response.status).toBe(409);
  });
});

describe('dashboard event stream', () => {
  const notice = (message: string) => bus.emit('orchestrator.notice', { level: 'info', message, at: new Date().toISOString() });

  it('resumes with Last-Event-ID without losing or duplicating events', async () => {
    await startWith();
    const url = `http://127.0.0.1:${dashboard.port}/api/events`;
    const first = await openSse(url);
    await first.waitFor((frame) => frame.event === 'hello');
    notice('one');
    notice('two');
    const two = await first.waitFor((frame) => frame.event === 'orchestrator.notice' && frame.data.includes('"two"'));
    first.close();
    notice('three');
    notice('four');
    const second = await openSse(url, { 'last-event-id': two.id! });
    await second.waitFor((frame) => frame.event === 'hello');
    notice('five');
    await second.waitFor((frame) => frame.data.includes('"five"'));
    const messages = second.frames.filter((frame) => frame.event === 'orchestrator.notice').map((frame) => (JSON.parse(frame.data) as { message: string }).message);
    expect(messages).toEqual(['three', 'four', 'five']);
    const ids = second.frames.filter((frame) => frame.id !== null && frame.event !== 'hello').map((frame) => frame.id);
    expect(new Set(ids).size).toBe(ids.length);
    second.close();
  });

  it('tells a client whose events are gone to reload its snapshot', async () => {
    await startWith();
    const client = await openSse(`http://127.0.0.1:${dashboard.port}/api/events`, { 'last-event-id': 'deadbeef.12' });
    await client.waitFor((frame) => frame.event === 'reset');
    client.close();
  });

  it('sends run messages as digests on the global stream and in full on a run stream', async () => {
    await startWith();
    const base = `http://127.0.0.1:${dashboard.port}/api/events`;
    const global = await openSse(base);
    const one = await openSse(`${base}?run=01run2developer00000000000`);
    await global.waitFor((frame) => frame.event === 'hello');
    await one.waitFor((frame) => frame.event === 'hello');
    const record = {
      runId: '01run2developer00000000000' as RunId,
      invocationId: 'inv3' as InvocationId,
      seq: 6,
      at: new Date().toISOString(),
      type: 'assistant',
      subtype: null,
      toolName: 'Write',
      payload: { type: 'assistant', message: { id: 'm9', model: 'claude-sonnet-4-5', content: [{ type: 'tool_use', id: 't', name: 'Write', input: { file_path: '/x/a.js', content: 'x'.repeat(5000) } }], usage: { input_tokens: 1000, output_tokens: 100 } } },
    };
    bus.emit('run.message', { ...record, runId: '01other' as RunId });
    bus.emit('run.message', record);
    const activity = await global.waitFor((frame) => frame.event === 'run.activity' && frame.data.includes('01run2developer'));
    const parsed = JSON.parse(activity.data) as { summary: string; live: { lastToolCall: { name: string }; outputTokens: number; estimatedCostUsd: number } };
    expect(parsed.summary).toBe('Write /x/a.js');
    // The reported output (100) is a mid-stream placeholder; the 5 KB of content written is about 1,260 tokens.
    const estimatedOutput = Math.ceil(JSON.stringify({ file_path: '/x/a.js', content: 'x'.repeat(5000) }).length / 4);
    expect(parsed.live).toMatchObject({ lastToolCall: { name: 'Write' }, outputTokens: estimatedOutput });
    expect(parsed.live.estimatedCostUsd).toBeCloseTo((1000 * 3 + estimatedOutput * 15) / 1_000_000, 10);
    expect(activity.data.length).toBeLessThan(1000);
    const full = await one.waitFor((frame) => frame.event === 'run.message');
    expect(full.data).toContain('x'.repeat(5000));
    expect(one.frames.filter((frame) => frame.event === 'run.message')).toHaveLength(1);
    global.close();
    one.close();
  });
});
