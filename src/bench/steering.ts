import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_AGENTS, parseAgentDefinition } from '../agents/index.js';
import { startDashboard } from '../dashboard/index.js';
import { EventBus, type RunId } from '../events/index.js';
import { createToolPolicy, runAgent } from '../orchestrator/index.js';
import { ScriptedModelServer, type RecordedRequest, type ScenarioInput } from '../scripted-model/index.js';
import { MessageWriter, PostgresStore, SqliteStore, type Store } from '../store/index.js';
import { adminStatement, latencyFigure, type LatencyFigure } from './stats.js';
import { gapAfterTurn, requestTexts, steeringSample, type SteeringSample } from './steering-match.js';

export interface SteeringFigures {
  database: SteeringDatabase['kind'];
  samples: number;
  turnDelayMs: number;
  /** From the in-flight turn's answer fully sent by the model to the next request carrying the message. */
  afterTurnEnd: LatencyFigure;
  /** From the dashboard POST to the request carrying the message. */
  fromPost: LatencyFigure;
  /** The same gap (turn end → next request) after the turns in between, which no message was posted into. */
  baseline: LatencyFigure;
  /** Samples whose message was in the very next request of the session (the target's condition). */
  inNextRequest: number;
  loadBefore: number;
  loadAfter: number;
  wallMs: number;
}

/** Where the run lives and where the dashboard that takes the message runs. */
export type SteeringDatabase =
  /** SQLite, the dashboard's server in the session's process (as `orchestrator start` runs it): heard at once. */
  | { kind: 'sqlite' }
  /** PostgreSQL, the dashboard in a process of its own: the session's owner hears the message through NOTIFY. */
  | { kind: 'postgres'; url: string };

export interface SteeringOptions {
  database: SteeringDatabase;
  cliPath: string;
  env: Record<string, string>;
  /** Messages posted, one per model turn (≥ 30 for a p95). */
  samples: number;
  /** How long the scripted model "thinks" before each answer. */
  turnDelayMs: number;
  log?: (text: string) => void;
}

const PROMPT_MARK = 'STEERING-BENCH';
const WAIT_MS = 120_000;

/** Epoch ms on the clock the scripted model stamps its requests with. */
const epochMs = () => performance.timeOrigin + performance.now();

/**
 * One real CLI session through `runAgent` (SQLite store, control channel, permission hook, the MessageWriter) with
 * the dashboard's HTTP server in the same process, as `orchestrator start` runs it. The scripted model answers every
 * turn with a Read after `turnDelayMs`; while every other turn is in flight (at a random point of its delay) a person's
 * message is POSTed to /api/runs/:id/messages, which stores it, and live delivery writes it on the session's stdin.
 * Per sample: the turn end (the model's answer handed to the socket in full) → the model receiving the next request
 * that carries the message text, and the POST → that request; and, as the baseline, the same gap after the turns
 * in between, which carry no new message.
 */
