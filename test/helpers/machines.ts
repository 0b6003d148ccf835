import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach } from 'vitest';
import type { ScriptedModelServer } from '../../src/scripted-model/index.js';
import type { Store } from '../../src/store/index.js';
import { startCli, type StartedCli } from './cli.js';
import { pgAdmin, postgresTestDatabase, type TestDatabase } from './databases.js';
import { cliPath, sessionEnv } from './model.js';
import { pipelineRepo, roadmapOf } from './pipeline.js';
import type { TmpRepo } from './tmp-repo.js';

/**
 * Several machines on one: a coordinator (`start`) and `orchestrator worker` processes, each with its own HOME and
 * clone cache, sharing one PostgreSQL database (a schema per test), one job queue and one bare git remote.
 */
export interface Machines {
  readonly scratch: string;
  readonly db: TestDatabase;
  readonly queueSchema: string;
  /** Every process started: killed (SIGKILL) after the test if still running. */
  readonly children: StartedCli[];
  /** A machine's home: its git identity and the sessions' ~/.claude. */
  home(name: string): Promise<string>;
  startWorker(name: string, slots: number): Promise<StartedCli>;
  /**
   * The coordinator's repository: a clone whose `origin` is a bare remote in the scratch directory. Its workers
   * heartbeat every second with a 15 s lease (short, for tests that kill one; long enough that a busy machine loses no live one) unless `config.workers` says otherwise.
   */
  coordinatorRepo(priorities: number, config?: Record<string, unknown>): Promise<{ repo: TmpRepo; remote: string; git: (...args: string[]) => string }>;
  /** `start --until-idle` in the coordinator's clone; resolves once it has installed the queue (workers refuse to start before). */
  startCoordinator(cwd: string, extra?: string[], options?: { detached?: boolean }): Promise<StartedCli>;
  withStore<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  until<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T>;
}

/** Sets up (beforeEach) and tears down (afterEach) a fresh set of machines for every test of the file. */
export function useMachines(model: ScriptedModelServer, options: { waitMs: number; prefix?: string }): () => Machines {
  let current: Machines | null = null;
  beforeEach(async () => {
    const scratch = await mkdtemp(join(tmpdir(), `orch-${options.prefix ?? 'machines'}-`));
    const db = await postgresTestDatabase(options.prefix ?? 'machines');
    current = machinesIn(model, scratch, db, `mq_${randomBytes(5).toString('hex')}`, options.waitMs);
  });
  afterEach(async () => {
    if (current === null) return;
    const { children, queueSchema, db, scratch } = current;
    current = null;
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(children.map((child) => child.closed));
    await pgAdmin(`DROP SCHEMA IF EXISTS ${queueSchema} CASCADE`);
    await db[Symbol.asyncDispose]();
    await rm(scratch, { recursive: true, force: true });
  });
  return () => {
    if (current === null) throw new Error('useMachines: only inside a test');
    return current;
  };
}

function machinesIn(model: ScriptedModelServer, scratch: string, db: TestDatabase, queueSchema: string, waitMs: number): Machines {
  const children: StartedCli[] = [];
  const home = async (name: string) => {
    const dir = join(scratch, name, 'home');
    await mkdir(join(dir, '.claude'), { recursive: true });
    await writeFile(join(dir, '.gitconfig'), `[user]\n\tname = ${name}\n\temail = ${name}@example.invalid\n[commit]\n\tgpgsign = false\n`);
    return dir;
  };
  const until = async <T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T> => {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const value = await probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${children.map((child) => `${child.spawnargs.slice(2).join(' ')}\n${child.output.stdout}\n${child.output.stderr}`).join('\n---\n')}`);
      await sleep(200);
    }
  };
  return {
    scratch,
    db,
    queueSchema,
    children,
    home,
    until,
    async startWorker(name, slots) {
      const dir = join(scratch, name);
      const env = sessionEnv(model, { HOME: await home(name), CLAUDE_BIN: cliPath() });
      await mkdir(join(dir, 'anywhere'), { recursive: true });
      const child = startCli([...db.args, 'worker', '--slots', String(slots), '--cache-dir', join(dir, 'clones'), '--queue-schema', queueSchema], { cwd: join(dir, 'anywhere'), env });
      children.push(child);
      return child;
    },
    async coordinatorRepo(priorities, config = {}) {
      const repo = await pipelineRepo(roadmapOf(Array.from({ length: priorities }, (_, i) => ({ number: String(i + 1), title: `Feature ${i + 1}` }))), {
        config: { ...config, workers: { enabled: true, queueSchema, heartbeatSeconds: 1, leaseSeconds: 15, ...(config.workers as Record<string, unknown> | undefined) } },
      });
      const remote = join(scratch, 'shared.git');
      execFileSync('git', ['clone', '-q', '--bare', repo.path, remote]);
      repo.git('remote', 'add', 'origin', remote);
      const git = (...args: string[]) => execFileSync('git', args, { cwd: remote, encoding: 'utf8' });
      return { repo, remote, git };
    },
    async startCoordinator(cwd, extra = [], options = {}) {
      const child = startCli([...db.args, 'start', '--until-idle', ...extra], { cwd, env: sessionEnv(model, { HOME: await home('coordinator') }), detached: options.detached ?? false });
      children.push(child);
      await until('the coordinator to install the queue', async () => child.output.stdout.includes('workers: sessions go to the job queue'));
      return child;
    },
    async withStore(fn) {
      const store = await db.open();
      try {
        return await fn(store);
      } finally {
        await store.close();
      }
    },
  };
}
