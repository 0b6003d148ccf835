import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { locateClaudeCli } from '../runtime/index.js';
import { DEFAULT_MAX_BATCH } from '../store/index.js';
import { benchmarkConcurrentSessions } from './concurrency.js';
import { benchmarkDashboardLatency, benchmarkRunListApi } from './dashboard.js';
import { benchmarkMessageIngest } from './ingest.js';
import { benchmarkLiveFeed } from './live-feed.js';
import type { LatencyFigure } from './stats.js';
import { benchmarkPipeline } from './pipeline.js';
import { pipelineSection } from './pipeline-report.js';
import { benchmarkQueuePickup, CHILD_QUEUE_WORKER, runQueueBenchChild } from './queue-pickup.js';
import { queueSection } from './queue-report.js';
import { benchmarkRoadmapParse, type RoadmapParseFigure } from './roadmap-parse.js';
import { benchmarkSessionOverhead } from './session-overhead.js';
import { benchmarkSteering, type SteeringDatabase, type SteeringFigures } from './steering.js';
import { steeringSection } from './steering-report.js';
import { workersSection } from './workers-report.js';
import { benchmarkWorkersThroughput } from './workers-throughput.js';

const execFileAsync = promisify(execFile);

/**
 * `npm run bench`: every figure is measured side by side in this one run and written, with the command, to
 * docs/benchmarks.md. Targets are reported as ratios, never asserted in tests.
 */