export async function benchmarkSteering(options: SteeringOptions): Promise<SteeringFigures> {
  // Messages go into the even turns; the odd ones carry them, and the gap after each odd turn is the baseline.
  const turns = options.samples * 2 + 2;
  const scenario: ScenarioInput = {
    name: 'steering',
    match: { prompt: PROMPT_MARK },
    turns: [
      ...Array.from({ length: turns }, (_, index) => ({
        delayMs: options.turnDelayMs,
        text: `Step ${index + 1}: reading the README again.`,
        tools: [{ name: 'Read', input: { file_path: '{{cwd}}/README.md' } }],
      })),
      { text: 'DONE: read it every time.' },
    ],
  };
  const model = new ScriptedModelServer({ scenarios: [scenario] });
  const modelUrl = await model.start();
  const dir = await mkdtemp(join(tmpdir(), 'orch-bench-steering-'));
  const cwd = join(dir, 'repo');
  const home = join(dir, 'home');
  await mkdir(join(home, '.claude'), { recursive: true });
  execFileSync('git', ['init', '-q', '-b', 'main', cwd]);
  await writeFile(join(cwd, 'README.md'), '# steering bench\n');
  const env = { ...options.env, HOME: home, ANTHROPIC_BASE_URL: modelUrl, ANTHROPIC_API_KEY: 'sk-bench', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' };
  const bus = new EventBus();
  const { store, dashboardUrl, close } = await openBackend(options.database, dir, bus);
  const writer = new MessageWriter(store);
  const agent = parseAgentDefinition(DEFAULT_AGENTS['code-developer'] ?? '', 'code-developer.md');
  const loadBefore = loadavg()[0] ?? Number.NaN;
  const started = performance.now();
  const created: { runId: RunId | null } = { runId: null };
  const abort = new AbortController();
  const running = runAgent({
    store,
    bus,
    messages: writer,
    cliPath: options.cliPath,
    agent,
    prompt: `${PROMPT_MARK}: read the README, once per turn, until told you are done.`,
    cwd,
    env,
    toolPermission: createToolPolicy({ root: cwd, tools: agent.tools }),
    taskKind: 'bench',
    signal: abort.signal,
    onRunCreated: (id) => {
      created.runId = id;
    },
  });
  const failed = running.then(
    (result) => {
      throw new Error(`the session ended (${result.run.status}) before the benchmark did`);
    },
    (error: unknown) => {
      throw error;
    },
  );
  failed.catch(() => {});
  const samples: SteeringSample[] = [];
  const baseline: number[] = [];
  const nonce = randomBytes(4).toString('hex');
  try {
    const waitFor = (predicate: (request: RecordedRequest) => boolean) => Promise.race([model.waitForRequest(predicate, AbortSignal.timeout(WAIT_MS)), failed]);
    for (let index = 0; index < options.samples; index += 1) {
      const inFlight = await waitFor((request) => request.kind === 'turn' && request.turnIndex === index * 2);
      // A random moment in the turn's delay: the message may come at any point of the model's work.
      const postAt = inFlight.receivedAtMs + options.turnDelayMs * (0.1 + 0.6 * Math.random());
      await sleep(Math.max(0, postAt - epochMs()));
      const runId = created.runId;
      if (runId === null) throw new Error('the run has no id yet although its session is talking to the model');
      const text = `steering sample ${index + 1} (${nonce}): please also note this.`;
      const postedAtMs = epochMs();
      const response = await fetch(`${dashboardUrl}/api/runs/${runId}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-orchestrator-request': '1' },
        body: JSON.stringify({ text }),
      });
      if (response.status !== 202) throw new Error(`the dashboard answered the message POST with ${response.status}: ${await response.text()}`);
      await waitFor((request) => request.kind === 'turn' && request.receivedAtMs > postedAtMs && requestTexts(request).some((part) => part.includes(text)));
      samples.push(steeringSample(model.requests, text, postedAtMs));
      options.log?.(`  sample ${index + 1}: ${samples.at(-1)?.afterTurnEndMs.toFixed(1)} ms after the turn ended, ${samples.at(-1)?.fromPostMs.toFixed(1)} ms after the POST`);
    }
    const result = await running;
    for (let index = 0; index < options.samples; index += 1) {
      const turn = model.requests.find((request) => request.kind === 'turn' && request.turnIndex === index * 2 + 1);
      const gap = turn ? gapAfterTurn(model.requests, turn.sessionId, index * 2 + 1) : null;
      if (gap !== null) baseline.push(gap);
    }
    if (result.run.status !== 'succeeded') throw new Error(`the benchmark session ended ${result.run.status}: ${result.run.errorMessage ?? ''}`);
  } finally {
    // On a failure the session is still running: stop it and wait for its process to end before closing the store.
    abort.abort(new Error('the steering benchmark ended'));
    await running.catch(() => {});
    await writer.close();
    await close();
    await model.close();
    await rm(dir, { recursive: true, force: true });
  }
  return {
    database: options.database.kind,
    samples: samples.length,
    turnDelayMs: options.turnDelayMs,
    afterTurnEnd: latencyFigure(samples.map((sample) => sample.afterTurnEndMs)),
    fromPost: latencyFigure(samples.map((sample) => sample.fromPostMs)),
    baseline: latencyFigure(baseline),
    inNextRequest: samples.filter((sample) => sample.nextTurn).length,
    loadBefore,
    loadAfter: loadavg()[0] ?? Number.NaN,
    wallMs: performance.now() - started,
  };
}

interface SteeringBackend {
  store: Store;
  /** The dashboard's address, without a trailing slash. */
  dashboardUrl: string;
  close: () => Promise<void>;
}

async function openBackend(database: SteeringDatabase, dir: string, bus: EventBus): Promise<SteeringBackend> {
  if (database.kind === 'sqlite') {
    const store = SqliteStore.open(join(dir, 'orchestrator.db'));
    const dashboard = await startDashboard({ store, bus, controls: null, host: '127.0.0.1', port: 0, token: null, staticDir: null, repoRoot: dir, version: 'bench' });
    return {
      store,
      dashboardUrl: dashboard.url.replace(/\/$/, ''),
      close: async () => {
        await dashboard.close();
        await store.close();
      },
    };
  }
  const schema = `bench_steer_${randomBytes(5).toString('hex')}`;
  await adminStatement(database.url, `CREATE SCHEMA ${schema}`);
  const store = await PostgresStore.open(database.url, { schema, max: 4 });
  const child = spawn(process.execPath, [join(import.meta.dirname, 'steering-dashboard.js')], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', STEERING_DATABASE_URL: database.url, STEERING_SCHEMA: schema },
  });
  child.stdin.on('error', () => undefined);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const close = async () => {
    child.stdin.end();
    await exited;
    await store.close();
    await adminStatement(database.url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) resolve((JSON.parse(line) as { url: string }).url);
      });
      void exited.then((code) => reject(new Error(`the dashboard process exited ${String(code)} before it served: ${stderr.trim()}`)));
    });
    // The owner's listener settles before the first message: wait for its first resync.
    const listening = new AbortController();
    await new Promise<void>((resolve) => store.changes.subscribe({ onChange: () => undefined, onResync: resolve }, { signal: listening.signal }));
    listening.abort();
    return { store, dashboardUrl: url.replace(/\/$/, ''), close };
  } catch (error) {
    await close();
    throw error;
  }
}
