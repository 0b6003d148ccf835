import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotAGitRepoError, OrchestratorError } from '../lib/errors.js';

export class GitCommandError extends OrchestratorError {
  constructor(args: readonly string[], cwd: string, exitCode: number | null, stderr: string) {
    super('ORCH_GIT_FAILED', `git ${args.join(' ')} failed in ${cwd} (exit ${String(exitCode)}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`, {
      hint: 'Check the repository state with `git status` in that directory.',
      data: { args: [...args], cwd, exitCode },
    });
  }
}

export interface GitResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs git with `cwd` (never chdir), no prompts, C locale; rejects with GitCommandError unless the exit code is allowed. */
export function git(args: readonly string[], cwd: string, options: { allowedExitCodes?: readonly number[]; signal?: AbortSignal } = {}): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [...args],
      // eslint-disable-next-line no-restricted-properties -- git must inherit the user's environment (HOME, SSH agent); we only add non-interactive settings.
      { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C', GIT_EDITOR: 'true' }, maxBuffer: 64 * 1024 * 1024, ...(options.signal ? { signal: options.signal } : {}) },
      (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        if (exitCode !== null && (options.allowedExitCodes ?? [0]).includes(exitCode)) {
          resolve({ stdout, stderr, exitCode });
          return;
        }
        reject(new GitCommandError(args, cwd, exitCode, stderr || (error?.message ?? '')));
      },
    );
  });
}

/** A merge commit made (not yet published) on a detached HEAD: `sha` has parents `base` and the branch's head. */
export type PreparedMerge = { kind: 'prepared'; sha: string; base: string } | { kind: 'conflict'; files: string[] } | { kind: 'nothing_to_merge' };

const AS_ORCHESTRATOR = ['-c', 'user.name=Orchestrator', '-c', 'user.email=orchestrator@localhost', '-c', 'commit.gpgsign=false'];

/**
 * The repository operations of the pipeline. Worktrees live in `<repo>/.orchestrator/worktrees/<name>` (git-ignored
 * runtime data). A merge is made on a detached HEAD in the item's own worktree (prepareMerge), never in the user's
 * own working tree; the integration branch ref then moves by compare-and-swap. If the user's checkout has the
 * integration branch checked out, it is advanced with `git merge --ff-only`, which only moves forward and refuses
 * rather than overwrite local changes.
 */
export class RepoOps {
  readonly worktreesDir: string;

  constructor(readonly root: string) {
    this.worktreesDir = join(root, '.orchestrator', 'worktrees');
  }

  static async open(dir: string): Promise<RepoOps> {
    const result = await git(['rev-parse', '--show-toplevel'], dir, { allowedExitCodes: [0, 128] }).catch(() => null);
    if (!result || result.exitCode !== 0) throw new NotAGitRepoError(dir);
    return new RepoOps(result.stdout.trim());
  }

