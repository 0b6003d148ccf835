import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runOrchestrator } from '../cli/commands/start.js';
import { openContext } from '../cli/context.js';
import { createSampleRepo } from '../demo/sample-repo.js';
import { architectScenario, developerScenario, projectManagerScenario, reviewerScenario, type Feature } from '../demo/scenarios.js';
import { parseRoadmap } from '../roadmap/index.js';
import { DEFAULT_AGENTS, parseAgentDefinition, projectManagerPrompt } from '../agents/index.js';
import { EventBus } from '../events/index.js';
import { createToolPolicy, runAgent } from '../orchestrator/index.js';
import { locateClaudeCli } from '../runtime/index.js';
import { ScriptedModelServer, type ScenarioInput } from '../scripted-model/index.js';
import { MessageWriter, SqliteStore, type AuditEventRecord, type RunSummary, type Store } from '../store/index.js';

const git = promisify(execFile);

/** Twelve independent priorities: enough that four sessions at once have work queued behind them all the time. */
export const PIPELINE_ITEMS = 12;
/** The scripted model answers every turn after this long, as a real model takes seconds (issue 10). */
export const MODEL_TURN_MS = 1_500;
/** The project's test command: about 2 s, so that merges and the developer check cost what a small suite does. */
export const SLOW_TEST_COMMAND = 'sleep 2 && node --test';

/** Feature k: `scaleByK(x)` in its own file with its own test, so no two branches touch the same file. */
export function benchFeatures(count: number): Feature[] {
  return Array.from({ length: count }, (_, index) => {
    const k = index + 1;
    const name = `scaleBy${k}`;
    const file = `scale-by-${k}`;
    return {
      number: String(k),
      file,
      name,
      source: `export function ${name}(x) {\n  return x * ${k};\n}\n`,
      test: `import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { ${name} } from '../src/${file}.js';\n\ntest('${name} multiplies by ${k}', () => {\n  assert.equal(${name}(3), ${3 * k});\n});\n`,
    };
  });
}

export function benchRoadmap(features: readonly Feature[]): string {
  const items = features.map((feature) => `### PRIORITY ${feature.number}: Scale by ${feature.number}\n**Status**: 📝 Planned\n\nAdd \`${feature.name}(x)\` in \`src/${feature.file}.js\`: x times ${feature.number}.\n`);
  return `# Roadmap: scale-utils\n\nTwelve independent helpers, built by the agent team to measure its throughput.\n\n${items.join('\n')}`;
}

/**
 * The demo's scenarios with their scripted input_tokens removed and `estimateInputTokens` on: every turn reports
 * what the CLI really sent (system prompt, tools, messages; characters / 4), so a prompt that shrinks or a session
 * that is saved shows in the figures. Output tokens stay scripted (they are what the model "writes").
 */
export function measuredScenario(scenario: ScenarioInput): ScenarioInput {
  const turns = scenario.turns.map((turn) => {
    if (!('usage' in turn) || turn.usage === undefined) return turn;
    const { input_tokens: _scripted, ...usage } = turn.usage;
    return { ...turn, usage };
  });
  return { ...scenario, estimateInputTokens: true, turns };
}

export function benchScenarios(features: readonly Feature[]): ScenarioInput[] {
  return [architectScenario, ...features.map(developerScenario), reviewerScenario, projectManagerScenario].map(measuredScenario);
}

export interface RoleFigure {
  role: string;
  count: number;
  medianMs: number;
}

