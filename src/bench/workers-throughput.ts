import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { DEFAULT_AGENTS, developerPrompt, parseAgentDefinition } from '../agents/index.js';
import type { RunId, WorkItemId } from '../events/index.js';
import { newSortableId } from '../lib/ids.js';
import { remoteSessionPayload, remoteSessionStep, Role, type SessionJob } from '../orchestrator/index.js';
import { installQueueSchema, openQueueClient, sessionJobKey } from '../queue/index.js';
import { PostgresStore, SCHEMA_VERSION, type RunSummary } from '../store/index.js';
import { adminStatement, latencyFigure } from './stats.js';

const execFileAsync = promisify(execFile);

/**
 * The concurrency benchmark's stand-in for the CLI (same stdin protocol, same recorded lines of
 * test/fixtures/streams/multi-tool-success.jsonl), paced like a model: the lines are spread over
 * STAND_IN_SESSION_MS, the process idle in between. The recorded /WORKDIR paths become its cwd (the item's worktree
 * on the worker), and halfway through it writes notes.txt there and commits it, as a developer's session does, so
 * the worker pushes the item's branch during the session.
 */
const STAND_IN = `#!/usr/bin/perl
use strict; use warnings; use IO::Handle; use Time::HiRes qw(sleep); use Cwd qw(getcwd);
STDOUT->autoflush(1);
my $cwd = getcwd();
open(my $fh, '<', $ENV{STAND_IN_FIXTURE}) or die "fixture: $!";
my @lines = grep { length } map { chomp; s{/WORKDIR}{$cwd}g; $_ } <$fh>;
my $pause = ($ENV{STAND_IN_SESSION_MS} || 3000) / 1000 / scalar(@lines);
while (my $in = <STDIN>) { last if index($in, '"type":"user"') >= 0; }
for my $i (0 .. $#lines) {
  sleep($pause) if $i > 0;
  print $lines[$i], "\\n";
  if ($i == int(@lines / 2)) {
    open(my $out, '>', "$cwd/notes.txt") or die "notes.txt: $!";
    print $out "alpha\\nbeta\\n";
    close($out);
    system('sh', '-c', '{ git add notes.txt && git commit -q -m "stand-in: notes.txt"; } >/dev/null 2>&1') == 0 or die "git commit failed";
  }
}
while (<STDIN>) {}
exit 0;
`;

const COMMIT_SUBJECT = 'stand-in: notes.txt';

export interface WorkersThroughputOptions {
  /** The package root (dist/cli/main.js, the fixture, the seed sources). */
  root: string;
  url: string;
  items: number;
  /** How long each stand-in session lasts (model time: the process sleeps). */
  sessionMs: number;
  /** [workers, slots each] of each configuration, measured one after the other. */
  configurations: readonly { workers: number; slots: number }[];
  log?: (line: string) => void;
}

export interface Distribution {
  count: number;
  medianMs: number;
  p95Ms: number;
  maxMs: number;
}

export interface WorkersConfigurationFigures {
  workers: number;
  slots: number;
  /** Spawn of the worker processes → every one said it is ready (not in the wall time). */
  startupMs: number;
  /** First enqueue → the last job done. */
  wallMs: number;
  itemsPerMinute: number;
  /** Jobs each worker ran. */
  jobsPerWorker: number[];
  /** The session itself: its run created → ended (the stand-in's paced lines, the recording). */
  session: Distribution;
  /** Job started on the worker → its run created: clone or fetch, the item branch's worktree, the push watch. */
  gitPrepFirst: Distribution;
  gitPrepLater: Distribution;
  /** Run ended → job done: deliverables, the push of the branch after the session. */
  afterSession: Distribution;
  /** Enqueue → job started on a worker (waiting for a free slot included). */
  queued: Distribution;
}

export interface WorkersThroughputFigures {
  items: number;
  sessionMs: number;
  configurations: WorkersConfigurationFigures[];
  /** Items per minute of the last configuration ÷ the first. */
  ratio: number;
  loadBefore: number;
  loadAfter: number;
}

/**
 * Throughput of `orchestrator worker` processes: `items` queued code-developer sessions (one per item, each on its own
 * branch of a bare remote), run by each configuration of worker processes in turn, each configuration in fresh
 * PostgreSQL schemas (store and queue), a fresh remote and fresh clone caches, dropped afterwards.
 */
