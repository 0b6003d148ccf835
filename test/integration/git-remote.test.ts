import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkoutItemBranch,
  deleteMergedRemoteBranch,
  ensureWorkerClone,
  fetchRemote,
  ItemBranchWorktree,
  NotFastForwardError,
  pruneCache,
  pushIntegrationBranch,
  pushItemBranch,
  removeItemWorktree,
  resolveRemote,
  type ItemPushOutcome,
  type WorkerClone,
} from '../../src/git/index.js';
import { gitHttpServer } from '../helpers/git-http-server.js';
import { tmpRepo } from '../helpers/tmp-repo.js';

const ITEM = 'orchestrator/3-add-login';
const IDENTITY = { GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 'test@example.invalid', GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 'test@example.invalid' };

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'commit.gpgsign=false', ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...IDENTITY, GIT_TERMINAL_PROMPT: '0' } }).trim();
}

async function commitFile(cwd: string, file: string, content: string, message: string): Promise<string> {
  await writeFile(join(cwd, file), content);
  git(cwd, 'add', file);
  git(cwd, 'commit', '-q', '-m', message);
  return git(cwd, 'rev-parse', 'HEAD');
}

/** What the shared remote holds for a branch right now (null: not there). */
function remoteTip(remote: string, branch: string): string | null {
  const line = git(remote, 'for-each-ref', '--format=%(objectname)', `refs/heads/${branch}`);
  return line === '' ? null : line;
}