export interface PipelineRunFigures {
  maxRuns: number;
  /** The merge under test holds the integration lock (merge.maxRetests 0): the design we did not choose, for comparison. */
  testsUnderLock: boolean;
  /** From the orchestrator's start (repository checked, roadmap read) to its return with every item done. */
  wallMs: number;
  sessions: number;
  /** Sum over sessions of ended − started (the CLI process's life). */
  sessionSumMs: number;
  /** Time-weighted mean of sessions running at once, from the first session's start to the last one's end. */
  meanConcurrent: number;
  maxConcurrent: number;
  pmSessions: number;
  pmInputTokens: number;
  /** Each project-manager session: how many items its prompt named (its PRIORITY lines) and its input tokens. */
  pmBySession: { items: number; inputTokens: number }[];
  /** heldMs of `integration.lock` events with purpose merge; null when the orchestrator records none. */
  mergeLockHeldMs: number[] | null;
  roles: RoleFigure[];
  loadBefore: number;
  loadAfter: number;
  dir: string;
}

export interface PipelineFigures {
  /** Input tokens of one project-manager session marking one item: with Claude Code's system prompt (today's) and with the agent's alone. */
  oneItemPm: { appended: number; agentOnly: number } | null;
  items: number;
  modelTurnMs: number;
  testCommand: string;
  runs: PipelineRunFigures[];
}

export const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Session intervals [start, end] in ms since the epoch, for the runs that started and ended. */
function sessionIntervals(runs: readonly RunSummary[]): [number, number][] {
  const intervals: [number, number][] = [];
  for (const run of runs) {
    if (run.startedAt === null || run.endedAt === null) continue;
    intervals.push([Date.parse(run.startedAt), Date.parse(run.endedAt)]);
  }
  return intervals;
}