export async function benchmarkWorkersThroughput(options: WorkersThroughputOptions): Promise<WorkersThroughputFigures> {
  const log = options.log ?? (() => undefined);
  const dir = await mkdtemp(join(tmpdir(), 'orch-bench-workers-'));
  const loadBefore = loadavg()[0] ?? 0;
  try {
    const standIn = join(dir, 'claude-stand-in');
    await writeFile(standIn, STAND_IN);
    await chmod(standIn, 0o755);
    const seed = await seedRepository(options.root, dir);
    const version = (JSON.parse(await readFile(join(options.root, 'package.json'), 'utf8')) as { version: string }).version;
    const configurations: WorkersConfigurationFigures[] = [];
    for (const [index, configuration] of options.configurations.entries()) {
      const figures = await measureConfiguration({ ...options, ...configuration, dir: join(dir, `config-${index}`), seed, standIn, version });
      log(`  ${configuration.workers} worker${configuration.workers === 1 ? '' : 's'} × ${configuration.slots} slots: ${(figures.wallMs / 1000).toFixed(1)} s, ${figures.itemsPerMinute.toFixed(1)} items/min, jobs per worker ${figures.jobsPerWorker.join('/')}, git prep median ${figures.gitPrepLater.medianMs.toFixed(0)} ms (first ${figures.gitPrepFirst.medianMs.toFixed(0)} ms)`);
      configurations.push(figures);
    }
    const first = configurations[0];
    const last = configurations.at(-1);
    return { items: options.items, sessionMs: options.sessionMs, configurations, ratio: first && last ? last.itemsPerMinute / first.itemsPerMinute : 0, loadBefore, loadAfter: loadavg()[0] ?? 0 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const git = (cwd: string, ...args: string[]) => execFileAsync('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@example.invalid', '-c', 'commit.gpgsign=false', ...args], { cwd, maxBuffer: 16 << 20 });

/** A repository of a small project's size: this package's own sources, one commit on main. */
async function seedRepository(root: string, dir: string): Promise<string> {
  const seed = join(dir, 'seed');
  await mkdir(seed);
  await git(seed, 'init', '--quiet', '--initial-branch=main');
  await cp(join(root, 'src'), join(seed, 'src'), { recursive: true });
  await writeFile(join(seed, 'README.md'), '# Bench project\n');
  await git(seed, 'add', '-A');
  await git(seed, 'commit', '--quiet', '-m', 'seed');
  return seed;
}

interface WorkerProcess {
  child: ChildProcess;
  output: string[];
  closed: Promise<void>;
}

interface JobTimes {
  worker: number;
  runId: string;
  startedAt: number;
  doneAt: number | null;
}

async function measureConfiguration(options: WorkersThroughputOptions & { workers: number; slots: number; dir: string; seed: string; standIn: string; version: string }): Promise<WorkersConfigurationFigures> {
  const schema = `orch_bench_workers_${randomBytes(5).toString('hex')}`;
  const queueSchema = `${schema}_queue`;
  const remote = join(options.dir, 'shared.git');
  await mkdir(options.dir, { recursive: true });
  await execFileAsync('git', ['clone', '--quiet', '--bare', options.seed, remote]);
  await adminStatement(options.url, `CREATE SCHEMA ${schema}`);
  const workers: WorkerProcess[] = [];
  try {
    // The store's tables, migrated once before the workers open it; the queue, as the coordinator installs it.
    const store = await PostgresStore.open(options.url, { schema });
    try {
      await installQueueSchema({ connectionString: options.url, schema: queueSchema }, { log: () => undefined });
      const jobs = new Map<string, JobTimes>();
      let done = 0;
      // Set from the worker processes' output (closures): a holder, so the type checker does not narrow it to null.
      const state: { failure: Error | null } = { failure: null };
      let settle: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => (settle = resolve));
      const ready: Promise<void>[] = [];
      const spawnedAt = performance.now();
      for (let index = 0; index < options.workers; index++) {
        const started = startWorker({ ...options, index, queueSchema, schema });
        workers.push(started.worker);
        ready.push(started.ready);
        started.onLine((line, at) => {
          const match = /job (\S+) (started|done|handed back|refused)(?:: run (\S+?),)?/.exec(line);
          if (!match) return;
          const [, jobId = '', what, runId = ''] = match;
          if (what === 'started') jobs.set(jobId, { worker: index, runId, startedAt: at, doneAt: null });
          else if (what === 'done') {
            const job = jobs.get(jobId);
            if (job) job.doneAt = at;
            if (!line.includes(': succeeded')) state.failure ??= new Error(`worker ${index}: ${line}`);
            if (++done === options.items || state.failure) settle();
          } else {
            state.failure ??= new Error(`worker ${index}: ${line}\n${started.worker.output.join('')}`);
            settle();
          }
        });
        void started.worker.closed.then(() => {
          state.failure ??= new Error(`worker ${index} exited before the jobs were done:\n${started.worker.output.join('')}`);
          settle();
        });
      }
      await Promise.all(ready);
      const startupMs = performance.now() - spawnedAt;

      const agent = parseAgentDefinition(DEFAULT_AGENTS['code-developer']!, 'code-developer.md');
      const queue = await openQueueClient({ connectionString: options.url, schema: queueSchema }, { log: () => undefined });
      const enqueuedAt = new Map<string, number>();
      const began = performance.now();
      const beganAt = Date.now();
      try {
        for (let n = 1; n <= options.items; n++) {
          const session = developerSession(agent, n);
          const payload = remoteSessionPayload({ runId: newSortableId() as RunId, session, remote, integrationBranch: 'main' }, { coordinatorVersion: options.version, schemaVersion: SCHEMA_VERSION });
          const { jobId } = await queue.enqueueSessionJob(payload, { jobKey: sessionJobKey(session.workItemId, remoteSessionStep(session)) });
          enqueuedAt.set(jobId, Date.now());
        }
      } finally {
        await queue.close();
      }
      const timeout = setTimeout(() => {
        state.failure ??= new Error(`${done} of ${options.items} jobs done after 180 s`);
        settle();
      }, 180_000);
      await finished;
      clearTimeout(timeout);
      if (state.failure) throw state.failure;
      const lastDone = Math.max(...[...jobs.values()].map((job) => job.doneAt ?? 0));
      const wallMs = lastDone - beganAt > 0 ? lastDone - beganAt : performance.now() - began;

      const runs = new Map((await store.listRuns({ limit: options.items * 4 })).map((run): [string, RunSummary] => [run.id, run]));
      const perWorker = Array.from({ length: options.workers }, () => 0);
      const session: number[] = [];
      const prepFirst: number[] = [];
      const prepLater: number[] = [];
      const after: number[] = [];
      const queued: number[] = [];
      const order = [...jobs.entries()].sort(([, a], [, b]) => a.startedAt - b.startedAt);
      for (const [jobId, job] of order) {
        const run = runs.get(job.runId);
        if (!run?.endedAt || run.status !== 'succeeded') throw new Error(`job ${jobId}: run ${job.runId} is ${run?.status ?? 'missing'}`);
        const created = Date.parse(run.createdAt);
        const ended = Date.parse(run.endedAt);
        // The first job of each slot of a worker meets an empty clone cache (or waits for the clone).
        (perWorker[job.worker]! < options.slots ? prepFirst : prepLater).push(created - job.startedAt);
        perWorker[job.worker]!++;
        session.push(ended - created);
        if (job.doneAt !== null) after.push(job.doneAt - ended);
        const enqueued = enqueuedAt.get(jobId);
        if (enqueued !== undefined) queued.push(job.startedAt - enqueued);
      }
      await checkRemote(remote, options.items);
      return {
        workers: options.workers,
        slots: options.slots,
        startupMs,
        wallMs,
        itemsPerMinute: options.items / (wallMs / 60_000),
        jobsPerWorker: perWorker,
        session: distribution(session),
        gitPrepFirst: distribution(prepFirst),
        gitPrepLater: distribution(prepLater),
        afterSession: distribution(after),
        queued: distribution(queued),
      };
    } finally {
      await stopWorkers(workers);
      await store.close();
    }
  } finally {
    await adminStatement(options.url, `DROP SCHEMA IF EXISTS ${queueSchema} CASCADE`);
    await adminStatement(options.url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
}

function developerSession(agent: SessionJob['agent'], n: number): SessionJob {
  const branch = `orchestrator/${n}-bench-item-${n}`;
  return {
    workItemId: `P-${n}` as WorkItemId,
    role: Role.codeDeveloper,
    attempt: 1,
    agent,
    prompt: developerPrompt({ number: String(n), title: `Bench item ${n}`, body: `Write notes.txt for item ${n}.` }, { specPath: null, branch, integrationBranch: 'main', testCommand: null }),
    branch,
    paths: {},
    testCommand: null,
    resumeSessionId: null,
    maxBudgetUsd: null,
    defaultModel: null,
    agentPromptOnly: false,
    limits: { timeoutMs: 120_000, idleTimeoutMs: 60_000, stopGraceMs: 2_000, maxTurns: 20 },
  };
}

/** An `orchestrator worker` process of its own: its own HOME (git identity) and clone cache, the stand-in as its CLI. */
function startWorker(options: { root: string; url: string; dir: string; standIn: string; sessionMs: number; slots: number; index: number; schema: string; queueSchema: string }) {
  const home = join(options.dir, `worker-${options.index}`, 'home');
  const cacheDir = join(options.dir, `worker-${options.index}`, 'clones');
  const listeners: ((line: string, at: number) => void)[] = [];
  const output: string[] = [];
  const prepared = (async () => {
    await mkdir(join(home, '.claude'), { recursive: true });
    await writeFile(join(home, '.gitconfig'), '[user]\n\tname = Worker\n\temail = worker@example.invalid\n[commit]\n\tgpgsign = false\n');
  })();
  const url = `${options.url}${options.url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${options.schema}`)}`;
  let child: ChildProcess | null = null;
  let markReady: () => void = () => undefined;
  let markClosed: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const worker: WorkerProcess = {
    get child() {
      if (!child) throw new Error('worker not spawned yet');
      return child;
    },
    output,
    closed,
  };
  const spawned = prepared.then(() => {
    child = spawn(process.execPath, [join(options.root, 'dist', 'cli', 'main.js'), '--db', url, 'worker', '--slots', String(options.slots), '--cache-dir', cacheDir, '--queue-schema', options.queueSchema], {
      cwd: home,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        CLAUDE_BIN: options.standIn,
        STAND_IN_FIXTURE: join(options.root, 'test', 'fixtures', 'streams', 'multi-tool-success.jsonl'),
        STAND_IN_SESSION_MS: String(options.sessionMs),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const at = Date.now();
      output.push(`${line}\n`);
      if (line.includes(' ready: ')) markReady();
      for (const listener of listeners) listener(line, at);
    });
    child.on('close', () => markClosed());
  });
  return {
    worker,
    ready: Promise.race([
      spawned.then(() => ready),
      closed.then(() => {
        throw new Error(`worker ${options.index} exited before it was ready:\n${output.join('')}`);
      }),
    ]),
    onLine: (listener: (line: string, at: number) => void) => listeners.push(listener),
  };
}

/** SIGTERM (a drain: nothing is running by now), SIGKILL after 20 s. */
async function stopWorkers(workers: readonly WorkerProcess[]): Promise<void> {
  await Promise.all(
    workers.map(async (worker) => {
      let child: ChildProcess;
      try {
        child = worker.child;
      } catch {
        return;
      }
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await worker.closed;
      clearTimeout(timer);
    }),
  );
}

/** Every item's branch is on the remote with the stand-in's commit. */
async function checkRemote(remote: string, items: number): Promise<void> {
  const { stdout } = await execFileAsync('git', ['for-each-ref', '--format=%(refname:short) %(contents:subject)', 'refs/heads/orchestrator/'], { cwd: remote });
  const branches = stdout.trim().split('\n').filter((line) => line.endsWith(` ${COMMIT_SUBJECT}`));
  if (branches.length !== items) throw new Error(`expected ${items} item branches with "${COMMIT_SUBJECT}" on the remote, found ${branches.length}:\n${stdout}`);
}


function distribution(values: readonly number[]): Distribution {
  const { count, p50Ms, p95Ms, maxMs } = latencyFigure(values);
  return count === 0 ? { count, medianMs: 0, p95Ms: 0, maxMs: 0 } : { count, medianMs: p50Ms, p95Ms, maxMs };
}
