import { GitCommandError, runGit, type GitRun } from './git-command.js';
import { OrchestratorError } from '../lib/errors.js';
import { parseRemoteUrl, type RemoteLocation } from './remote-url.js';

/** Where a command sends or reads refs: a remote name (`origin`) or URL, plus the location for its credentials. */
export interface RemoteTarget {
  /** Repository (or worktree) the command runs in. */
  cwd: string;
  /** The remote's name in that repository (`origin`), or a URL. */
  remote: string;
  location?: RemoteLocation | undefined;
}

/** The tips of these branches on the remote (`git ls-remote`): a missing branch maps to null. */
export async function remoteBranchTips(target: RemoteTarget, branches: readonly string[], signal?: AbortSignal): Promise<Map<string, string | null>> {
  const refs = branches.map((branch) => `refs/heads/${branch}`);
  const { stdout } = await runGit(['ls-remote', '--', target.remote, ...refs], target.cwd, {
    signal,
    remote: target.location,
    retryable: true,
    hint: 'Check that this machine reaches the remote and has access to it (SSH key, credential helper).',
  });
  const found = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const [sha, ref] = line.split('\t');
    if (sha && ref) found.set(ref, sha);
  }
  return new Map(branches.map((branch) => [branch, found.get(`refs/heads/${branch}`) ?? null]));
}

export async function remoteBranchTip(target: RemoteTarget, branch: string, signal?: AbortSignal): Promise<string | null> {
  return (await remoteBranchTips(target, [branch], signal)).get(branch) ?? null;
}

/** One ref's line of `git push --porcelain`: `<flag>\t<from>:<to>\t<summary>`. */
export interface PushedRef {
  flag: ' ' | '+' | '-' | '*' | '!' | '=';
  to: string;
  summary: string;
}

export function parsePushPorcelain(stdout: string, ref: string): PushedRef | null {
  for (const line of stdout.split('\n')) {
    const [flag, fromTo, summary] = line.split('\t');
    if (flag === undefined || fromTo === undefined || summary === undefined || flag.length !== 1 || !' +-*!='.includes(flag)) continue;
    const to = fromTo.slice(fromTo.lastIndexOf(':') + 1);
    if (to === ref) return { flag: flag as PushedRef['flag'], to, summary };
  }
  return null;
}

/** Why the remote refused an update, from the porcelain summary (`[rejected] (stale info)`). */
export type RefusalReason = 'moved' | 'not_fast_forward' | 'refused_by_remote';

export function refusalReason(summary: string): RefusalReason {
  // "stale info": the lease did not hold; "fetch first": the remote has commits we lack. Both mean it moved.
  if (/stale info|fetch first|already exists/.test(summary)) return 'moved';
  if (/non-fast-forward/.test(summary)) return 'not_fast_forward';
  return 'refused_by_remote';
}

/**
 * `git push --porcelain --force-with-lease=<ref>:<expected> <remote> <refspec>`: the ref moves only if it is at
 * `expected` on the remote at that moment (null: only if it does not exist). Exit 1 with a porcelain line is
 * a refusal, returned; anything else (network, permissions) throws.
 */
export async function pushWithLease(target: RemoteTarget, refspec: string, ref: string, expected: string | null, signal?: AbortSignal): Promise<{ run: GitRun; line: PushedRef }> {
  const args = ['push', '--porcelain', `--force-with-lease=${ref}:${expected ?? ''}`, '--', target.remote, refspec];
  const run = await runGit(args, target.cwd, {
    allowedExitCodes: [0, 1],
    signal,
    remote: target.location,
    retryable: true,
    hint: 'Check that this machine reaches the remote and may push to it (SSH key, credential helper).',
  });
  const line = parsePushPorcelain(run.stdout, ref);
  if (line === null) {
    // Exit 1 without a line for our ref: the push never got as far as the ref (connection, auth): a failure.
    throw new GitCommandError(args, target.cwd, run.exitCode, run.stderr || run.stdout, {
      hint: 'Check that this machine reaches the remote and may push to it (SSH key, credential helper).',
      retryable: true,
    });
  }
  return { run, line };
}

/**
 * The remote a repository calls `remote` (a name, as `git.remote` in the config; a URL is read as given), as a
 * RemoteLocation: its `key` identifies the repository (the coordinator lock), its `fetchUrl` is safe to hand to
 * workers (a job, the database): it never holds credentials.
 */
export async function resolveRemote(cwd: string, remote: string, signal?: AbortSignal): Promise<RemoteLocation> {
  if (/[:/\\]/.test(remote)) return parseRemoteUrl(remote, { relativeTo: cwd });
  const result = await runGit(['remote', 'get-url', '--', remote], cwd, {
    allowedExitCodes: [0, 2, 128],
    signal,
  });
  if (result.exitCode !== 0) {
    throw new OrchestratorError('ORCH_GIT_NO_SUCH_REMOTE', `the repository at ${cwd} has no remote named "${remote}"`, {
      hint: `Add it (git remote add ${remote} <url>), or set git.remote in orchestrator.config.json to the name of an existing remote (git remote -v lists them).`,
    });
  }
  return parseRemoteUrl(result.stdout.trim(), { relativeTo: cwd });
}
