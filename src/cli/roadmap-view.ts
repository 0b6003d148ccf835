import type { ResolvedConfig } from '../config/index.js';
import { errorMessage } from '../lib/errors.js';
import { RepoOps, formatRoadmapProblem, readRoadmapSnapshot, uncommittedRoadmapEdits, type RoadmapSnapshot } from '../orchestrator/index.js';
import { itemLabel, planRoadmap, type PlanEntry } from '../roadmap/index.js';
import type { Store } from '../store/index.js';
import { table, type Paint } from './format.js';

/** What `status` and `plan` show of the roadmap: read from the integration branch with the code `start` uses. */
export interface RoadmapView {
  snapshot: RoadmapSnapshot | null;
  /** Why the roadmap could not be read at all (then `start` would refuse too), with the fix. */
  unreadable: { message: string; hint: string | null } | null;
  /** Set when the working tree's ROADMAP.md has edits the pipeline does not see. */
  uncommitted: string | null;
  entries: PlanEntry[];
}

export async function loadRoadmapView(config: ResolvedConfig, store: Store): Promise<RoadmapView> {
  const repo = new RepoOps(config.repoRoot);
  try {
    const branch = config.integrationBranch ?? (await repo.currentBranch());
    const uncommitted = await uncommittedRoadmapEdits(repo, branch, config.roadmapPath).catch(() => null);
    try {
      const snapshot = await readRoadmapSnapshot(repo, branch, config.roadmapPath);
      const states = new Map((await store.listWorkItems({ kind: 'priority' })).map((item) => [item.number, item.state]));
      return { snapshot, unreadable: null, uncommitted, entries: planRoadmap(snapshot.parsed, states) };
    } catch (error) {
      return { snapshot: null, unreadable: describe(error), uncommitted, entries: [] };
    }
  } catch (error) {
    return { snapshot: null, unreadable: describe(error), uncommitted: null, entries: [] };
  }
}

function describe(error: unknown): { message: string; hint: string | null } {
  const hint = (error as { hint?: unknown }).hint;
  return { message: errorMessage(error), hint: typeof hint === 'string' ? hint : null };
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The header: where the roadmap was read, the counts, and the warnings about reading it at all. */
export function roadmapHeader(view: RoadmapView, paint: Paint): string {
  const lines: string[] = [];
  if (view.unreadable) {
    lines.push(paint.red(`roadmap: ${view.unreadable.message}`));
    if (view.unreadable.hint) lines.push(`  ${paint.dim(`fix: ${view.unreadable.hint}`)}`);
  } else if (view.snapshot) {
    const { snapshot, entries } = view;
    const count = (decision: PlanEntry['decision']) => entries.filter((entry) => entry.decision === decision).length;
    const problems = snapshot.parsed.problems;
    lines.push(
      `${paint.bold('Roadmap')} ${snapshot.path} on ${snapshot.branch} (${snapshot.tipSha.slice(0, 7)}): ${entries.length} item(s) · ${count('next')} to start now · ${count('after')} after their dependencies · ${count('skipped')} skipped · ${problems.length} problem(s)`,
    );
  }
  if (view.uncommitted) lines.push(paint.yellow(`! ${view.uncommitted}`));
  return lines.join('\n');
}

/** Every item of the roadmap: its status there, what `start` does with it (or its work item's state) and its note. */
export function roadmapItemsTable(view: RoadmapView): string {
  return table(
    ['ITEM', 'LINE', 'TITLE', 'ROADMAP', 'START', 'NOTE'],
    view.entries.map((entry) => [
      itemLabel(entry.item),
      String(entry.item.headingLine),
      clip(entry.item.title, 40),
      entry.item.heldBack !== null ? 'unreadable' : entry.item.status,
      clip(entry.decision === 'skipped' ? `skip: ${entry.reason}` : entry.decision === 'next' ? (entry.state && entry.state !== 'planned' ? entry.state : 'next') : entry.reason, 80),
      clip(entry.item.note, 60),
    ]),
  );
}

/** What `start` would do: the items it takes, in order, then what it leaves and why (complete items counted). */
export function roadmapPlanText(view: RoadmapView, paint: Paint): string {
  const out: string[] = [];
  const taken = view.entries.filter((entry) => entry.decision !== 'skipped');
  const left = view.entries.filter((entry) => entry.decision === 'skipped' && entry.reason !== 'complete' && entry.reason !== 'done');
  const complete = view.entries.length - taken.length - left.length;
  out.push(paint.bold(`start takes ${taken.length} item(s), in this order:`));
  if (taken.length === 0) out.push('  (none: every item is complete, blocked or held back)');
  taken.forEach((entry, index) => {
    const dependencies = entry.item.dependsOn.length > 0 ? ` · depends on ${entry.item.dependsOn.join(', ')}` : '';
    out.push(`  ${String(index + 1).padStart(2)}. ${itemLabel(entry.item)}: ${entry.item.title}  ${paint.dim(`(line ${entry.item.headingLine} · ${entry.decision === 'next' ? (entry.state && entry.state !== 'planned' ? entry.reason : 'startable now') : entry.reason}${dependencies})`)}${entry.item.note ? `  ${paint.dim(`note: ${entry.item.note}`)}` : ''}`);
  });
  out.push(paint.bold(`skipped: ${complete} complete, ${left.length} other(s)`));
  for (const entry of left) out.push(`  ${itemLabel(entry.item)}: ${clip(entry.item.title, 50)}  ${paint.dim(`(line ${entry.item.headingLine})`)} ${entry.reason}`);
  return out.join('\n');
}

export function roadmapProblemsText(view: RoadmapView, paint: Paint): string {
  const problems = view.snapshot?.parsed.problems ?? [];
  if (problems.length === 0) return paint.green('no problems in the roadmap');
  return [
    paint.bold(`Roadmap problems (${problems.length}): nothing here stops \`start\`; the items they name are held back or read as shown`),
    ...problems.map((problem) => `${problem.severity === 'error' ? paint.red('error  ') : paint.yellow('warning')} ${formatRoadmapProblem(problem)}`),
  ].join('\n');
}