async function main(): Promise<void> {
  const root = join(import.meta.dirname, '..', '..');
  const only = new Set(process.argv.slice(2));
  const want = (name: string) => only.size === 0 || only.has(name);
  const sections: string[] = [];
  const log = (text: string) => process.stdout.write(`${text}\n`);

  if (want('session')) {
    log('session overhead: orchestrated vs bare CLI…');
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
    const figures = await benchmarkSessionOverhead({ cliPath: locateClaudeCli({ claudeBin: process.env.CLAUDE_BIN, pathEnv: process.env.PATH }), rounds: 7, env });
    sections.push(
      [
        '## 1. Orchestrated session vs the bare CLI (target ≤ 1.05)',
        '',
        `The same 4-turn scenario (Write, Bash, Read, text) against the scripted model, ${figures.rounds} rounds alternating which goes first, median wall time from spawn to exit.`,
        'Orchestrated = `runAgent`: run/invocation rows, stream-json control channel, PreToolUse permission hook answered on every tool call, every message recorded through the MessageWriter.',
        '',
        '| path | median |',
        '|---|---|',
        `| bare \`claude -p … --output-format stream-json --verbose\` | ${figures.bareMedianMs.toFixed(0)} ms |`,
        `| orchestrated | ${figures.orchestratedMedianMs.toFixed(0)} ms |`,
        `| **ratio** | **${figures.ratio.toFixed(3)}** |`,
      ].join('\n'),
    );
    log(`  ratio ${figures.ratio.toFixed(3)}`);
  }

  if (want('ingest')) {
    log('message ingest…');
    const figures = await benchmarkMessageIngest(50_000, process.env.ORCHESTRATOR_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
    sections.push(
      [
        '## 2. Message ingest (target ≥ 30× one-commit-per-message, within 2× of raw batched inserts)',
        '',
        `About 1 KB stream messages (a Write tool_use shaped like the CLI's), ${figures.messages.toLocaleString('en-US')} messages into the messages table of a fresh SQLite file each.`,
        '',
        '| method | messages/s | writer ÷ method |',
        '|---|---|---|',
        `| one commit per message, SQLite defaults (the seed's method) | ${figures.perMessageCommitPerSec.toFixed(0)} | **${(figures.writerPerSec / figures.perMessageCommitPerSec).toFixed(1)}×** |`,
        `| one commit per message, WAL + synchronous=NORMAL | ${figures.perMessageCommitWalPerSec.toFixed(0)} | ${(figures.writerPerSec / figures.perMessageCommitWalPerSec).toFixed(1)}× |`,
        `| MessageWriter (batches of ${DEFAULT_MAX_BATCH}, one transaction each) | ${figures.writerPerSec.toFixed(0)} | 1× |`,
        `| raw batched inserts (${DEFAULT_MAX_BATCH} per transaction, no abstraction) | ${figures.rawBatchedPerSec.toFixed(0)} | **${(figures.writerPerSec / figures.rawBatchedPerSec).toFixed(2)}×** (raw is ${(figures.rawBatchedPerSec / figures.writerPerSec).toFixed(2)}× faster) |`,
        '',
        'writerPerSec' in figures.postgres
          ? `For comparison (no target), the same MessageWriter into PostgreSQL 127.0.0.1 (one multi-row INSERT per batch): ${figures.postgres.writerPerSec.toFixed(0)} messages/s.`
          : `PostgreSQL not measured: ${'skipped' in figures.postgres ? figures.postgres.skipped : ''}.`,
      ].join('\n'),
    );
    log(`  writer ${figures.writerPerSec.toFixed(0)}/s, naive ${figures.perMessageCommitPerSec.toFixed(0)}/s, raw ${figures.rawBatchedPerSec.toFixed(0)}/s, postgres ${'writerPerSec' in figures.postgres ? `${figures.postgres.writerPerSec.toFixed(0)}/s` : figures.postgres.skipped}`);
  }

  if (want('roadmap')) {
    log('roadmap parse…');
    const figures = benchmarkRoadmapParse(await readFile(join(root, 'test', 'fixtures', 'roadmaps', 'hand-grown.md'), 'utf8'));
    const row = (name: string, figure: RoadmapParseFigure, target: string) =>
      `| ${name} | ${figure.lines.toLocaleString('en-US')} | ${figure.headings.toLocaleString('en-US')} | ${figure.items.toLocaleString('en-US')} | ${figure.runs} | **${figure.medianMs.toFixed(1)} ms** | ${figure.maxMs.toFixed(1)} ms | ${target} |`;
    sections.push(
      [
        '## 3. Roadmap parse (targets: 33,000 lines with thousands of headings ≤ 100 ms median; 1,000,000 lines no crash, ≤ 5 s)',
        '',
        'The lenient parser of `start`, `status` and `plan` (`parseRoadmap`: statuses with notes, emoji and bold headings, duplicates, fences and comments, dependency checks). Generated roadmaps rotate six status forms and three heading forms, with sub-headings, fenced fake headings and dependency lines; the hand-grown fixture is the one the tests read.',
        '',
        '| roadmap | lines | headings | items | parses | median | slowest | target |',
        '|---|---|---|---|---|---|---|---|',
        row('generated, 33,000 lines', figures.large, '≤ 100 ms'),
        row('test/fixtures/roadmaps/hand-grown.md', figures.handGrown, '—'),
        row('generated, 1,000,000 lines', figures.huge, '≤ 5 s, no crash'),
        '',
        `Peak RSS of the benchmark process after the 1,000,000-line parses: ${figures.peakRssMb.toFixed(0)} MB. Measured on Node ${process.version.slice(1)}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), with a load average of ${figures.loadAverage.toFixed(1)} from other work on the machine (every figure here slows with it).`,
      ].join('\n'),
    );
    log(`  33k: median ${figures.large.medianMs.toFixed(1)} ms; hand-grown: ${figures.handGrown.medianMs.toFixed(1)} ms; 1M: median ${figures.huge.medianMs.toFixed(0)} ms`);
  }

  if (want('concurrency')) {
    log('50 concurrent stand-in sessions…');
    // In a fresh process: the memory figure must not include what the other benchmarks left on the heap.
    const { stdout } = await execFileAsync(process.execPath, [import.meta.filename, CHILD_CONCURRENCY], { maxBuffer: 1 << 20 });
    const figures = JSON.parse(stdout) as Awaited<ReturnType<typeof benchmarkConcurrentSessions>>;
    sections.push(
      [
        '## 4. 50 concurrent sessions (targets: peak RSS ≤ 150 MB, event-loop delay p99 ≤ 20 ms)',
        '',
        `${figures.sessions} sessions at once through \`runAgent\` (process groups, stream-json control channel, a permission answer for every`,
        `hook callback, the event bus, the batched writer into SQLite, and the dashboard's live-run tracker and event log, as \`start\` runs them).`,
        `Each session is a stand-in process that replays lines recorded`,
        `from the real CLI as fast as the pipe takes them: ${figures.messagesPerSession.toLocaleString('en-US')} messages per session, ${figures.totalMessages.toLocaleString('en-US')} in all.`,
        '',
        '| figure | value |',
        '|---|---|',
        `| wall time | ${(figures.wallMs / 1000).toFixed(1)} s (${Math.round(figures.totalMessages / (figures.wallMs / 1000)).toLocaleString('en-US')} messages/s recorded) |`,
        `| orchestrator RSS before | ${figures.baselineRssMb.toFixed(0)} MB |`,
        `| **orchestrator peak RSS** | **${figures.peakRssMb.toFixed(0)} MB** |`,
        `| **event-loop delay p99** | **${figures.eventLoopP99Ms.toFixed(1)} ms** (max ${figures.eventLoopMaxMs.toFixed(1)} ms) |`,
      ].join('\n'),
    );
    log(`  peak RSS ${figures.peakRssMb.toFixed(0)} MB, p99 ${figures.eventLoopP99Ms.toFixed(1)} ms, ${(figures.wallMs / 1000).toFixed(1)} s`);
  }

  if (want('dashboard')) {
    log('dashboard: message → browser DOM latency…');
    const staticDir = join(root, 'dist', 'dashboard-ui');
    const latency = await benchmarkDashboardLatency({ staticDir, messages: 300, intervalMs: 20, chromiumPath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' });
    log(`  p50 ${latency.p50Ms.toFixed(1)} ms, p95 ${latency.p95Ms.toFixed(1)} ms`);
    log('dashboard: run-list API over 100,000 runs and 1,000,000 messages…');
    const list = await benchmarkRunListApi({ runs: 100_000, messagesPerRun: 10, rounds: 31 });
    for (const query of list.queries) log(`  ${query.name}: median ${query.medianMs.toFixed(1)} ms`);
    sections.push(
      [
        '## 5. Dashboard (targets: message → DOM p95 ≤ 100 ms; run-list API ≤ 50 ms server time over 100,000 runs / 1,000,000 messages)',
        '',
        `**Latency.** A live run's page open in headless Chromium; ${latency.messages} assistant messages emitted on the orchestrator's bus (and written to the store by the writer, as in a real run) every ${latency.intervalMs} ms; latency from the emit to the message's element appearing in the DOM (a MutationObserver; both ends read the same clock).`,
        '',
        '| p50 | p95 | max |',
        '|---|---|---|',
        `| ${latency.p50Ms.toFixed(1)} ms | **${latency.p95Ms.toFixed(1)} ms** | ${latency.maxMs.toFixed(1)} ms |`,
        '',
        `**Run-list API.** A SQLite store filled with ${list.runs.toLocaleString('en-US')} runs (one session each) and ${list.messages.toLocaleString('en-US')} messages (filled in ${list.fillSeconds.toFixed(0)} s). Server time = the dashboard app answering the request in-process (routing, validation, the two store queries plus the count, JSON and the redaction check), ${31} requests each.`,
        '',
        '| request | median | p95 |',
        '|---|---|---|',
        ...list.queries.map((query) => `| ${query.name} (\`${query.path.replace(/since=[^&]+/, 'since=…').replace(/before=[a-z0-9]+/, 'before=…')}\`) | **${query.medianMs.toFixed(1)} ms** | ${query.p95Ms.toFixed(1)} ms |`),
      ].join('\n'),
    );
  }

  if (want('pipeline')) {
    log('pipeline: twelve priorities at maxRuns 1, then 4, then 4 with merges tested under the lock (the real CLI, a 1.5 s model, a 2 s test command; about a quarter of an hour)…');
    const figures = await benchmarkPipeline({
      pathEnv: process.env.PATH ?? '/usr/bin:/bin',
      onRun: (run) => log(`  maxRuns ${run.maxRuns}${run.testsUnderLock ? ' (merge tested under the lock)' : ''}: ${(run.wallMs / 1000).toFixed(1)} s, ${run.sessions} sessions, load ${run.loadBefore.toFixed(1)} → ${run.loadAfter.toFixed(1)} (${run.dir})`),
    });
    const section = pipelineSection(figures);
    sections.push(section.markdown);
    for (const line of section.summary) log(`  ${line}`);
  }

  if (want('live-feed')) {
    log('live feed: a message written in one process → a dashboard StoreFeed in another, NOTIFY vs the 500 ms poll…');
    const figures = await benchmarkLiveFeed({ url: process.env.ORCHESTRATOR_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test', messages: 200, intervalMs: 50, stops: 40 });
    const row = (name: string, latency: LatencyFigure, bold: boolean) =>
      `| ${name} | ${latency.count} | ${latency.p50Ms.toFixed(1)} ms | ${bold ? `**${latency.p95Ms.toFixed(1)} ms**` : `${latency.p95Ms.toFixed(1)} ms`} | ${latency.maxMs.toFixed(1)} ms |`;
    sections.push(
      [
        '## 8. Live across processes on PostgreSQL (targets: message → dashboard in another process p95 ≤ 1 s; a stop reaches its session within 1 s)',
        '',
        `A session process writes ${figures.messages} messages, one every ${figures.intervalMs} ms, through the MessageWriter (which holds a batch up to ${figures.writerFlushMs} ms, as in a real session) into PostgreSQL 127.0.0.1; another process follows the same schema with two StoreFeeds side by side, as \`orchestrator dashboard\` does: one driven by LISTEN/NOTIFY (migration 6's triggers, the store's change listener), one polling every ${figures.messagePoll.pollMs} ms (today's path, still SQLite's). Latency: the session's \`write()\` → the feed's \`run.message\` on the dashboard's bus (section 5 measures bus → DOM). Both processes read the same clock.`,
        `Stops: ${figures.stopNotify.count} stop requests per path, each from another connection at a random moment, to a session registered in the owner's process (\`registerLocalSession\`); latency from the request to the session's abort signal. The owner hears it by NOTIFY, or by reading its run every ${figures.stopPoll.pollMs} ms.`,
        '',
        '| path | samples | p50 | p95 | max |',
        '|---|---|---|---|---|',
        row('message → dashboard, **NOTIFY**', figures.messageNotify, true),
        row(`message → dashboard, ${figures.messagePoll.pollMs} ms poll`, figures.messagePoll, false),
        row('stop → session, **NOTIFY**', figures.stopNotify, true),
        row(`stop → session, ${figures.stopPoll.pollMs} ms poll`, figures.stopPoll, false),
        '',
        `Load average ${figures.loadBefore.toFixed(1)} before, ${figures.loadAfter.toFixed(1)} after (2 cores, shared with other work).`,
      ].join('\n'),
    );
    log(`  message: notify p95 ${figures.messageNotify.p95Ms.toFixed(1)} ms vs poll p95 ${figures.messagePoll.p95Ms.toFixed(1)} ms; stop: notify p95 ${figures.stopNotify.p95Ms.toFixed(1)} ms vs poll p95 ${figures.stopPoll.p95Ms.toFixed(1)} ms`);
  }

  if (want('queue')) {
    log('job queue: graphile-worker and pg-boss, pickup latency and a worker killed with SIGKILL (about 3 minutes)…');
    const figures = await benchmarkQueuePickup({ url: process.env.ORCHESTRATOR_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test', script: import.meta.filename, jobs: 200, log });
    sections.push(queueSection(figures));
  }

  if (want('workers')) {
    log('worker processes: 24 queued stand-in sessions, 1 worker × 2 slots, then 3 workers × 2 slots (about 2 minutes)…');
    const figures = await benchmarkWorkersThroughput({
      root,
      url: process.env.ORCHESTRATOR_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
      items: 24,
      sessionMs: 3000,
      configurations: [
        { workers: 1, slots: 2 },
        { workers: 3, slots: 2 },
      ],
      log,
    });
    sections.push(workersSection(figures));
    log(`  ratio ${figures.ratio.toFixed(2)}×`);
  }

  if (want('steering')) {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
    const cliPath = locateClaudeCli({ claudeBin: process.env.CLAUDE_BIN, pathEnv: process.env.PATH });
    const runs: SteeringFigures[] = [];
    const databases: SteeringDatabase[] = [{ kind: 'sqlite' }, { kind: 'postgres', url: process.env.ORCHESTRATOR_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test' }];
    for (const database of databases) {
      log(`steering on ${database.kind}: a dashboard message to a live CLI session → its next model request (82 turns of 1.5 s; about 3 minutes)…`);
      const figures = await benchmarkSteering({ database, cliPath, env, samples: 40, turnDelayMs: 1500 });
      runs.push(figures);
      log(`  after the turn ends: p50 ${figures.afterTurnEnd.p50Ms.toFixed(1)} ms, p95 ${figures.afterTurnEnd.p95Ms.toFixed(1)} ms, max ${figures.afterTurnEnd.maxMs.toFixed(1)} ms; from the POST: p95 ${figures.fromPost.p95Ms.toFixed(1)} ms; baseline p95 ${figures.baseline.p95Ms.toFixed(1)} ms; ${figures.inNextRequest}/${figures.samples} in the next request; load ${figures.loadBefore.toFixed(1)} → ${figures.loadAfter.toFixed(1)}`);
    }
    sections.push(steeringSection(runs));
  }

  const file = join(root, 'docs', 'benchmarks.md');
  const command = `npm run bench${only.size > 0 ? ` -- ${[...only].join(' ')}` : ''}`;
  const stamp = `_Measured ${new Date().toISOString().slice(0, 10)} by \`${command}\`._`;
  // A partial run (`npm run bench -- dashboard`) replaces its own sections and keeps the others.
  const kept = new Map<string, string>();
  const previous = await readFile(file, 'utf8').catch(() => '');
  for (const part of previous.split(/^(?=## )/m).slice(1)) kept.set(/^## (\d+)\./.exec(part)?.[1] ?? part, part.trim());
  for (const section of sections) {
    const [heading, ...rest] = section.split('\n');
    kept.set(/^## (\d+)\./.exec(heading ?? '')?.[1] ?? section, [heading, '', stamp, ...rest].join('\n'));
  }
  const header = [
    '# Benchmarks',
    '',
    `Made by \`npm run bench\` (all sections) or \`npm run bench -- <section…>\` (sections: session ingest roadmap concurrency dashboard pipeline queue live-feed workers steering),`,
    `on Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB.`,
    'Every ratio compares paths measured side by side in the same run; each section says when and by which command it was measured.',
    '',
  ];
  const ordered = [...kept.entries()].sort(([a], [b]) => Number(a) - Number(b)).map(([, text]) => text);
  await writeFile(file, `${[...header, ordered.join('\n\n')].join('\n')}\n`);
  log('wrote docs/benchmarks.md');
}

const CHILD_CONCURRENCY = '--child-concurrency';

async function childConcurrency(): Promise<void> {
  const root = join(import.meta.dirname, '..', '..');
  const figures = await benchmarkConcurrentSessions({ root, sessions: 50, repeat: 100, ratePerSession: 200 });
  process.stdout.write(JSON.stringify(figures));
}

(process.argv[2] === CHILD_CONCURRENCY ? childConcurrency() : process.argv[2] === CHILD_QUEUE_WORKER ? runQueueBenchChild(process.argv[3] ?? '{}') : main()).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
