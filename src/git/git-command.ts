import { execFile } from 'node:child_process';
import { OrchestratorError } from '../lib/errors.js';
import { gitCredentialEnv, redactUrlCredentials, type RemoteLocation } from './remote-url.js';

/** A git command that failed. Its message, arguments and stderr are redacted: no URL credential ever reaches it. */
export class GitCommandError extends OrchestratorError {
  constructor(args: readonly string[], cwd: string, exitCode: number | null, stderr: string, options: { hint?: string; retryable?: boolean } = {}) {
    const shownArgs = args.map((arg) => redactUrlCredentials(arg));
    const tail = redactUrlCredentials(stderr.trim().split('\n').slice(-3).join(' | '));
    super('ORCH_GIT_FAILED', `git ${shownArgs.join(' ')} failed in ${cwd} (exit ${String(exitCode)}): ${tail}`, {
      hint: options.hint ?? 'Check the repository state with `git status` in that directory.',
      retryable: options.retryable ?? false,
      data: { args: shownArgs, cwd, exitCode },
    });
  }
}

export interface GitRun {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface GitOptions {
  /** Exit codes that resolve instead of rejecting (default: only 0). */
  allowedExitCodes?: readonly number[];
  signal?: AbortSignal | undefined;
  /** The remote this command talks to: its credentials reach git through the environment, never argv. */
  remote?: RemoteLocation | undefined;
  /** Hint of the GitCommandError thrown on failure. */
  hint?: string;
  retryable?: boolean;
}

/**
 * Runs git in `cwd` (never chdir): no prompts (a missing credential fails at once instead of hanging a worker),
 * C locale (stderr is parsed), no editor. An aborted signal stops a command from starting, never one that runs: git
 * killed mid-write leaves its lock files behind (a ref's `.lock`, `index.lock`), and every later fetch or push of
 * that clone fails until someone removes them by hand. A command that ran is reported as it ended.
 */
export function runGit(args: readonly string[], cwd: string, options: GitOptions = {}): Promise<GitRun> {
  options.signal?.throwIfAborted();
  // eslint-disable-next-line no-restricted-properties -- git must inherit the user's environment (HOME, SSH agent, credential helpers); we only add settings.
  const inherited = process.env;
  const env = {
    ...inherited,
    GIT_TERMINAL_PROMPT: '0',
    GCM_INTERACTIVE: 'never',
    LC_ALL: 'C',
    GIT_EDITOR: 'true',
    ...(options.remote ? gitCredentialEnv(options.remote, inherited) : {}),
  };
  return new Promise((resolvePromise, reject) => {
    execFile('git', [...args], { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const exitCode = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      if (exitCode !== null && (options.allowedExitCodes ?? [0]).includes(exitCode)) {
        resolvePromise({ stdout, stderr, exitCode });
        return;
      }
      reject(
        new GitCommandError(args, cwd, exitCode, stderr || (error?.message ?? ''), {
          ...(options.hint === undefined ? {} : { hint: options.hint }),
          ...(options.retryable === undefined ? {} : { retryable: options.retryable }),
        }),
      );
    });
  });
}

/** The commit a ref names, or null when there is none. */
export async function resolveCommit(ref: string, cwd: string, signal?: AbortSignal): Promise<string | null> {
  const result = await runGit(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], cwd, { allowedExitCodes: [0, 1, 128], signal });
  return result.exitCode === 0 ? result.stdout.trim() : null;
}

/** True when `ancestor` is `of` or one of its ancestors (both must be present locally). */
export async function isAncestor(ancestor: string, of: string, cwd: string, signal?: AbortSignal): Promise<boolean> {
  const result = await runGit(['merge-base', '--is-ancestor', ancestor, of], cwd, { allowedExitCodes: [0, 1], signal });
  return result.exitCode === 0;
}

/** True when the object is present in the repository at `cwd`. */
export async function hasCommit(sha: string, cwd: string, signal?: AbortSignal): Promise<boolean> {
  return (await runGit(['cat-file', '-e', `${sha}^{commit}`], cwd, { allowedExitCodes: [0, 1, 128], signal })).exitCode === 0;
}

const BRANCH_NAME = /^(?!-)(?!.*\.\.)(?!.*@\{)(?!.*\/\/)(?!.*\/\.)(?!.*\.lock(?:\/|$))[^\s~^:?*[\\\x00-\x1f\x7f]+(?<![./])$/;

/** Refuses a branch name git would refuse (or read as an option): names reach git as `refs/heads/<name>` only. */
export function assertBranchName(branch: string): void {
  if (!BRANCH_NAME.test(branch) || branch.startsWith('/') || branch === '@') {
    throw new OrchestratorError('ORCH_GIT_BRANCH_NAME', `"${branch}" is not a valid branch name`, {
      hint: 'Branch names follow `git check-ref-format --branch`: no spaces, `..`, `~`, `^`, `:`, `?`, `*`, `[`, and no leading `-`.',
    });
  }
}