  async currentBranch(): Promise<string> {
    const { stdout, exitCode } = await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], this.root, { allowedExitCodes: [0, 1] });
    if (exitCode !== 0) {
      throw new OrchestratorError('ORCH_DETACHED_HEAD', `${this.root} is on a detached HEAD, so there is no branch to merge finished work into`, {
        hint: 'Check out a branch (git switch main), or set integrationBranch in orchestrator.config.json.',
      });
    }
    return stdout.trim();
  }

  async assertBranchExists(branch: string): Promise<void> {
    const { exitCode } = await git(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], this.root, { allowedExitCodes: [0, 1] });
    if (exitCode !== 0) {
      throw new OrchestratorError('ORCH_NO_SUCH_BRANCH', `the integration branch "${branch}" does not exist in ${this.root} (or has no commit)`, {
        hint: 'Make a first commit, or set integrationBranch in orchestrator.config.json to an existing branch.',
      });
    }
  }

  async headSha(ref: string, cwd: string = this.root): Promise<string> {
    return (await git(['rev-parse', '--verify', `${ref}^{commit}`], cwd)).stdout.trim();
  }

  /** A file's text at a ref, or null if the file is not there. */
  async showFile(ref: string, path: string): Promise<string | null> {
    const result = await git(['show', `${ref}:${path}`], this.root, { allowedExitCodes: [0, 128] });
    return result.exitCode === 0 ? result.stdout : null;
  }

  async readWorktreeFile(dir: string, path: string): Promise<string | null> {
    return readFile(join(dir, path), 'utf8').catch(() => null);
  }

  /** Paths with uncommitted changes (modified, added, untracked), relative to the worktree. */
  async dirtyFiles(dir: string): Promise<string[]> {
    const { stdout } = await git(['status', '--porcelain=v1', '-z', '--untracked-files=all'], dir);
    const files: string[] = [];
    const entries = stdout.split('\0').filter(Boolean);
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] ?? '';
      files.push(entry.slice(3));
      if (entry.startsWith('R') || entry.startsWith('C')) i++; // rename: the next entry is the source path
    }
    return files;
  }

  async branchExists(branch: string): Promise<boolean> {
    return (await git(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], this.root, { allowedExitCodes: [0, 1] })).exitCode === 0;
  }

  /** The commit where HEAD of `dir` forked from `other` (their merge-base). */
  async mergeBase(dir: string, other: string): Promise<string> {
    return (await git(['merge-base', 'HEAD', other], dir)).stdout.trim();
  }

  /** The newest commit reachable from HEAD that added a file matching `pathspec` (a path or a glob), or null. */
  async commitAdding(dir: string, pathspec: string): Promise<string | null> {
    const { stdout } = await git(['log', '-1', '--diff-filter=A', '--format=%H', 'HEAD', '--', pathspec], dir);
    return stdout.trim() || null;
  }

  /**
   * The branch's own commits after `base`, newest first, as `<short sha> <subject>`: the first-parent line of
   * HEAD, so a merge of the integration branch into the branch counts as one commit, not as everything it brought.
   */
  async branchCommitsSince(dir: string, base: string): Promise<string[]> {
    const { stdout } = await git(['log', '--first-parent', '--format=%h %s', `${base}..HEAD`], dir);
    return stdout.split('\n').filter(Boolean);
  }

  /** Paths the commit `ref` changed (against its first parent). */
  async filesChangedBy(dir: string, ref: string): Promise<string[]> {
    const { stdout } = await git(['diff-tree', '--no-commit-id', '--name-only', '-r', '-m', '--first-parent', ref], dir);
    return stdout.split('\n').filter(Boolean);
  }

  /** The merge commit on `into` whose message names `branch` (written by the merge step: `Merge <branch>: …`), or null. */
  async mergeCommitOf(branch: string, into: string): Promise<string | null> {
    const { stdout } = await git(['log', '-1', '--merges', '--fixed-strings', `--grep=Merge ${branch}:`, '--format=%H', `refs/heads/${into}`], this.root);
    return stdout.trim() || null;
  }

  /** Files changed on HEAD since it forked from `base` that still contain merge conflict markers. */
  async filesWithConflictMarkers(dir: string, base: string): Promise<string[]> {
    const changed = (await git(['diff', '--name-only', '--diff-filter=AM', `${base}...HEAD`], dir)).stdout.split('\n').filter(Boolean);
    if (changed.length === 0) return [];
    const result = await git(['grep', '-l', '-E', '^(<<<<<<<|>>>>>>>)( |$)', 'HEAD', '--', ...changed], dir, { allowedExitCodes: [0, 1] });
    return result.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => line.replace(/^HEAD:/, ''));
  }

  /** Commits exactly these files (nothing else that may be staged). Returns the new sha, or null if nothing changed. */
  async commitFiles(dir: string, files: readonly string[], message: string): Promise<string | null> {
    await git(['add', '--', ...files], dir);
    const staged = await git(['diff', '--cached', '--quiet', '--', ...files], dir, { allowedExitCodes: [0, 1] });
    if (staged.exitCode === 0) return null;
    await git(['-c', 'user.name=Orchestrator', '-c', 'user.email=orchestrator@localhost', '-c', 'commit.gpgsign=false', 'commit', '-q', '--only', '-m', message, '--', ...files], dir);
    return this.headSha('HEAD', dir);
  }

  /** Sets files aside in a stash (with untracked ones) so they are out of the way but not lost. */
  async stashFiles(dir: string, files: readonly string[], message: string): Promise<void> {
    await git(['stash', 'push', '--include-untracked', '-m', message, '--', ...files], dir);
  }

  /** The worktree for `branch` (created from `base` if the branch is new); an existing one is reused. */
  async worktreeFor(name: string, branch: string, base: string): Promise<string> {
    return this.#changingWorktrees(() => this.#worktreeFor(name, branch, base));
  }

  /**
   * Worktrees are added, pruned and removed one at a time: `git worktree prune` run while another `worktree add`
   * is half done removes the new entry (its gitdir file is not written yet), and that add then fails.
   */
  #changingWorktrees<T>(change: () => Promise<T>): Promise<T> {
    const result = this.#worktreeChanges.then(change);
    this.#worktreeChanges = result.catch(() => undefined);
    return result;
  }

  #worktreeChanges: Promise<unknown> = Promise.resolve();

  async #worktreeFor(name: string, branch: string, base: string): Promise<string> {
    const worktrees = await this.listWorktrees();
    const registered = worktrees.find((entry) => entry.branch === `refs/heads/${branch}`);
    if (registered && existsSync(registered.path)) return registered.path;
    const path = join(this.worktreesDir, name);
    // Left on a detached HEAD by a merge prepared there (see prepareMerge) when the orchestrator stopped: back to the branch.
    if (worktrees.some((entry) => entry.path === path && entry.branch === null) && existsSync(path)) {
      await this.checkoutBranch(path, branch);
      return path;
    }
    await git(['worktree', 'prune'], this.root);
    await mkdir(this.worktreesDir, { recursive: true });
    const branchExists = (await git(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], this.root, { allowedExitCodes: [0, 1] })).exitCode === 0;
    if (branchExists) await git(['worktree', 'add', '--quiet', path, branch], this.root);
    else await git(['worktree', 'add', '--quiet', '-b', branch, path, base], this.root);
    return path;
  }

  async listWorktrees(): Promise<{ path: string; branch: string | null; head: string | null }[]> {
    const { stdout } = await git(['worktree', 'list', '--porcelain'], this.root);
    const entries: { path: string; branch: string | null; head: string | null }[] = [];
    for (const block of stdout.split('\n\n')) {
      const lines = block.split('\n');
      const path = lines.find((line) => line.startsWith('worktree '))?.slice(9);
      if (!path) continue;
      entries.push({ path, branch: lines.find((line) => line.startsWith('branch '))?.slice(7) ?? null, head: lines.find((line) => line.startsWith('HEAD '))?.slice(5) ?? null });
    }
    return entries;
  }

  /** True when `ref` is `of` or one of its ancestors. */
  async isAncestor(ref: string, of: string): Promise<boolean> {
    return (await git(['merge-base', '--is-ancestor', ref, of], this.root, { allowedExitCodes: [0, 1, 128] })).exitCode === 0;
  }

  /**
   * Makes, in the item's own worktree, the merge commit that would land `branch` on `base` (on a detached HEAD,
   * the branch itself untouched), so that it can be tested there before the integration branch moves. A conflict
   * aborts the merge and puts the worktree back on the branch.
   */
  async prepareMerge(worktree: string, branch: string, base: string, message: string, signal?: AbortSignal): Promise<PreparedMerge> {
    if (await this.isAncestor(`refs/heads/${branch}`, base)) return { kind: 'nothing_to_merge' };
    await this.#abortMergeIfAny(worktree);
    await git(['checkout', '--quiet', '--detach', base], worktree);
    const result = await git([...AS_ORCHESTRATOR, 'merge', '--no-ff', '--no-edit', '-m', message, `refs/heads/${branch}`], worktree, { allowedExitCodes: [0, 1], ...(signal ? { signal } : {}) });
    if (result.exitCode !== 0) {
      const conflicted = await git(['diff', '--name-only', '--diff-filter=U'], worktree);
      const files = conflicted.stdout.split('\n').filter(Boolean);
      await this.checkoutBranch(worktree, branch);
      return { kind: 'conflict', files: files.length > 0 ? files : [`(merge failed: ${result.stderr.trim().split('\n').slice(-1).join('')})`] };
    }
    return { kind: 'prepared', sha: await this.headSha('HEAD', worktree), base };
  }

  /** Puts a worktree back on its branch after a prepared merge (aborting one in progress). */
  async checkoutBranch(worktree: string, branch: string): Promise<void> {
    await this.#abortMergeIfAny(worktree);
    await git(['checkout', '--quiet', branch], worktree);
  }

  async #abortMergeIfAny(worktree: string): Promise<void> {
    if ((await git(['rev-parse', '-q', '--verify', 'MERGE_HEAD'], worktree, { allowedExitCodes: [0, 1] })).exitCode === 0) {
      await git(['merge', '--abort'], worktree, { allowedExitCodes: [0, 128] });
    }
  }

  /** Replays commit `sha` on `onto` in a detached worktree; null (and nothing changed) if it does not apply cleanly. */
  async replayCommit(worktree: string, sha: string, onto: string): Promise<string | null> {
    await git(['checkout', '--quiet', '--detach', onto], worktree);
    const result = await git([...AS_ORCHESTRATOR, 'cherry-pick', '--allow-empty', sha], worktree, { allowedExitCodes: [0, 1] });
    if (result.exitCode !== 0) {
      await git(['cherry-pick', '--abort'], worktree, { allowedExitCodes: [0, 128] });
      await git(['checkout', '--quiet', '--detach', onto], worktree);
      return null;
    }
    return this.headSha('HEAD', worktree);
  }

  /**
   * Makes the files of the worktree `dir` carry the change from commit `from` to commit `to` (both present here),
   * uncommitted and unstaged, new files untracked, as if a session had made it there. Throws when the change does
   * not apply to the worktree's files.
   */
  async applyChange(dir: string, from: string, to: string): Promise<void> {
    // Prefixes, renames and colour spelled out: the user's diff settings must not change what `git apply` reads.
    const { stdout: patch } = await git(['diff', '--binary', '--no-color', '--no-ext-diff', '--no-renames', '--src-prefix=a/', '--dst-prefix=b/', from, to], dir);
    if (patch === '') return;
    const scratch = await mkdtemp(join(tmpdir(), 'orchestrator-change-'));
    try {
      const file = join(scratch, 'change.patch');
      await writeFile(file, patch);
      await git(['apply', '--whitespace=nowarn', file], dir);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /** A worktree of the orchestrator's own (`_name`), on a detached HEAD at `ref`, clean: it holds nothing of value. */
  async scratchWorktree(name: string, ref: string): Promise<string> {
    const path = join(this.worktreesDir, name);
    const registered = (await this.listWorktrees()).some((entry) => entry.path === path);
    if (!registered || !existsSync(path)) {
      await this.#changingWorktrees(async () => {
        await git(['worktree', 'prune'], this.root);
        await mkdir(this.worktreesDir, { recursive: true });
        await git(['worktree', 'add', '--quiet', '--detach', path, ref], this.root);
      });
      return path;
    }
    // A scratch worktree holds no work of value (everything is on branches): after a crash mid-replay or
    // mid-edit, reset it rather than refuse. This never touches the user's own working tree.
    if (existsSync(join(path, '.git'))) {
      await this.#abortMergeIfAny(path);
      if ((await git(['rev-parse', '-q', '--verify', 'CHERRY_PICK_HEAD'], path, { allowedExitCodes: [0, 1] })).exitCode === 0) {
        await git(['cherry-pick', '--abort'], path, { allowedExitCodes: [0, 128] });
      }
    }
    if ((await this.dirtyFiles(path)).length > 0) {
      await git(['reset', '--hard', '--quiet'], path);
      await git(['clean', '-fdq'], path);
    }
    await git(['checkout', '--quiet', '--detach', ref], path);
    return path;
  }

  /**
   * Compare-and-set: moves `branch` from `from` to `to` (a descendant) only if it is still at `from`, keeping the
   * user's checkout consistent if it is on it. Returns false, changing nothing, when the branch has moved.
   */
  async advanceBranch(branch: string, from: string, to: string): Promise<boolean> {
    if ((await this.headSha(`refs/heads/${branch}`)) !== from) return false;
    const userBranch = await git(['symbolic-ref', '--quiet', 'HEAD'], this.root, { allowedExitCodes: [0, 1] });
    if (userBranch.exitCode === 0 && userBranch.stdout.trim() === `refs/heads/${branch}`) {
      const result = await git(['merge', '--ff-only', '--quiet', to], this.root, { allowedExitCodes: [0, 1, 128] });
      if (result.exitCode !== 0) {
        throw new OrchestratorError('ORCH_USER_CHECKOUT_BLOCKS_MERGE', `could not fast-forward your checkout of ${branch} in ${this.root}: ${result.stderr.trim().split('\n').slice(-2).join(' ')}`, {
          hint: `Commit or stash your local changes in ${this.root}; the merge will be retried. Nothing was lost.`,
          retryable: true,
        });
      }
      return true;
    }
    const moved = await git(['update-ref', '-m', `orchestrator: advance ${branch}`, `refs/heads/${branch}`, to, from], this.root, { allowedExitCodes: [0, 128] });
    if (moved.exitCode === 0) return true;
    if ((await this.headSha(`refs/heads/${branch}`)) !== from) return false;
    throw new GitCommandError(['update-ref', `refs/heads/${branch}`, to, from], this.root, moved.exitCode, moved.stderr);
  }

  /** After a verified merge: removes the item's worktree (if clean) and deletes its branch (only if merged). */
  async cleanupMerged(worktree: string, branch: string, into: string): Promise<{ removedWorktree: boolean; deletedBranch: boolean }> {
    const merged = await git(['merge-base', '--is-ancestor', `refs/heads/${branch}`, `refs/heads/${into}`], this.root, { allowedExitCodes: [0, 1, 128] });
    if (merged.exitCode !== 0) return { removedWorktree: false, deletedBranch: false };
    let removedWorktree = false;
    if (existsSync(worktree) && (await this.dirtyFiles(worktree)).length === 0) {
      await this.#changingWorktrees(() => git(['worktree', 'remove', worktree], this.root));
      removedWorktree = true;
    }
    let deletedBranch = false;
    if (removedWorktree || !existsSync(worktree)) {
      const sha = await this.headSha(`refs/heads/${branch}`);
      // A compare-and-swap delete of a branch verified to be merged: never `branch -D`.
      await git(['update-ref', '-d', `refs/heads/${branch}`, sha], this.root);
      deletedBranch = true;
    }
    return { removedWorktree, deletedBranch };
  }
}
