import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { GitCommandError, runGit } from './git-command.js';
import { cacheDirName, parseRemoteUrl, type RemoteLocation } from './remote-url.js';

/** The name of the shared remote inside every worker clone (the user's own name for it does not matter here). */
export const WORKER_REMOTE = 'origin';
/** A half-made clone (`.tmp-*`) older than this belongs to a process that died: pruneCache removes it. */
export const ABANDONED_TMP_MS = 60 * 60 * 1000;
/** Default age after which pruneCache removes a clone no worker used: 14 days. */
export const DEFAULT_CLONE_MAX_AGE_MS = 14 * 24 * 60 * 60 * 1000;
const LAST_USED_FILE = 'last-used';
const FETCH_ATTEMPTS = 5;

/**
 * A worker's clone of the shared remote: `<cacheDir>/<name>-<hash>/repo.git` (bare: no checkout of its own) with
 * the remote as `origin`, and the worker's item worktrees beside it in `worktrees/`.
 */
export interface WorkerClone {
  remote: RemoteLocation;
  /** `<cacheDir>/<name>-<hash>`: everything of this repository on this worker. */
  dir: string;
  gitDir: string;
  worktreesDir: string;
}

export interface EnsureWorkerCloneOptions {
  /** The shared remote (URL, scp-like address or local path). Credentials in it are never stored or printed. */
  remoteUrl: string;
  /** Where this worker keeps its clones (one directory per repository). */
  cacheDir: string;
  signal?: AbortSignal;
  /** Base for a relative local path in remoteUrl (default: the process's working directory). */
  relativeTo?: string;
}

/**
 * The worker's clone of the remote, created on first use and fetched on every call (call it before each job).
 * Safe when several processes call it at once: each clones into its own temporary directory and renames it into
 * place; rename(2) onto a non-empty directory fails, so the first one wins and the others discard theirs.
 */
export async function ensureWorkerClone(options: EnsureWorkerCloneOptions): Promise<WorkerClone & { created: boolean }> {
  options.signal?.throwIfAborted();
  const remote = parseRemoteUrl(options.remoteUrl, options.relativeTo === undefined ? {} : { relativeTo: options.relativeTo });
  const dir = join(options.cacheDir, cacheDirName(remote.key));
  const clone: WorkerClone = { remote, dir, gitDir: join(dir, 'repo.git'), worktreesDir: join(dir, 'worktrees') };
  await mkdir(options.cacheDir, { recursive: true });
  let created = false;
  if (!existsSync(join(clone.gitDir, 'HEAD'))) created = await createClone(clone, options.cacheDir, options.signal);
  if (!created) await pointAtRemote(clone, options.signal);
  await fetchRemote(clone, options.signal);
  return { ...clone, created };
}

