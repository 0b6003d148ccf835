import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { EventBus, type RunId } from '../../src/events/index.js';
import { InProcessSessionExecutor, Role, Supervisor, registerWorker, workerJobHandler, type ExecutedSession, type SessionJob, type WorkerJobEvent } from '../../src/orchestrator/index.js';
import { installQueueSchema, openQueueClient, runQueueWorker, type QueueClient } from '../../src/queue/index.js';
import { StartCommitMissingError, checkoutItemBranch, ensureWorkerClone } from '../../src/git/index.js';
import { RemoteIntegration } from '../../src/orchestrator/remote-integration.js';
import { RepoOps } from '../../src/orchestrator/repo-ops.js';
import { MessageWriter, type Store, type WorkerJobRecord } from '../../src/store/index.js';
import { priceTable } from '../../src/usage/index.js';
import { startCli, waitCli, type StartedCli } from '../helpers/cli.js';
import { PG_TEST_URL, pgAdmin, postgresTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { cliPath, sessionEnv, useScriptedModel } from '../helpers/model.js';
import { pipelineRepo, roadmapOf } from '../helpers/pipeline.js';
import { developerWriting, standardRoles } from '../helpers/role-scenarios.js';
import { tmpRepo, type TmpRepo } from '../helpers/tmp-repo.js';

const model = useScriptedModel();
const WAIT_MS = 200_000;
/** `orchestrator worker` takes only jobs of its own version. */
const PACKAGE_VERSION = (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
/** Where a project manager's job carries its change (orchestrator/_project-manager/<item>-<attempt>). */
const PM_BRANCH = /^orchestrator\/_project-manager\/P-\d+-\d+$/;

/**
 * The project manager's session as a job (issue 8: "every role session, the project manager's included, is a job"):
 * the coordinator (a Supervisor in this test process) runs no session itself; the worker runs the project manager on
 * a branch of its own made at the integration commit the coordinator chose, and pushes it; the coordinator takes the
 * change in, checks, commits and lands it, and deletes the branch.
 */
describe('the project manager as a job: its session on a worker, its change checked and landed by the coordinator', () => {
  let scratch: string;
  let db: TestDatabase;
  let queueSchema: string;
  let children: StartedCli[];

  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'orch-pm-job-'));
    db = await postgresTestDatabase('pmjob');
    queueSchema = `pmq_${randomBytes(5).toString('hex')}`;
    children = [];
  });
  afterEach(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(children.map((child) => child.closed));
    await pgAdmin(`DROP SCHEMA IF EXISTS ${queueSchema} CASCADE`);
    await db[Symbol.asyncDispose]();
    await rm(scratch, { recursive: true, force: true });
  });

  /** The coordinator's repository (`origin`: a bare remote in the scratch directory) and its queue, installed. */
  const coordinatorSide = async (repo: TmpRepo) => {
    const remote = join(scratch, 'shared.git');
    execFileSync('git', ['clone', '-q', '--bare', repo.path, remote]);
    repo.git('remote', 'add', 'origin', remote);
    const connection = { connectionString: PG_TEST_URL, schema: queueSchema };
    await installQueueSchema(connection);
    const queue = await openQueueClient(connection);
    const onRemote = (...args: string[]) => execFileSync('git', args, { cwd: remote, encoding: 'utf8' });
    return { remote, queue, onRemote };
  };
  /** The supervisor as `start` runs it with workers.enabled, until idle; every session started here is counted. */
  const coordinate = async (repo: TmpRepo, store: Store, queue: QueueClient, remote: string, coordinatorVersion: string) => {
    const config = await loadConfig({ repoRoot: repo.path, env: sessionEnv(model), overrides: {} });
    const bus = new EventBus((error) => {
      throw error;
    });
    const startedHere: RunId[] = [];
    bus.on('run.started', (event) => startedHere.push(event.runId));
    const writer = new MessageWriter(store);
    try {
      const supervisor = new Supervisor({ config, store, bus, messages: writer, cliPath: cliPath(), untilIdle: true, signal: new AbortController().signal, pollIntervalMs: 100, workers: { queue, remoteUrl: remote, coordinatorVersion } });
      await supervisor.prepare();
      return { report: await supervisor.run(), startedHere };
    } finally {
      await writer.close();
    }
  };
  const until = async <T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T> => {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const value = await probe();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${children.map((child) => `${child.output.stdout}\n${child.output.stderr}`).join('\n---\n')}`);
      await sleep(200);
    }
  };

  it('runs the project manager on a worker process; the roadmap marks land on the remote and its branch leaves it', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Alpha' }, { number: '2', title: 'Beta' }]));
    const { remote, queue, onRemote } = await coordinatorSide(repo);
    model.addScenarios([
      developerWriting({ number: '1', file: 'src/alpha.js', content: 'export const alpha = 1;\n' }),
      developerWriting({ number: '2', file: 'src/beta.js', content: 'export const beta = 2;\n' }),
      ...standardRoles,
    ]);
    // A machine of its own: HOME (git identity, ~/.claude), clone cache, a directory outside any repository.
    const home = join(scratch, 'machine-a', 'home');
    await mkdir(join(home, '.claude'), { recursive: true });
    await mkdir(join(scratch, 'machine-a', 'anywhere'));
    await writeFile(join(home, '.gitconfig'), '[user]\n\tname = machine-a\n\temail = machine-a@example.invalid\n[commit]\n\tgpgsign = false\n');
    const worker = startCli([...db.args, 'worker', '--slots', '2', '--cache-dir', join(scratch, 'machine-a', 'clones'), '--queue-schema', queueSchema], {
      cwd: join(scratch, 'machine-a', 'anywhere'),
      env: sessionEnv(model, { HOME: home, CLAUDE_BIN: cliPath() }),
    });
    children.push(worker);
    await until('the worker to be ready', async () => worker.output.stdout.includes(' ready: '));
    const store = await db.open();
    try {
      const { report, startedHere } = await coordinate(repo, store, queue, remote, PACKAGE_VERSION);
      expect(report.items.map((item) => (item.state === 'blocked' ? `blocked: ${item.blockedReason ?? ''}` : item.state))).toEqual(['done', 'done']);

      // No session ran in the coordinator's process; every run, the project manager's included, is the worker's.
      expect(startedHere).toEqual([]);
      const runs = await store.listRuns({ limit: 100 });
      expect(runs.length).toBeGreaterThanOrEqual(7);
      expect(runs.filter((run) => run.ownerPid === process.pid)).toEqual([]);
      expect(runs.every((run) => run.status === 'succeeded' && run.ownerPid === worker.pid && run.host === hostname())).toBe(true);
      const managers = runs.filter((run) => run.agent === Role.projectManager);
      expect(managers.length).toBeGreaterThanOrEqual(1);
      for (const run of managers) {
        expect(run.branch).toMatch(PM_BRANCH);
        // Its working directory is the worker's (its prompt named that one, not the coordinator's scratch worktree).
        expect(run.cwd.startsWith(join(scratch, 'machine-a', 'clones'))).toBe(true);
        expect(run.prompt).toContain(`Working directory: ${run.cwd}`);
        expect(worker.output.stdout).toContain(`run ${run.id}, ${run.workItemId ?? '?'} project-manager: succeeded (branch pushed)`);
      }
      expect((await store.listWorkers()).map((entry) => [entry.pid, entry.host])).toEqual([[worker.pid, hostname()]]);

      // The remote's integration branch holds both merges and the roadmap marks, committed by the coordinator; no
      // item branch and no project manager's branch is left there; here and there, the same commit.
      expect(onRemote('show', 'main:src/alpha.js')).toBe('export const alpha = 1;\n');
      expect(onRemote('show', 'main:src/beta.js')).toBe('export const beta = 2;\n');
      const roadmap = onRemote('show', 'main:docs/roadmap/ROADMAP.md');
      expect(roadmap).toContain('### PRIORITY 1: Alpha\n**Status**: ✅ Complete');
      expect(roadmap).toContain('### PRIORITY 2: Beta\n**Status**: ✅ Complete');
      expect(onRemote('log', '--format=%an %s', 'main').split('\n').filter((line) => line.startsWith('Orchestrator Roadmap: PRIORITY')).length).toBeGreaterThanOrEqual(1);
      expect(onRemote('for-each-ref', '--format=%(refname)', 'refs/heads/orchestrator/').trim()).toBe('');
      expect(repo.git('rev-parse', 'main').trim()).toBe(onRemote('rev-parse', 'main').trim());
    } finally {
      await store.close();
      await queue.close();
    }
    worker.kill('SIGTERM');
    expect((await waitCli(worker, WAIT_MS)).exitCode).toBe(0);
  }, 300_000);

  it('refuses a project manager whose change on its branch touches another file, with the reason it has in-process, and lands nothing', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Alpha' }]), { config: { retries: { maxAttempts: 1, baseDelayMs: 100, maxDelayMs: 500 } } });
    const { remote, queue, onRemote } = await coordinatorSide(repo);
    model.addScenarios([developerWriting({ number: '1', file: 'src/alpha.js', content: 'export const alpha = 1;\n' }), ...standardRoles]);
    const store = await db.open();
    const writer = new MessageWriter(store);
    const me = await registerWorker(store, { slots: 2, version: 'test' });
    const jobsSeen: WorkerJobRecord[][] = [];
    /**
     * The tool policy lets a project manager write nothing but the roadmap, so the stray file is written beside its
     * session on the worker, as a tool the policy does not know (or a process) could: the check on the coordinator is
     * what must catch it. Also notes the worker's jobs while the session's job is held (its worker_jobs row).
     */
    class StrayFileExecutor extends InProcessSessionExecutor {
      override async run(job: SessionJob, cwd: string, signal: AbortSignal, options: { runId?: RunId } = {}): Promise<ExecutedSession> {
        const executed = await super.run(job, cwd, signal, options);
        if (job.role === Role.projectManager) {
          await writeFile(join(cwd, 'NOTES.md'), 'The project manager was here.\n');
          jobsSeen.push((await store.listWorkers()).flatMap((worker) => worker.jobs));
        }
        return executed;
      }
    }
    const executor = new StrayFileExecutor({ store, bus: new EventBus(), messages: writer, cliPath: cliPath(), env: sessionEnv(model), prices: priceTable() });
    const events: WorkerJobEvent[] = [];
    const workersStop = new AbortController();
    const worker = runQueueWorker({
      connectionString: PG_TEST_URL,
      schema: queueSchema,
      workerId: me.id,
      concurrency: 2,
      pollIntervalMs: 500,
      signal: workersStop.signal,
      log: () => undefined,
      handler: workerJobHandler({ store, executor, workerId: me.id, host: me.host, version: 'test', cacheDir: join(scratch, 'clones'), stopSessions: new AbortController().signal, onIncompatible: () => undefined, onEvent: (event) => events.push(event) }),
    });
    const mainBefore = onRemote('rev-parse', 'main').trim();
    try {
      const { report, startedHere } = await coordinate(repo, store, queue, remote, 'test');
      const [item] = report.items;
      expect(item?.state).toBe('blocked');
      expect(item?.blockedReason).toBe('project-manager failed 1 time(s); last: the project manager changed files other than the roadmap: NOTES.md');
      expect(startedHere).toEqual([]);

      // The project manager's session ran on the worker, in a job recorded against it, and itself succeeded.
      const [manager] = await store.listRuns({ agent: Role.projectManager });
      expect(manager).toMatchObject({ status: 'succeeded', workItemId: 'P-1' });
      expect(manager?.branch).toMatch(PM_BRANCH);
      expect(jobsSeen).toHaveLength(1);
      expect(jobsSeen[0]?.find((job) => job.runId === manager?.id)).toMatchObject({ workerId: me.id, workItemId: 'P-1' });
      expect(events.filter((event) => event.kind === 'finished' && event.role === Role.projectManager)).toMatchObject([{ runId: manager?.id, status: 'succeeded', pushed: 'pushed' }]);

      // Nothing of it landed: the merge did, the roadmap did not change, no NOTES.md; its branch is gone all the same.
      const log = onRemote('log', '--format=%s', `${mainBefore}..main`).trim().split('\n');
      expect(log.some((subject) => subject.startsWith('Merge orchestrator/1-alpha'))).toBe(true);
      expect(log.filter((subject) => subject.startsWith('Roadmap:'))).toEqual([]);
      expect(onRemote('show', 'main:docs/roadmap/ROADMAP.md')).toContain('### PRIORITY 1: Alpha\n**Status**: 📝 Planned');
      expect(onRemote('ls-tree', '--name-only', 'main').split('\n')).not.toContain('NOTES.md');
      expect(onRemote('for-each-ref', '--format=%(refname)', 'refs/heads/orchestrator/').trim()).toBe('');
      expect(repo.git('rev-parse', 'main').trim()).toBe(onRemote('rev-parse', 'main').trim());
    } finally {
      workersStop.abort();
      await worker.catch(() => undefined);
      await writer.close();
      await store.close();
      await queue.close();
    }
  }, 300_000);
});

/** The git under the project manager's job, alone: a worker's scratch branch and the coordinator's side of it. */
describe("a project manager's scratch branch: made at the pinned commit, taken in by the coordinator, deleted", () => {
  let scratch: string;
  beforeEach(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'orch-pm-branch-'));
  });
  afterEach(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  /** A coordinator's clone whose `origin` is a bare remote, a roadmap and a notes file on `main`; its RemoteIntegration. */
  const coordinatorClone = async () => {
    const repo = await tmpRepo({ files: { 'ROADMAP.md': '# Roadmap\n\n### PRIORITY 1: Alpha\n**Status**: 📝 Planned\n', 'OLD.md': 'to be removed\n' } });
    const remote = join(scratch, 'shared.git');
    execFileSync('git', ['clone', '-q', '--bare', repo.path, remote]);
    repo.git('remote', 'add', 'origin', remote);
    const integration = new RemoteIntegration({ repo: new RepoOps(repo.path), remote: 'origin', integrationBranch: () => 'main', signal: new AbortController().signal });
    const onRemote = (...args: string[]) => execFileSync('git', args, { cwd: remote, encoding: 'utf8' }).trim();
    return { repo, remote, integration, onRemote };
  };

  it('a worker makes the branch at the pinned commit, not the tip, and sets aside a local branch of an earlier job that lacks it', async () => {
    const { repo, remote, onRemote } = await coordinatorClone();
    await using _repo = repo;
    const first = repo.git('rev-parse', 'main').trim();
    await repo.write('src/merged.js', 'export const merged = 1;\n');
    const pinned = repo.commitAll('a merge before the pin');
    await repo.write('src/later.js', 'export const later = 1;\n');
    const tip = repo.commitAll('a merge after the pin');
    repo.git('push', '-q', 'origin', 'main');
    const clone = await ensureWorkerClone({ remoteUrl: remote, cacheDir: join(scratch, 'clones') });
    const branch = 'orchestrator/_project-manager/P-1-1';
    const checkout = await checkoutItemBranch(clone, { branch, integrationBranch: 'main', startAt: pinned });
    expect(checkout).toMatchObject({ head: pinned, pushedSha: null, startedFrom: 'integration_branch', setAside: null });
    expect(onRemote('rev-parse', 'main')).toBe(tip);
    // A job that never pushed left the local branch on a commit without the pin: the next checkout at the pin keeps
    // that commit under a ref and starts at the pin.
    execFileSync('git', ['reset', '-q', '--hard', first], { cwd: checkout.path });
    execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', '-c', 'commit.gpgsign=false', 'commit', '-q', '--allow-empty', '-m', 'stray'], { cwd: checkout.path });
    const stray = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: checkout.path, encoding: 'utf8' }).trim();
    const again = await checkoutItemBranch(clone, { branch, integrationBranch: 'main', startAt: pinned });
    expect(again.head).toBe(pinned);
    expect(again.setAside?.sha).toBe(stray);
    await expect(checkoutItemBranch(clone, { branch: 'orchestrator/_project-manager/P-1-2', integrationBranch: 'main', startAt: 'f'.repeat(40) })).rejects.toBeInstanceOf(StartCommitMissingError);
  });

  it('the coordinator takes every file the branch changed into its worktree, uncommitted, and deletes the branch by compare-and-set', async () => {
    const { repo, integration, onRemote } = await coordinatorClone();
    await using _repo = repo;
    const base = repo.git('rev-parse', 'main').trim();
    await integration.publishUpTo(base);
    // What a worker pushes: the roadmap changed, a new file, a file removed, committed on the scratch branch.
    const branch = 'orchestrator/_project-manager/P-1-1';
    const worker = join(scratch, 'worker');
    execFileSync('git', ['clone', '-q', join(scratch, 'shared.git'), worker]);
    const inWorker = (...args: string[]) => execFileSync('git', ['-c', 'user.name=Worker', '-c', 'user.email=worker@example.invalid', '-c', 'commit.gpgsign=false', ...args], { cwd: worker, encoding: 'utf8' });
    inWorker('checkout', '-q', '-b', branch, base);
    await writeFile(join(worker, 'ROADMAP.md'), '# Roadmap\n\n### PRIORITY 1: Alpha\n**Status**: ✅ Complete\n');
    await mkdir(join(worker, 'notes'));
    await writeFile(join(worker, 'notes', 'NOTES.md'), 'stray\n');
    inWorker('rm', '-q', 'OLD.md');
    inWorker('add', '-A');
    inWorker('commit', '-q', '-m', 'project-manager of P-1');
    inWorker('push', '-q', 'origin', branch);
    const pushed = onRemote('rev-parse', `refs/heads/${branch}`);

    // A merge lands meanwhile: the coordinator's worktree is at the newer tip; only the branch's own change comes in.
    await repo.write('src/merged.js', 'export const merged = 1;\n');
    const tip = repo.commitAll('a merge');
    repo.git('push', '-q', 'origin', 'main');
    const ops = new RepoOps(repo.path);
    const worktree = await ops.scratchWorktree('_roadmap', 'main');
    expect(await integration.takeScratchChange(worktree, branch)).toBe(pushed);
    expect(await ops.headSha('HEAD', worktree)).toBe(tip);
    expect((await ops.dirtyFiles(worktree)).sort()).toEqual(['OLD.md', 'ROADMAP.md', 'notes/NOTES.md']);
    expect(await ops.readWorktreeFile(worktree, 'ROADMAP.md')).toContain('**Status**: ✅ Complete');
    expect(await ops.readWorktreeFile(worktree, 'src/merged.js')).toBe('export const merged = 1;\n');
    expect(await integration.takeScratchChange(worktree, 'orchestrator/_project-manager/P-9-1')).toBeNull();

    // Deleted only at the tip it was read at: a branch pushed to since is kept.
    expect(await integration.deleteScratchBranch(branch, base)).toEqual({ kind: 'moved', actual: pushed });
    expect(await integration.deleteScratchBranch(branch, pushed)).toEqual({ kind: 'deleted', sha: pushed });
    expect(await integration.deleteScratchBranch(branch)).toEqual({ kind: 'absent' });
    expect(onRemote('for-each-ref', '--format=%(refname)', 'refs/heads/orchestrator/')).toBe('');
  });

  it('publishes the pinned commit when the remote lacks it (a commit in the user\'s checkout), and only then', async () => {
    const { repo, integration, onRemote } = await coordinatorClone();
    await using _repo = repo;
    const before = onRemote('rev-parse', 'main');
    await integration.publishUpTo(before);
    expect(onRemote('rev-parse', 'main')).toBe(before);
    await repo.write('docs/local.md', 'made in the checkout\n');
    const local = repo.commitAll('a commit in the user\'s checkout');
    await integration.publishUpTo(local);
    expect(onRemote('rev-parse', 'main')).toBe(local);
    // An older commit the remote already contains moves nothing.
    await integration.publishUpTo(before);
    expect(onRemote('rev-parse', 'main')).toBe(local);
  });
});
