import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { RoadmapParseError } from '../lib/errors.js';
import { parseReadableRoadmap, type RoadmapParseResult, type RoadmapProblem } from '../roadmap/index.js';
import type { RepoOps } from './repo-ops.js';

/** The roadmap as the pipeline sees it: the committed file at the tip of the integration branch. */
export interface RoadmapSnapshot {
  path: string;
  branch: string;
  tipSha: string;
  parsed: RoadmapParseResult;
}

/**
 * Reads and parses ROADMAP.md at the tip of `branch`: `start`, `status`, `plan` and `doctor` all read it here.
 * Throws RoadmapParseError only when the roadmap cannot be read at all (missing, binary, no items); every other
 * problem is in `parsed.problems`.
 */
export async function readRoadmapSnapshot(repo: RepoOps, branch: string, path: string): Promise<RoadmapSnapshot> {
  const tipSha = await repo.headSha(branch);
  const text = await repo.showFile(tipSha, path);
  if (text === null) {
    throw new RoadmapParseError(path, 1, `no roadmap on branch ${branch}`, {
      hint: `Create ${path} (\`orchestrator init\` writes a template) and commit it to ${branch}: the pipeline reads the committed file.`,
    });
  }
  return { path, branch, tipSha, parsed: parseReadableRoadmap(text, path) };
}

/**
 * A sentence when the user's ROADMAP.md differs from the one committed on the integration branch (the pipeline
 * reads the branch, so uncommitted edits are invisible to it); null when they are the same or there is no file.
 */
export async function uncommittedRoadmapEdits(repo: RepoOps, branch: string, path: string): Promise<string | null> {
  const working = await readFile(join(repo.root, path), 'utf8').catch(() => null);
  if (working === null) return null;
  const committed = await repo.showFile(branch, path);
  if (committed === working) return null;
  const current = await repo.currentBranch().catch(() => null);
  if (current === branch) {
    return `${path} has edits not committed to ${branch}: the pipeline reads ${branch}, so it does not see them. Commit them first (git commit ${path}).`;
  }
  return `${path} in your checkout (${current ?? 'detached HEAD'}) differs from the one on ${branch}: the pipeline reads ${branch}. Commit your edits to ${branch} for the pipeline to see them.`;
}

/** `file:line: message` and the fix, as one line for the terminal and the notices. */
export function formatRoadmapProblem(problem: RoadmapProblem): string {
  return `${problem.file}:${problem.line}: ${problem.message} (fix: ${problem.hint})`;
}