/** The time-weighted mean and the maximum of how many intervals overlap, over [first start, last end]. */
export function concurrency(intervals: readonly [number, number][]): { mean: number; max: number } {
  if (intervals.length === 0) return { mean: 0, max: 0 };
  // Ends sort before starts at the same instant: back-to-back sessions are not counted as overlapping.
  const edges = intervals.flatMap(([start, end]) => [[start, 1] as const, [end, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let max = 0;
  let area = 0;
  let previous = edges[0]![0];
  for (const [at, delta] of edges) {
    area += running * (at - previous);
    previous = at;
    running += delta;
    max = Math.max(max, running);
  }
  const span = edges[edges.length - 1]![0] - edges[0]![0];
  return { mean: span > 0 ? area / span : 0, max };
}

function lockHolds(events: readonly AuditEventRecord[]): number[] | null {
  const holds = events
    .filter((event) => event.kind === 'integration.lock' && event.data.purpose === 'merge' && typeof event.data.heldMs === 'number')
    .map((event) => event.data.heldMs as number);
  return holds.length > 0 ? holds : null;
}

function roleFigures(runs: readonly RunSummary[]): RoleFigure[] {
  const byRole = new Map<string, number[]>();
  for (const run of runs) {
    if (run.startedAt === null || run.endedAt === null) continue;
    const list = byRole.get(run.agent) ?? [];
    list.push(Date.parse(run.endedAt) - Date.parse(run.startedAt));
    byRole.set(run.agent, list);
  }
  const order = ['architect', 'code-developer', 'code-reviewer', 'project-manager'];
  const rank = (role: string) => (order.includes(role) ? order.indexOf(role) : order.length);
  return [...byRole.entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b)).map(([role, durations]) => ({ role, count: durations.length, medianMs: median(durations) }));
}

/** Fails loudly unless every item is done in the store and the roadmap on main marks every one complete. */
async function assertAllDone(store: Store, dir: string, features: readonly Feature[], exitCode: number, logPath: string): Promise<void> {
  const items = await store.listWorkItems();
  const notDone = items.filter((item) => item.state !== 'done').map((item) => `${item.number}: ${item.state}${item.blockedReason ? ` (${item.blockedReason})` : ''}`);
  if (items.length !== features.length || notDone.length > 0) {
    throw new Error(`pipeline bench: ${items.length} work items, not done: ${notDone.join('; ') || 'none'} (orchestrator exit ${exitCode}; log ${logPath})`);
  }
  const roadmap = (await git('git', ['show', 'main:docs/roadmap/ROADMAP.md'], { cwd: dir })).stdout;
  const parsed = parseRoadmap(roadmap);
  const incomplete = features.filter((feature) => parsed.items.find((item) => item.number === feature.number)?.status !== 'complete');
  if (incomplete.length > 0) throw new Error(`pipeline bench: the roadmap on main does not mark PRIORITY ${incomplete.map((feature) => feature.number).join(', ')} complete (${dir})`);
}

/** A home of the bench's own for the sessions: the CLI keeps its state there, and Bash reads no profile of the user. */
async function sessionHome(root: string): Promise<string> {
  const home = join(root, 'home');
  await mkdir(join(home, '.claude'), { recursive: true });
  await writeFile(join(home, '.gitconfig'), '[user]\n\tname = Bench Session\n\temail = bench@orchestrator.invalid\n[commit]\n\tgpgsign = false\n');
  return home;
}

/**
 * One pass: a fresh repository with PIPELINE_ITEMS priorities and its own SQLite database, the scripted model
 * answering after MODEL_TURN_MS, the real CLI, and the orchestrator as `start --until-idle --no-dashboard` runs it.
 */
export async function benchmarkPipelineRun(options: { root: string; maxRuns: number; testsUnderLock?: boolean; features: readonly Feature[]; pathEnv: string }): Promise<PipelineRunFigures> {
  const { maxRuns, features } = options;
  const testsUnderLock = options.testsUnderLock ?? false;
  const dir = join(options.root, `max-runs-${maxRuns}${testsUnderLock ? '-tests-under-lock' : ''}`);
  await createSampleRepo(dir, {
    roadmap: benchRoadmap(features),
    config: { testCommand: SLOW_TEST_COMMAND, concurrency: { maxRuns, perRole: { 'code-developer': maxRuns } }, retries: { baseDelayMs: 500 }, ...(testsUnderLock ? { merge: { maxRetests: 0 } } : {}) },
  });
  const model = new ScriptedModelServer({ scenarios: benchScenarios(features), paceMs: MODEL_TURN_MS });
  const url = await model.start();
  const env = {
    PATH: options.pathEnv,
    HOME: await sessionHome(options.root),
    ANTHROPIC_BASE_URL: url,
    ANTHROPIC_API_KEY: 'sk-scripted-bench-not-a-real-key',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    CLAUDE_CODE_MAX_RETRIES: '2',
  };
  const ctx = await openContext({ cwd: dir }, {}, env);
  const logPath = join(dir, '.orchestrator', 'bench.log');
  await mkdir(join(dir, '.orchestrator'), { recursive: true });
  const log = createWriteStream(logPath);
  // The orchestrator's terminal lines go to a file: the bench prints only its figures. `painter` reads isTTY
  // (undefined on a file stream: no colour), the only tty member start uses.
  ctx.stdout = log as unknown as NodeJS.WriteStream;
  const loadBefore = loadavg()[0] ?? 0;
  try {
    const started = performance.now();
    const exitCode = await runOrchestrator(ctx, { untilIdle: true, dashboard: false, quiet: true });
    const wallMs = performance.now() - started;
    const loadAfter = loadavg()[0] ?? 0;
    await ctx.writer.flush();
    await assertAllDone(ctx.store, dir, features, exitCode, logPath);
    const runs = await ctx.store.listRuns({ limit: 100_000 });
    const intervals = sessionIntervals(runs);
    const { mean, max } = concurrency(intervals);
    const pm = runs.filter((run) => run.agent === 'project-manager');
    return {
      maxRuns,
      testsUnderLock,
      wallMs,
      sessions: runs.length,
      sessionSumMs: intervals.reduce((sum, [start, end]) => sum + (end - start), 0),
      meanConcurrent: mean,
      maxConcurrent: max,
      pmSessions: pm.length,
      pmInputTokens: pm.reduce((sum, run) => sum + run.inputTokens, 0),
      pmBySession: pm.map((run) => ({ items: run.prompt.match(/^PRIORITY /gm)?.length ?? 0, inputTokens: run.inputTokens })),
      mergeLockHeldMs: lockHolds(await ctx.store.listEvents({ limit: 1_000_000 })),
      roles: roleFigures(runs),
      loadBefore,
      loadAfter,
      dir,
    };
  } finally {
    await ctx.close();
    await model.close();
    await new Promise<void>((resolve) => log.end(resolve));
  }
}

/**
 * `maxRuns` 1, then 4, then 4 with the merge tested under the lock (the alternative design), each in a fresh
 * repository and database, in one process (issue 10's benchmark); and one project-manager session for one item,
 * with and without Claude Code's own system prompt, side by side.
 */
export async function benchmarkPipeline(options: { pathEnv: string; passes?: readonly { maxRuns: number; testsUnderLock?: boolean }[]; onRun?: (figures: PipelineRunFigures) => void }): Promise<PipelineFigures> {
  const root = await mkdtemp(join(tmpdir(), 'orch-bench-pipeline-'));
  const features = benchFeatures(PIPELINE_ITEMS);
  const runs: PipelineRunFigures[] = [];
  for (const pass of options.passes ?? [{ maxRuns: 1 }, { maxRuns: 4 }, { maxRuns: 4, testsUnderLock: true }]) {
    const figures = await benchmarkPipelineRun({ root, ...pass, features, pathEnv: options.pathEnv });
    options.onRun?.(figures);
    runs.push(figures);
  }
  const oneItemPm = { appended: await oneItemPmSession(root, features, options.pathEnv, false), agentOnly: await oneItemPmSession(root, features, options.pathEnv, true) };
  return { oneItemPm, items: PIPELINE_ITEMS, modelTurnMs: MODEL_TURN_MS, testCommand: SLOW_TEST_COMMAND, runs };
}

/** One recorded project-manager session marking PRIORITY 1 of a fresh bench roadmap: its input tokens (measured). */
async function oneItemPmSession(root: string, features: readonly Feature[], pathEnv: string, agentPromptOnly: boolean): Promise<number> {
  const dir = join(root, `one-item-pm-${agentPromptOnly ? 'agent-only' : 'appended'}`);
  await createSampleRepo(dir, { roadmap: benchRoadmap(features) });
  const model = new ScriptedModelServer({ scenarios: [measuredScenario(projectManagerScenario)] });
  const url = await model.start();
  const store = SqliteStore.open(join(dir, '.orchestrator', 'pm.db'));
  const writer = new MessageWriter(store);
  try {
    const agent = parseAgentDefinition(DEFAULT_AGENTS['project-manager'] ?? '', 'project-manager.md');
    const result = await runAgent({
      store,
      bus: new EventBus(),
      messages: writer,
      cliPath: locateClaudeCli({ claudeBin: undefined, pathEnv }),
      agent,
      prompt: projectManagerPrompt([{ number: '1', title: 'Scale by 1', body: '' }], { roadmapPath: 'docs/roadmap/ROADMAP.md', integrationBranch: 'main', workingDirectory: dir }),
      cwd: dir,
      env: { PATH: pathEnv, HOME: await sessionHome(root), ANTHROPIC_BASE_URL: url, ANTHROPIC_API_KEY: 'sk-scripted-bench-not-a-real-key', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' },
      toolPermission: createToolPolicy({ root: dir, tools: agent.tools }),
      agentPromptOnly,
    });
    if (result.run.status !== 'succeeded') throw new Error(`the one-item project-manager session ${result.run.status}: ${result.run.errorMessage ?? ''}`);
    const invocations = await store.listInvocations(result.run.id);
    return invocations.reduce((sum, invocation) => sum + invocation.inputTokens, 0);
  } finally {
    await writer.close();
    await store.close();
    await model.close();
  }
}
