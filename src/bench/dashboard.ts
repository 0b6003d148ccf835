import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDashboardApp, startDashboard } from '../dashboard/index.js';
import { EventBus, type InvocationId, type MessageRecord, type RunId } from '../events/index.js';
import { newSortableId } from '../lib/ids.js';
import { MessageWriter, SqliteStore } from '../store/index.js';
import { percentile } from './stats.js';


export interface DashboardLatencyFigures {
  messages: number;
  intervalMs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

/**
 * From a session's message on the orchestrator's bus to its element in the browser's DOM: the dashboard of a
 * live run open in headless Chromium, messages emitted (and written to the store) every `intervalMs`. Both
 * ends read the same clock (performance.timeOrigin + performance.now(), epoch milliseconds).
 */
export async function benchmarkDashboardLatency(options: { staticDir: string; messages: number; intervalMs: number; chromiumPath: string }): Promise<DashboardLatencyFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'orch-bench-dash-'));
  const store = SqliteStore.open(join(dir, 'bench.db'));
  const bus = new EventBus();
  const writer = new MessageWriter(store);
  const offWriter = bus.on('run.message', (record) => writer.write(record));
  const runId = newSortableId() as RunId;
  const invocationId = newSortableId() as InvocationId;
  const now = new Date().toISOString();
  await store.createRun({ id: runId, agent: 'code-developer', taskKind: 'bench', prompt: 'bench', cwd: dir, ownerPid: process.pid, host: hostname(), createdAt: now });
  await store.markRunRunning(runId, { pid: process.pid, startedAt: now });
  await store.createInvocation({ id: invocationId, runId, prompt: 'bench', systemPrompt: null, model: 'claude-sonnet-4-5', resumeSessionId: null, startedAt: now });
  const dashboard = await startDashboard({ store, bus, controls: null, host: '127.0.0.1', port: 0, token: null, staticDir: options.staticDir, repoRoot: dir, version: 'bench' });
  // Loaded here, not at the top: playwright is large and must not weigh on the other benchmarks' memory figures.
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: options.chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`${dashboard.url}#/runs/${runId}`);
    await page.waitForSelector('[data-timeline]', { state: 'attached' });
    // Runs in the page (a string: this file is compiled without the DOM library).
    await page.evaluate(`(() => {
      const seen = {};
      window.__seen = seen;
      new MutationObserver(() => {
        const at = performance.timeOrigin + performance.now();
        for (const element of document.querySelectorAll('[data-timeline] .tl-entry')) {
          const match = /marker-(\\d+)/.exec(element.textContent || '');
          if (match && seen[match[1]] === undefined) seen[match[1]] = at;
        }
      }).observe(document.body, { childList: true, subtree: true });
    })()`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const emittedAt: number[] = [];
    for (let i = 0; i < options.messages; i++) {
      const record: MessageRecord = {
        runId,
        invocationId,
        seq: i + 1,
        at: new Date().toISOString(),
        type: 'assistant',
        subtype: null,
        toolName: null,
        payload: { type: 'assistant', message: { id: `msg_${i}`, model: 'claude-sonnet-4-5', content: [{ type: 'text', text: `Working on it: marker-${i} ${'lorem ipsum '.repeat(20)}` }], usage: { input_tokens: 1000, output_tokens: 40 } } },
      };
      emittedAt.push(performance.timeOrigin + performance.now());
      bus.emit('run.message', record);
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
    }
    const deadline = Date.now() + 30_000;
    while ((await page.evaluate<number>('Object.keys(window.__seen).length')) < options.messages) {
      if (Date.now() > deadline) throw new Error('the dashboard did not show every message within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const seen = await page.evaluate<Record<string, number>>('window.__seen');
    const latencies = emittedAt.map((at, i) => (seen[String(i)] ?? Number.NaN) - at).sort((a, b) => a - b);
    return { messages: options.messages, intervalMs: options.intervalMs, p50Ms: percentile(latencies, 50), p95Ms: percentile(latencies, 95), maxMs: latencies.at(-1) ?? Number.NaN };
  } finally {
    await browser.close();
    await dashboard.close();
    offWriter();
    await writer.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export interface RunListFigures {
  runs: number;
  messages: number;
  fillSeconds: number;
  queries: { name: string; path: string; medianMs: number; p95Ms: number }[];
}

const AGENTS = ['architect', 'code-developer', 'code-reviewer', 'project-manager', 'bug-fixer'];
const STATUSES = ['succeeded', 'succeeded', 'succeeded', 'failed', 'stopped'];

/** The run-list API (server time: the app answering a request in-process) over a store of `runs` runs and `messagesPerRun` messages each. */
export async function benchmarkRunListApi(options: { runs: number; messagesPerRun: number; rounds: number }): Promise<RunListFigures> {
  const dir = await mkdtemp(join(tmpdir(), 'orch-bench-runs-'));
  const store = SqliteStore.open(join(dir, 'bench.db'));
  try {
    const fillStart = performance.now();
    const base = Date.parse('2026-01-01T00:00:00.000Z');
    const payload = JSON.stringify({ type: 'assistant', message: { id: 'msg', content: [{ type: 'text', text: 'x'.repeat(200) }] } });
    let middleId = '';
    store.withRawDatabase((db) => {
      const insertRun = db.prepare(
        'INSERT INTO runs (id, agent, task_kind, prompt, status, cwd, pid, owner_pid, host, created_at, started_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      const insertInvocation = db.prepare(
        'INSERT INTO invocations (id, run_id, prompt, started_at, ended_at, status, session_id, model, duration_ms, num_turns, input_tokens, output_tokens, cost_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      const insertMessage = db.prepare('INSERT INTO messages (invocation_id, run_id, seq, at, type, subtype, tool_name, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
      for (let i = 0; i < options.runs; i++) {
        const created = base + i * 30_000;
        const id = newSortableId(created);
        if (i === Math.floor(options.runs / 2)) middleId = id;
        const at = new Date(created).toISOString();
        const status = STATUSES[i % STATUSES.length]!;
        insertRun.run(id, AGENTS[i % AGENTS.length]!, 'bench', 'a task', status, dir, 1000 + (i % 30_000), 1, 'bench', at, at, at);
        const invocationId = `${id}-1`;
        insertInvocation.run(invocationId, id, 'a task', at, at, status, `session-${i}`, 'claude-sonnet-4-5', 1000 + (i % 997) * 37, 5, 10_000 + i, 800, 0.05);
        for (let seq = 1; seq <= options.messagesPerRun; seq++) insertMessage.run(invocationId, id, seq, at, 'assistant', null, null, payload);
      }
    });
    const fillSeconds = (performance.now() - fillStart) / 1000;
    const app = createDashboardApp({ store, events: null, controls: null, info: { version: 'bench', repoRoot: dir, database: store.location }, token: null, boundHost: '127.0.0.1', staticDir: null });
    const queries = [
      { name: 'first page (50 newest)', path: '/api/runs' },
      { name: 'filtered: code-developer, failed', path: '/api/runs?agent=code-developer&status=failed' },
      { name: 'a page in the middle (keyset)', path: `/api/runs?before=${middleId}` },
      { name: 'last 7 days, 200 per page', path: `/api/runs?since=${new Date(base + options.runs * 30_000 - 7 * 86_400_000).toISOString()}&limit=200` },
    ];
    const figures: RunListFigures['queries'] = [];
    for (const query of queries) {
      const times: number[] = [];
      for (let round = 0; round < options.rounds; round++) {
        const start = performance.now();
        const response = await app.request(`http://127.0.0.1${query.path}`, { headers: { host: '127.0.0.1' } });
        await response.text();
        times.push(performance.now() - start);
        if (response.status !== 200) throw new Error(`${query.path}: HTTP ${response.status}`);
      }
      times.sort((a, b) => a - b);
      figures.push({ name: query.name, path: query.path, medianMs: percentile(times, 50), p95Ms: percentile(times, 95) });
    }
    return { runs: options.runs, messages: options.runs * options.messagesPerRun, fillSeconds, queries: figures };
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}