let root: string;
let remote: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'orch-git-remote-'));
  remote = join(root, 'remote.git');
  await using seed = await tmpRepo({ files: { 'README.md': '# shared\n' } });
  git(root, 'init', '-q', '--bare', '-b', 'main', remote);
  seed.git('push', '-q', remote, 'main:refs/heads/main');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The coordinator: an ordinary clone of the remote (the user's repository), remote named origin. */
function coordinatorClone(): string {
  const dir = join(root, 'coordinator');
  git(root, 'clone', '-q', remote, dir);
  return dir;
}

describe('worker clone cache', () => {
  it('is created once, reused and fetched by later calls, also for another spelling of the remote', async () => {
    const cacheDir = join(root, 'cache-a');
    const first = await ensureWorkerClone({ remoteUrl: remote, cacheDir });
    expect(first.created).toBe(true);
    expect(git(first.gitDir, 'rev-parse', 'refs/remotes/origin/main')).toBe(remoteTip(remote, 'main'));

    await using other = await tmpRepo({ files: { 'later.txt': 'x\n' } });
    other.git('fetch', '-q', remote, 'main');
    other.git('merge', '-q', '--allow-unrelated-histories', '-m', 'later', 'FETCH_HEAD');
    other.git('push', '-q', remote, 'HEAD:refs/heads/main');

    const second = await ensureWorkerClone({ remoteUrl: `${pathToFileURL(remote).href}/`, cacheDir });
    expect(second.created).toBe(false);
    expect(second.dir).toBe(first.dir);
    expect(git(second.gitDir, 'rev-parse', 'refs/remotes/origin/main')).toBe(remoteTip(remote, 'main'));
    expect((await readdir(cacheDir)).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });

  it('concurrent calls make one clone and all get it', async () => {
    const cacheDir = join(root, 'cache-race');
    const results = await Promise.all(Array.from({ length: 4 }, () => ensureWorkerClone({ remoteUrl: remote, cacheDir })));
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(results.map((result) => result.dir)).size).toBe(1);
    expect(await readdir(cacheDir)).toEqual([results[0]!.dir.slice(cacheDir.length + 1)]);
    // Concurrent fetches of one clone wait for each other instead of failing on git's ref locks.
    await Promise.all([fetchRemote(results[0]!), fetchRemote(results[1]!), fetchRemote(results[2]!)]);
    expect(git(results[0]!.gitDir, 'rev-parse', 'refs/remotes/origin/main')).toBe(remoteTip(remote, 'main'));
  });

  it('processes started at once on an empty cache make one clone and all use it', async () => {
    const cacheDir = join(root, 'cache-processes');
    const entry = pathToFileURL(join(process.cwd(), 'dist', 'git', 'index.js')).href;
    const script = `import { ensureWorkerClone } from ${JSON.stringify(entry)};
const clone = await ensureWorkerClone({ remoteUrl: process.argv[1], cacheDir: process.argv[2] });
process.stdout.write(JSON.stringify({ created: clone.created, dir: clone.dir }));`;
    const run = () =>
      new Promise<{ created: boolean; dir: string }>((resolve, reject) => {
        execFile(process.execPath, ['--input-type=module', '-e', script, remote, cacheDir], (error, stdout) => (error ? reject(new Error(error.message)) : resolve(JSON.parse(stdout) as { created: boolean; dir: string })));
      });
    const results = await Promise.all([run(), run(), run()]);
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(results.map((result) => result.dir)).size).toBe(1);
    expect((await readdir(cacheDir)).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });

  it('prunes clones unused for longer than the limit and half-made clones, and keeps the rest', async () => {
    const cacheDir = join(root, 'cache-prune');
    const old = await ensureWorkerClone({ remoteUrl: remote, cacheDir });
    await using seed2 = await tmpRepo();
    const fresh = await ensureWorkerClone({ remoteUrl: seed2.path, cacheDir });
    const dayAgo = new Date(Date.now() - 24 * 3600_000);
    await utimes(join(old.dir, 'last-used'), dayAgo, dayAgo);
    const abandoned = await mkdtemp(join(cacheDir, '.tmp-'));
    await utimes(abandoned, dayAgo, dayAgo);
    await writeFile(join(cacheDir, 'not-ours.txt'), 'keep\n');

    const { removed } = await pruneCache({ cacheDir, maxAgeMs: 3600_000 });
    expect(removed.sort()).toEqual([abandoned, old.dir].sort());
    expect(existsSync(fresh.gitDir)).toBe(true);
    expect(existsSync(join(cacheDir, 'not-ours.txt'))).toBe(true);
    expect((await ensureWorkerClone({ remoteUrl: remote, cacheDir })).created).toBe(true);
  });
});

describe('item branch across workers', () => {
  async function worker(name: string): Promise<WorkerClone> {
    return ensureWorkerClone({ remoteUrl: remote, cacheDir: join(root, `cache-${name}`) });
  }

  it('worker B continues from what worker A pushed after A dies; A, back, cannot overwrite B and sets its work aside', async () => {
    const a = await worker('a');
    const checkoutA = await checkoutItemBranch(a, { branch: ITEM, integrationBranch: 'main' });
    expect(checkoutA).toMatchObject({ startedFrom: 'integration_branch', pushedSha: null, head: remoteTip(remote, 'main') });
    const itemA = new ItemBranchWorktree(a, checkoutA);
    const a1 = await commitFile(itemA.path, 'login.js', 'a1\n', 'A: first step');
    expect(await itemA.push()).toEqual({ kind: 'pushed', sha: a1 });
    expect(remoteTip(remote, ITEM)).toBe(a1);
    const a2 = await commitFile(itemA.path, 'login.js', 'a2\n', 'A: second step');
    expect(await itemA.push()).toEqual({ kind: 'pushed', sha: a2 });
    expect(await itemA.push()).toEqual({ kind: 'up_to_date', sha: a2 });
    // A "dies" mid-session: one more commit never pushed, and an uncommitted file.
    const aLost = await commitFile(itemA.path, 'login.js', 'a3\n', 'A: never pushed');
    await writeFile(join(itemA.path, 'scratch.txt'), 'uncommitted\n');

    const b = await worker('b');
    const itemB = await ItemBranchWorktree.open(b, { branch: ITEM, integrationBranch: 'main' });
    expect(itemB.checkout).toMatchObject({ startedFrom: 'pushed_branch', pushedSha: a2, head: a2, setAside: null, stashed: false });
    expect(await readFile(join(itemB.path, 'login.js'), 'utf8')).toBe('a2\n');
    const b1 = await commitFile(itemB.path, 'login.js', 'b1\n', 'B: continues');
    expect(await itemB.push()).toEqual({ kind: 'pushed', sha: b1 });

    // A comes back and tries to push from its stale view: refused, nothing overwritten.
    const refused = await pushItemBranch({ cwd: itemA.path, branch: ITEM, expected: a2, clone: a });
    expect(refused).toMatchObject({ kind: 'rejected', reason: 'moved', remoteSha: b1, localSha: aLost });
    expect(refused.kind === 'rejected' && refused.hint).toMatch(/another worker/);
    expect(remoteTip(remote, ITEM)).toBe(b1);

    // A takes the item again later: it continues from B's push; its diverged commit and its file are kept aside.
    await fetchRemote(a);
    const again = await checkoutItemBranch(a, { branch: ITEM, integrationBranch: 'main' });
    expect(again).toMatchObject({ path: itemA.path, startedFrom: 'pushed_branch', head: b1, pushedSha: b1, stashed: true, setAside: { sha: aLost } });
    expect(git(a.gitDir, 'rev-parse', again.setAside!.ref)).toBe(aLost);
    expect(git(itemA.path, 'stash', 'list')).toContain('uncommitted work left on');
    expect(existsSync(join(itemA.path, 'scratch.txt'))).toBe(false);
  });

  it('pushes after every commit the session makes, so a worker that dies loses only uncommitted work', async () => {
    const a = await worker('a');
    const item = await ItemBranchWorktree.open(a, { branch: ITEM, integrationBranch: 'main' });
    const watching = new AbortController();
    const outcomes: ItemPushOutcome[] = [];
    const errors: unknown[] = [];
    const waiters: { sha: string; resolve: () => void }[] = [];
    item.pushEachCommit({
      signal: watching.signal,
      onError: (error) => errors.push(error),
      onOutcome: (outcome) => {
        outcomes.push(outcome);
        for (const waiter of waiters) if (outcome.kind !== 'rejected' && outcome.sha === waiter.sha) waiter.resolve();
      },
    });
    const pushedAs = (sha: string) => new Promise<void>((resolve) => waiters.push({ sha, resolve }));
    // The watch records the branch's tip first; wait for that before committing (one push of the current tip).
    await item.push();
    const first = await commitFile(item.path, 'a.txt', '1\n', 'first');
    await pushedAs(first);
    expect(remoteTip(remote, ITEM)).toBe(first);
    await commitFile(item.path, 'a.txt', '2\n', 'second');
    const third = await commitFile(item.path, 'a.txt', '3\n', 'third');
    await pushedAs(third);
    expect(remoteTip(remote, ITEM)).toBe(third);
    watching.abort();
    expect(errors).toEqual([]);
    expect(outcomes.every((outcome) => outcome.kind !== 'rejected')).toBe(true);
    expect(item.pushedSha).toBe(third);
  });

  it('a worker that kept unpushed commits on top of the pushed branch continues from them', async () => {
    const a = await worker('a');
    const item = await ItemBranchWorktree.open(a, { branch: ITEM, integrationBranch: 'main' });
    const pushed = await commitFile(item.path, 'x.txt', '1\n', 'pushed');
    await item.push();
    const local = await commitFile(item.path, 'x.txt', '2\n', 'not yet pushed');
    await fetchRemote(a);
    const again = await checkoutItemBranch(a, { branch: ITEM, integrationBranch: 'main' });
    expect(again).toMatchObject({ startedFrom: 'local_commits', head: local, pushedSha: pushed, setAside: null });
    expect(await pushItemBranch({ cwd: again.path, branch: ITEM, expected: again.pushedSha, clone: a })).toEqual({ kind: 'pushed', sha: local });
  });

  it('refuses to push a branch that rewrote pushed commits, and leaves the remote as it was', async () => {
    const a = await worker('a');
    const item = await ItemBranchWorktree.open(a, { branch: ITEM, integrationBranch: 'main' });
    const pushed = await commitFile(item.path, 'x.txt', '1\n', 'pushed');
    await item.push();
    git(item.path, 'commit', '-q', '--amend', '-m', 'rewritten');
    const outcome = await item.push();
    expect(outcome).toMatchObject({ kind: 'rejected', reason: 'not_fast_forward', remoteSha: pushed });
    expect(outcome.kind === 'rejected' && outcome.hint).toMatch(/rewrote pushed commits/);
    expect(remoteTip(remote, ITEM)).toBe(pushed);
  });

  it('refuses a first push when someone else created the branch meanwhile', async () => {
    const a = await worker('a');
    const b = await worker('b');
    const itemA = await ItemBranchWorktree.open(a, { branch: ITEM, integrationBranch: 'main' });
    const itemB = await ItemBranchWorktree.open(b, { branch: ITEM, integrationBranch: 'main' });
    const fromB = await commitFile(itemB.path, 'b.txt', 'b\n', 'B first');
    await itemB.push();
    await commitFile(itemA.path, 'a.txt', 'a\n', 'A first');
    expect(await itemA.push()).toMatchObject({ kind: 'rejected', reason: 'moved', remoteSha: fromB });
    expect(remoteTip(remote, ITEM)).toBe(fromB);
  });

  it('puts its own worktree left on a detached HEAD back onto the item branch', async () => {
    const a = await worker('a');
    const item = await ItemBranchWorktree.open(a, { branch: ITEM, integrationBranch: 'main' });
    const pushed = await commitFile(item.path, 'x.txt', '1\n', 'pushed');
    await item.push();
    git(item.path, 'checkout', '-q', '--detach', 'HEAD~1');
    const again = await checkoutItemBranch(a, { branch: ITEM, integrationBranch: 'main' });
    expect(again).toMatchObject({ path: item.path, head: pushed, startedFrom: 'pushed_branch' });
    expect(git(item.path, 'symbolic-ref', 'HEAD')).toBe(`refs/heads/${ITEM}`);
  });

  it('removes a merged worktree but never drops unpushed commits', async () => {
    const a = await worker('a');
    const item = await ItemBranchWorktree.open(a, { branch: ITEM, integrationBranch: 'main' });
    await commitFile(item.path, 'x.txt', '1\n', 'pushed');
    await item.push();
    await commitFile(item.path, 'x.txt', '2\n', 'unpushed');
    expect(await removeItemWorktree(a, ITEM)).toEqual({ removed: true });
    expect(existsSync(item.path)).toBe(false);
    expect(git(a.gitDir, 'log', '-1', '--format=%s', `refs/heads/${ITEM}`)).toBe('unpushed');
  });
});

describe('coordinator: integration branch and merged branches', () => {
  /** A worker pushes the item branch with one commit; returns its tip. */
  async function pushedItem(branch: string, file: string): Promise<string> {
    const w = await ensureWorkerClone({ remoteUrl: remote, cacheDir: join(root, 'cache-w') });
    const item = await ItemBranchWorktree.open(w, { branch, integrationBranch: 'main' });
    const sha = await commitFile(item.path, file, `${branch}\n`, `work on ${branch}`);
    expect(await item.push()).toMatchObject({ kind: 'pushed' });
    return sha;
  }

  function mergeOnto(coordinator: string, base: string, branch: string): string {
    git(coordinator, 'fetch', '-q', 'origin');
    git(coordinator, 'checkout', '-q', '--detach', base);
    git(coordinator, 'merge', '-q', '--no-ff', '-m', `Merge ${branch}`, `origin/${branch}`);
    return git(coordinator, 'rev-parse', 'HEAD');
  }

  it('a compare-and-set push is refused when the remote moved, and accepted after a refetch', async () => {
    await pushedItem(ITEM, 'login.js');
    const coordinator = coordinatorClone();
    const expected = git(coordinator, 'rev-parse', 'origin/main');
    const next = mergeOnto(coordinator, expected, ITEM);

    // Someone else (another coordinator, a person) pushes main meanwhile.
    await using other = await tmpRepo();
    other.git('fetch', '-q', remote, 'main');
    other.git('reset', '-q', '--hard', 'FETCH_HEAD');
    const theirs = await commitFile(other.path, 'theirs.txt', 'theirs\n', 'their change');
    other.git('push', '-q', remote, 'HEAD:refs/heads/main');

    const target = { cwd: coordinator, remote: 'origin' };
    expect(await pushIntegrationBranch({ ...target, branch: 'main', expected, next })).toEqual({ kind: 'moved', actual: theirs });
    expect(remoteTip(remote, 'main')).toBe(theirs);

    const rebuilt = mergeOnto(coordinator, 'origin/main', ITEM);
    expect(await pushIntegrationBranch({ ...target, branch: 'main', expected: theirs, next: rebuilt })).toEqual({ kind: 'pushed', sha: rebuilt });
    expect(remoteTip(remote, 'main')).toBe(rebuilt);
    expect(git(remote, 'merge-base', '--is-ancestor', theirs, 'main')).toBe('');
  });

  it('reads the coordinator’s remote by name, as one repository identity and a URL safe to hand to workers', async () => {
    const coordinator = coordinatorClone();
    const location = await resolveRemote(coordinator, 'origin');
    expect(location.key).toBe(`file://${remote.replace(/\.git$/, '')}`);
    expect((await ensureWorkerClone({ remoteUrl: location.fetchUrl, cacheDir: join(root, 'cache-r') })).remote.key).toBe(location.key);
    await expect(resolveRemote(coordinator, 'upstream')).rejects.toMatchObject({ code: 'ORCH_GIT_NO_SUCH_REMOTE' });
  });

  it('refuses a push that is not a fast-forward of the expected tip', async () => {
    const coordinator = coordinatorClone();
    const expected = git(coordinator, 'rev-parse', 'origin/main');
    await commitFile(coordinator, 'a.txt', 'a\n', 'on main');
    const tip = git(coordinator, 'rev-parse', 'HEAD');
    expect(await pushIntegrationBranch({ cwd: coordinator, remote: 'origin', branch: 'main', expected, next: tip })).toEqual({ kind: 'pushed', sha: tip });
    // A commit that drops `tip` (built on its parent): publishing it would lose merged work.
    git(coordinator, 'checkout', '-q', '--detach', expected);
    const sideways = await commitFile(coordinator, 'b.txt', 'b\n', 'sideways');
    await expect(pushIntegrationBranch({ cwd: coordinator, remote: 'origin', branch: 'main', expected: tip, next: sideways })).rejects.toBeInstanceOf(NotFastForwardError);
    expect(remoteTip(remote, 'main')).toBe(tip);
    // A branch the remote does not have yet: expected null means "must not exist".
    expect(await pushIntegrationBranch({ cwd: coordinator, remote: 'origin', branch: 'release', expected: null, next: tip })).toEqual({ kind: 'pushed', sha: tip });
    expect(await pushIntegrationBranch({ cwd: coordinator, remote: 'origin', branch: 'release', expected: null, next: sideways })).toEqual({ kind: 'moved', actual: tip });
    expect(remoteTip(remote, 'release')).toBe(tip);
  });

  it('deletes a merged item branch on the remote, and keeps an unmerged or moved one', async () => {
    const merged = await pushedItem(ITEM, 'login.js');
    const unmerged = await pushedItem('orchestrator/4-other', 'other.js');
    const coordinator = coordinatorClone();
    const expected = git(coordinator, 'rev-parse', 'origin/main');
    const next = mergeOnto(coordinator, expected, ITEM);
    expect(await pushIntegrationBranch({ cwd: coordinator, remote: 'origin', branch: 'main', expected, next })).toMatchObject({ kind: 'pushed' });
    const target = { cwd: coordinator, remote: 'origin' };

    expect(await deleteMergedRemoteBranch({ ...target, branch: 'orchestrator/4-other', mergedInto: 'main' })).toEqual({ kind: 'not_merged', sha: unmerged });
    expect(remoteTip(remote, 'orchestrator/4-other')).toBe(unmerged);
    expect(await deleteMergedRemoteBranch({ ...target, branch: ITEM, mergedInto: 'main', expected: unmerged })).toEqual({ kind: 'moved', actual: merged });
    expect(remoteTip(remote, ITEM)).toBe(merged);

    expect(await deleteMergedRemoteBranch({ ...target, branch: ITEM, mergedInto: 'main', expected: merged })).toEqual({ kind: 'deleted', sha: merged });
    expect(remoteTip(remote, ITEM)).toBeNull();
    expect(await deleteMergedRemoteBranch({ ...target, branch: ITEM, mergedInto: 'main' })).toEqual({ kind: 'absent' });
  });

  it('does not delete a merged branch that gained commits since the merge', async () => {
    const merged = await pushedItem(ITEM, 'login.js');
    const coordinator = coordinatorClone();
    const expected = git(coordinator, 'rev-parse', 'origin/main');
    await pushIntegrationBranch({ cwd: coordinator, remote: 'origin', branch: 'main', expected, next: mergeOnto(coordinator, expected, ITEM) });
    const w = await ensureWorkerClone({ remoteUrl: remote, cacheDir: join(root, 'cache-w') });
    const item = await ItemBranchWorktree.open(w, { branch: ITEM, integrationBranch: 'main' });
    const later = await commitFile(item.path, 'late.js', 'late\n', 'a fix after the merge');
    await item.push();
    expect(await deleteMergedRemoteBranch({ cwd: coordinator, remote: 'origin', branch: ITEM, mergedInto: 'main', expected: merged })).toEqual({ kind: 'moved', actual: later });
    expect(await deleteMergedRemoteBranch({ cwd: coordinator, remote: 'origin', branch: ITEM, mergedInto: 'main' })).toEqual({ kind: 'not_merged', sha: later });
    expect(remoteTip(remote, ITEM)).toBe(later);
  });
});

describe('remote credentials', () => {
  const PASSWORD = 'Sup3r-S3cret-pw';

  it('a remote URL with a password never appears in an error message', async () => {
    // Port 9 (discard) on 127.0.0.1: nothing listens, the connection is refused at once.
    const remoteUrl = `https://builder:${PASSWORD}@127.0.0.1:9/team/repo.git`;
    const error: unknown = await ensureWorkerClone({ remoteUrl, cacheDir: join(root, 'cache-secret') }).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(Error);
    const shown = JSON.stringify({ message: (error as Error).message, ...(error as { toObject(): object }).toObject() }) + String(error);
    expect(shown).toContain('127.0.0.1:9');
    expect(shown).not.toContain(PASSWORD);
    expect(shown).not.toContain('builder');
  });

  it('clones, fetches and pushes with a password in the URL, which stays out of the clone and every message', async () => {
    await using server = await gitHttpServer({ projectRoot: root, user: 'builder', password: PASSWORD });
    const url = `${server.url.replace('http://', `http://builder:${PASSWORD}@`)}/remote.git`;
    const clone = await ensureWorkerClone({ remoteUrl: url, cacheDir: join(root, 'cache-http') });
    expect(git(clone.gitDir, 'rev-parse', 'refs/remotes/origin/main')).toBe(remoteTip(remote, 'main'));
    const config = await readFile(join(clone.gitDir, 'config'), 'utf8');
    expect(config).toContain(`${server.url}/remote.git`);
    expect(config).not.toContain(PASSWORD);

    const item = await ItemBranchWorktree.open(clone, { branch: ITEM, integrationBranch: 'main' });
    const sha = await commitFile(item.path, 'x.txt', 'x\n', 'over http');
    expect(await item.push()).toEqual({ kind: 'pushed', sha });
    expect(remoteTip(remote, ITEM)).toBe(sha);

    // The same remote with a wrong password: refused by the server, and the message shows neither password.
    const wrong = `${server.url.replace('http://', 'http://builder:wrong-password-1@')}/remote.git`;
    const error: unknown = await ensureWorkerClone({ remoteUrl: wrong, cacheDir: join(root, 'cache-http-wrong') }).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(Error);
    expect(server.refused).toBeGreaterThan(0);
    const shown = JSON.stringify((error as { toObject(): object }).toObject());
    expect(shown).not.toContain('wrong-password-1');
    expect(shown).not.toContain(PASSWORD);
    expect(existsSync(join(root, 'cache-http-wrong'))).toBe(true);
    expect((await readdir(join(root, 'cache-http-wrong'))).filter((name) => name.startsWith('.tmp-'))).toEqual([]);
  });
});
