import { git } from './repo-ops.js';

const MAX_DOCUMENT_BYTES = 1024 * 1024;

/** A committed document path as the orchestrator records it: relative, inside the repository, no `..`. */
export function isSafeRepoPath(path: string): boolean {
  return path.length > 0 && path.length < 500 && !path.startsWith('/') && !path.split(/[\\/]/).includes('..') && !path.includes('\0');
}

/**
 * Reads a spec or review as committed: on the item's own branch first (where the architect and reviewer commit
 * them), then on the integration branch (after the merge, when the item's branch is gone). Never the working tree.
 */
export async function readCommittedDocument(
  repoRoot: string,
  refs: readonly (string | null)[],
  path: string | null,
): Promise<{ path: string; ref: string; text: string } | null> {
  if (path === null || !isSafeRepoPath(path)) return null;
  for (const ref of refs) {
    if (!ref || ref.startsWith('-')) continue;
    const size = await git(['cat-file', '-s', `${ref}:${path}`], repoRoot, { allowedExitCodes: [0, 1, 128] });
    if (size.exitCode !== 0) continue;
    if (Number(size.stdout.trim()) > MAX_DOCUMENT_BYTES) return { path, ref, text: `(${size.stdout.trim()} bytes: too large to show here)` };
    const shown = await git(['show', `${ref}:${path}`], repoRoot, { allowedExitCodes: [0, 128] });
    if (shown.exitCode === 0) return { path, ref, text: shown.stdout };
  }
  return null;
}