/** Clones into `<cacheDir>/.tmp-*` and renames into place; false when another process got there first. */
async function createClone(clone: WorkerClone, cacheDir: string, signal: AbortSignal | undefined): Promise<boolean> {
  const tmp = await mkdtemp(join(cacheDir, '.tmp-'));
  try {
    const gitDir = join(tmp, 'repo.git');
    await runGit(['init', '--quiet', '--bare', gitDir], tmp, { signal });
    // Reflogs in a bare repository are off by default; they keep a way back to anything a reset set aside.
    await runGit(['config', 'core.logAllRefUpdates', 'true'], gitDir, { signal });
    await runGit(['config', 'gc.autoDetach', 'false'], gitDir, { signal });
    // Branch refs stay loose files: watchBranch sees commits through their directory, which pack-refs would remove.
    await runGit(['config', 'gc.packRefs', 'false'], gitDir, { signal });
    await runGit(['remote', 'add', WORKER_REMOTE, clone.remote.fetchUrl], gitDir, { signal });
    await runGit(['fetch', '--quiet', '--no-tags', WORKER_REMOTE], gitDir, {
      signal,
      remote: clone.remote,
      retryable: true,
      hint: `Check that this machine reaches ${clone.remote.display} and has access to it (SSH key, credential helper, or credentials in git.remote).`,
    });
    await mkdir(join(tmp, 'worktrees'));
    await writeFile(join(tmp, LAST_USED_FILE), '');
    try {
      await rename(tmp, clone.dir);
      return true;
    } catch (error) {
      if (isErrno(error, 'ENOTEMPTY') || isErrno(error, 'EEXIST')) return false;
      throw error;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A clone made from another spelling of the same remote (ssh vs https): fetch from the one given now. */
async function pointAtRemote(clone: WorkerClone, signal: AbortSignal | undefined): Promise<void> {
  const current = await runGit(['config', '--get', `remote.${WORKER_REMOTE}.url`], clone.gitDir, { allowedExitCodes: [0, 1], signal });
  if (current.stdout.trim() !== clone.remote.fetchUrl) await runGit(['remote', 'set-url', WORKER_REMOTE, clone.remote.fetchUrl], clone.gitDir, { signal });
}

const fetchQueues = new Map<string, Promise<unknown>>();

/**
 * `git fetch --prune` of the remote into `refs/remotes/origin/*`. Fetches of one clone run one at a time in this
 * process; a fetch that finds a ref locked by another process (`cannot lock ref`) is retried with backoff.
 */
export async function fetchRemote(clone: WorkerClone, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  const previous = fetchQueues.get(clone.gitDir) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => fetchWithRetry(clone, signal));
  fetchQueues.set(clone.gitDir, next);
  try {
    await next;
  } finally {
    if (fetchQueues.get(clone.gitDir) === next) fetchQueues.delete(clone.gitDir);
  }
}

async function fetchWithRetry(clone: WorkerClone, signal: AbortSignal | undefined): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await runGit(['fetch', '--quiet', '--prune', '--no-tags', WORKER_REMOTE], clone.gitDir, {
        signal,
        remote: clone.remote,
        retryable: true,
        hint: `Check that this machine reaches ${clone.remote.display} and has access to it (SSH key, credential helper).`,
      });
      await touch(join(clone.dir, LAST_USED_FILE));
      return;
    } catch (error) {
      const locked = error instanceof GitCommandError && /cannot lock ref|\.lock': File exists|unable to update local ref/i.test(error.message);
      if (!locked || attempt >= FETCH_ATTEMPTS) throw error;
      // Another process fetches into the same clone: wait for it (50, 100, 200, 400 ms plus jitter).
      await delay(50 * 2 ** (attempt - 1) + Math.floor(Math.random() * 50), undefined, signal ? { signal } : {});
    }
  }
}

export interface PruneCacheOptions {
  cacheDir: string;
  /** Clones not used (ensureWorkerClone, fetchRemote) for this long are removed. Default 14 days. */
  maxAgeMs?: number;
  /** Clone directories to keep whatever their age (those of running jobs). */
  keep?: readonly string[];
  now?: number;
}

/**
 * Removes clones of the cache no worker used for `maxAgeMs` (with their worktrees) and half-made clones left by a
 * process that died. Only directories this module made are touched (`<name>-<12 hex>/repo.git`, `.tmp-*`).
 */
export async function pruneCache(options: PruneCacheOptions): Promise<{ removed: string[] }> {
  const now = options.now ?? Date.now();
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_CLONE_MAX_AGE_MS;
  const keep = new Set(options.keep ?? []);
  const removed: string[] = [];
  const entries = await readdir(options.cacheDir, { withFileTypes: true }).catch((error: unknown) => {
    if (isErrno(error, 'ENOENT')) return [];
    throw error;
  });
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const path = join(options.cacheDir, entry.name);
    if (keep.has(path)) continue;
    if (entry.name.startsWith('.tmp-')) {
      const age = now - (await stat(path)).mtimeMs;
      if (age > ABANDONED_TMP_MS) {
        await rm(path, { recursive: true, force: true });
        removed.push(path);
      }
      continue;
    }
    if (!/-?[0-9a-f]{12}$/.test(entry.name) || !existsSync(join(path, 'repo.git', 'HEAD'))) continue;
    const lastUsed = await stat(join(path, LAST_USED_FILE)).then(
      (info) => info.mtimeMs,
      () => 0,
    );
    if (now - lastUsed > maxAgeMs) {
      await rm(path, { recursive: true, force: true });
      removed.push(path);
    }
  }
  return { removed };
}

async function touch(path: string): Promise<void> {
  const time = new Date();
  await utimes(path, time, time).catch(async (error: unknown) => {
    if (!isErrno(error, 'ENOENT')) throw error;
    await writeFile(path, '');
  });
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
