import { watch } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { assertBranchName, resolveCommit } from './git-command.js';

export interface BranchWatchOptions {
  /** The bare repository (or `.git` directory) holding the branch ref; worktrees share it. */
  gitDir: string;
  branch: string;
  /** Called with the branch's new tip each time it moves (a commit, a reset), in order, never twice for one tip. */
  onMove: (sha: string) => void;
  /** Ends the watch. */
  signal: AbortSignal;
  onError?: (error: unknown) => void;
}

/**
 * Calls `onMove` when the branch's tip moves, from inotify/FSEvents on the directory of its loose ref (git writes
 * `<ref>.lock` and renames it over the ref on every update), not by polling. Worker clones never pack refs
 * (`gc.packRefs=false`, set by ensureWorkerClone): `git pack-refs --prune` could remove the watched directory.
 * A move before the watch has read the tip once is not reported: push once after starting the watch.
 */
export function watchBranch(options: BranchWatchOptions): void {
  assertBranchName(options.branch);
  if (options.signal.aborted) return;
  const refPath = join(options.gitDir, 'refs', 'heads', ...options.branch.split('/'));
  const dir = dirname(refPath);
  const name = basename(refPath);
  mkdirSync(dir, { recursive: true });
  let last: string | null | undefined;
  let checking = false;
  let again = false;
  const check = async (): Promise<void> => {
    if (checking) {
      again = true;
      return;
    }
    checking = true;
    try {
      do {
        again = false;
        const tip = await resolveCommit(`refs/heads/${options.branch}`, options.gitDir);
        if (options.signal.aborted) return;
        if (tip !== null && last !== undefined && tip !== last) options.onMove(tip);
        last = tip;
      } while (again);
    } catch (error) {
      options.onError?.(error);
    } finally {
      checking = false;
    }
  };
  const watcher = watch(dir, { signal: options.signal }, (_event, filename) => {
    if (filename === null || filename === name || filename === `${name}.lock`) void check();
  });
  watcher.on('error', (error) => {
    if (!options.signal.aborted) options.onError?.(error);
  });
  // The first read only records where the branch is; moves are reported from then on.
  void check();
}
