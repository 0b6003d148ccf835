import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WorkItemId } from '../../../src/events/index.js';
import { IntegrationGate, type GateClient } from '../../../src/orchestrator/integration-gate.js';
import { RepoOps } from '../../../src/orchestrator/repo-ops.js';
import { WaitBoard } from '../../../src/orchestrator/wait-board.js';
import { SqliteStore } from '../../../src/store/index.js';
import { tmpRepo, type TmpRepo } from '../../helpers/tmp-repo.js';

const P1: GateClient = { id: 'P-1' as WorkItemId, rank: 1, label: 'P-1' };

describe('IntegrationGate: test outside the lock, advance by compare-and-set', () => {
  let repo: TmpRepo;
  let dir: string;
  let store: SqliteStore;
  let ops: RepoOps;

  beforeEach(async () => {
    repo = await tmpRepo({ files: { 'README.md': '# test\n', 'a.txt': 'a\n' } });
    dir = await mkdtemp(join(tmpdir(), 'orch-gate-'));
    store = SqliteStore.open(join(dir, 'db.sqlite'));
    await store.upsertWorkItem({ id: P1.id, kind: 'priority', number: '1', title: 'One', slug: 'one', state: 'merging', position: 1, at: new Date().toISOString() });
    ops = new RepoOps(repo.path);
  });
  afterEach(async () => {
    await store.close();
    await repo[Symbol.asyncDispose]();
    await rm(dir, { recursive: true, force: true });
  });

  const gate = (testCommand: string | null, maxRetests = 2) =>
    new IntegrationGate({ repo: ops, store, waits: new WaitBoard(store), integrationBranch: () => 'main', testCommand, testTimeoutMs: 60_000, testEnv: { PATH: process.env.PATH ?? '' }, maxRetests, signal: new AbortController().signal });

  /** A branch with one commit of its own, checked out in its worktree, as a developer leaves it. */
  async function featureBranch(name: string, file: string, content: string): Promise<string> {
    const worktree = await ops.worktreeFor(name, name, 'main');
    repo.git('-C', worktree, 'checkout', '-q', name);
    await import('node:fs/promises').then((fs) => fs.writeFile(join(worktree, file), content));
    repo.git('-C', worktree, 'add', file);
    repo.git('-C', worktree, 'commit', '-q', '-m', `${name}: ${file}`);
    return worktree;
  }

  /** Moves main by one commit, as another merge landing would. */
  const moveMain = (message: string) => {
    const tip = repo.git('rev-parse', 'main').trim();
    const commit = repo.git('commit-tree', '-p', tip, '-m', message, `${tip}^{tree}`).trim();
    repo.git('update-ref', 'refs/heads/main', commit, tip);
    return commit;
  };

  it('lands a tested merge commit whose parents are the tip and the branch; a change queued behind it is made on top of it meanwhile and lands after it', async () => {
    const worktree = await featureBranch('feature', 'b.txt', 'b\n');
    const head = repo.git('rev-parse', 'feature').trim();
    const tip = repo.git('rev-parse', 'main').trim();
    const started = join(dir, 'started');
    const barrier = join(dir, 'barrier');
    const integration = gate(`test -f b.txt && touch ${started} && while [ ! -f ${barrier} ]; do sleep 0.05; done`);
    const landing = integration.landBranch(P1, worktree, 'feature', 'Merge feature', async () => {});
    while (!existsSync(started)) await new Promise((resolve) => setTimeout(resolve, 20));
    // While P-1's merge is under test, a roadmap commit made on the tip is queued: it is replayed on P-1's merge at
    // once (no waiting for the test), and lands only after P-1 has.
    const scratch = await ops.scratchWorktree('_roadmap', 'main');
    await import('node:fs/promises').then((fs) => fs.writeFile(join(scratch, 'a.txt'), 'other\n'));
    const other = await ops.commitFiles(scratch, ['a.txt'], 'another change');
    const ontos: string[] = [];
    const queued = integration.landCommit({ id: 'P-2' as WorkItemId, rank: 2, label: 'P-2' }, tip, other ?? '', async (onto) => {
      ontos.push(onto);
      return ops.replayCommit(scratch, other ?? '', onto);
    });
    while (ontos.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(repo.git('rev-parse', 'main').trim()).toBe(tip);
    await import('node:fs/promises').then((fs) => fs.writeFile(barrier, ''));
    const outcome = await landing;
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ kind: 'landed', retests: 0 });
    const landedCommit = await queued;
    expect(repo.git('rev-parse', 'main').trim()).toBe(landedCommit);
    expect(repo.git('rev-parse', 'main^').trim()).toBe(ontos[0]);
    expect(repo.git('rev-parse', 'main^^1', 'main^^2').trim().split('\n')).toEqual([tip, head]);
    expect(repo.git('log', '-1', '--format=%s', 'main^').trim()).toBe('Merge feature');
    expect(repo.git('show', 'main:a.txt')).toBe('other\n');
    const events = await store.listEvents({ workItemId: P1.id });
    expect(events.filter((event) => event.kind === 'tests.ran').map((event) => event.data.exitCode)).toEqual([0]);
    expect(events.filter((event) => event.kind === 'integration.lock').map((event) => event.data.purpose)).toEqual(['merge']);
  });

  it('makes a merge queued behind another on top of it, tests both at once, and lands them in order without a re-test', async () => {
    const first = await featureBranch('one', 'one.txt', '1\n');
    const second = await featureBranch('two', 'two.txt', '2\n');
    const barrier = join(dir, 'barrier');
    // Each test waits for the barrier: both are under test at the same time.
    const integration = gate(`touch ${dir}/$(basename $PWD).testing; while [ ! -f ${barrier} ]; do sleep 0.05; done`);
    const retests: string[] = [];
    const one = integration.landBranch(P1, first, 'one', 'Merge one', async () => {
      retests.push('one');
    });
    while (!existsSync(join(dir, 'one.testing'))) await new Promise((resolve) => setTimeout(resolve, 20));
    const two = integration.landBranch({ id: 'P-2' as WorkItemId, rank: 2, label: 'P-2' }, second, 'two', 'Merge two', async () => {
      retests.push('two');
    });
    while (!existsSync(join(dir, 'two.testing'))) await new Promise((resolve) => setTimeout(resolve, 20));
    await import('node:fs/promises').then((fs) => fs.writeFile(barrier, ''));
    expect(await one).toMatchObject({ kind: 'landed', retests: 0 });
    expect(await two).toMatchObject({ kind: 'landed', retests: 0 });
    expect(retests).toEqual([]);
    expect(repo.git('log', '--first-parent', '--format=%s', '-2', 'main').trim().split('\n')).toEqual(['Merge two', 'Merge one']);
    expect(repo.git('show', 'main:one.txt', 'main:two.txt')).toBe('1\n2\n');
  });

  it('tests again the merge queued behind one whose tests fail, on the branch without it', async () => {
    const first = await featureBranch('one', 'one.txt', 'broken\n');
    const second = await featureBranch('two', 'two.txt', '2\n');
    const barrier = join(dir, 'barrier');
    const integration = gate(`touch ${dir}/$(basename $PWD).testing; while [ ! -f ${barrier} ]; do sleep 0.05; done; ! grep -q broken one.txt 2>/dev/null`);
    const retests: number[] = [];
    const one = integration.landBranch(P1, first, 'one', 'Merge one', async () => {});
    while (!existsSync(join(dir, 'one.testing'))) await new Promise((resolve) => setTimeout(resolve, 20));
    const two = integration.landBranch({ id: 'P-2' as WorkItemId, rank: 2, label: 'P-2' }, second, 'two', 'Merge two', async (_from, _to, count) => {
      retests.push(count);
    });
    while (!existsSync(join(dir, 'two.testing'))) await new Promise((resolve) => setTimeout(resolve, 20));
    await import('node:fs/promises').then((fs) => fs.writeFile(barrier, ''));
    expect(await one).toMatchObject({ kind: 'tests_failed' });
    // Two failed too, on top of one's broken merge: not its fault. Made again on main alone, it passes and lands.
    expect(await two).toMatchObject({ kind: 'landed', retests: 1 });
    expect(retests).toEqual([1]);
    expect(repo.git('log', '-1', '--format=%s', 'main').trim()).toBe('Merge two');
    expect(repo.git('ls-tree', '--name-only', 'main').trim().split('\n')).not.toContain('one.txt');
  });

  it('re-tests when the branch moved during the test, then holds the lock to test once the re-tests are used up', async () => {
    const worktree = await featureBranch('feature', 'b.txt', 'b\n');
    // The test command moves main on each of its first two runs (another merge landing meanwhile).
    const counter = join(dir, 'runs');
    const mover = `n=$(cat ${counter} 2>/dev/null || echo 0); echo $((n+1)) > ${counter}; if [ "$n" -lt 2 ]; then t=$(git -C ${repo.path} rev-parse main); c=$(git -C ${repo.path} commit-tree -p $t -m moved "$t^{tree}"); git -C ${repo.path} update-ref refs/heads/main $c $t; fi`;
    const retests: number[] = [];
    const outcome = await gate(mover, 1).landBranch(P1, worktree, 'feature', 'Merge feature', async (_from, _to, count) => {
      retests.push(count);
    });
    // Run 1 (outside the lock) is overtaken: re-test 1 uses up maxRetests 1, so run 2 holds the lock; it moves main
    // itself (standing in for a commit from outside the orchestrator), so run 3 lands, again under the lock.
    expect(outcome).toMatchObject({ kind: 'landed', retests: 2 });
    expect(retests).toEqual([1, 2]);
    expect(repo.git('log', '-1', '--format=%s', 'main').trim()).toBe('Merge feature');
    expect(repo.git('rev-parse', 'main^2').trim()).toBe(repo.git('rev-parse', 'feature').trim());
    const holds = (await store.listEvents({ workItemId: P1.id })).filter((event) => event.kind === 'integration.lock');
    expect(holds).toHaveLength(3);
  });

  it('aborts a conflicting merge: the branch, its worktree and main stay as they were', async () => {
    const worktree = await featureBranch('feature', 'a.txt', 'feature\n');
    await repo.write('a.txt', 'main\n');
    const tip = repo.commitAll('main changes a.txt');
    const head = repo.git('rev-parse', 'feature').trim();
    const outcome = await gate('true').landBranch(P1, worktree, 'feature', 'Merge feature', async () => {});
    expect(outcome).toEqual({ kind: 'conflict', files: ['a.txt'] });
    expect(repo.git('rev-parse', 'main').trim()).toBe(tip);
    expect(repo.git('rev-parse', 'feature').trim()).toBe(head);
    expect(repo.git('-C', worktree, 'symbolic-ref', '--short', 'HEAD').trim()).toBe('feature');
    expect(await ops.dirtyFiles(worktree)).toEqual([]);
  });

  it('does not land a merge whose tests fail, and puts the worktree back on its branch', async () => {
    const worktree = await featureBranch('feature', 'b.txt', 'b\n');
    const tip = repo.git('rev-parse', 'main').trim();
    const outcome = await gate('echo broken on merge; exit 3').landBranch(P1, worktree, 'feature', 'Merge feature', async () => {});
    expect(outcome).toMatchObject({ kind: 'tests_failed', base: tip, tests: { exitCode: 3, outputTail: ['broken on merge'] } });
    expect(repo.git('rev-parse', 'main').trim()).toBe(tip);
    expect(repo.git('-C', worktree, 'symbolic-ref', '--short', 'HEAD').trim()).toBe('feature');
  });

  it('puts a worktree left detached by a prepared merge back on its branch when the item is picked up again', async () => {
    const worktree = await featureBranch('feature', 'b.txt', 'b\n');
    const prepared = await ops.prepareMerge(worktree, 'feature', repo.git('rev-parse', 'main').trim(), 'Merge feature');
    expect(prepared.kind).toBe('prepared');
    expect(repo.git('-C', worktree, 'rev-parse', '--abbrev-ref', 'HEAD').trim()).toBe('HEAD');
    expect(await ops.worktreeFor('feature', 'feature', 'main')).toBe(worktree);
    expect(repo.git('-C', worktree, 'symbolic-ref', '--short', 'HEAD').trim()).toBe('feature');
    expect(existsSync(join(worktree, 'b.txt'))).toBe(true);
  });

  it('lands a commit by compare-and-set, replaying it on the new tip when the branch moved', async () => {
    const scratch = await ops.scratchWorktree('_roadmap', 'main');
    const base = repo.git('rev-parse', 'main').trim();
    await import('node:fs/promises').then((fs) => fs.writeFile(join(scratch, 'a.txt'), 'marked\n'));
    const commit = await ops.commitFiles(scratch, ['a.txt'], 'Roadmap: done');
    const moved = moveMain('a merge landed meanwhile');
    const landed = await gate(null).landCommit(P1, base, commit ?? '', (onto) => ops.replayCommit(scratch, commit ?? '', onto));
    expect(landed).not.toBeNull();
    expect(repo.git('rev-parse', 'main').trim()).toBe(landed);
    expect(repo.git('rev-parse', 'main^').trim()).toBe(moved);
    expect(repo.git('show', 'main:a.txt')).toBe('marked\n');
  });
});
