import type { RunId, WorkItemId } from '../events/index.js';
import { nowIso } from '../lib/time.js';
import { slugify } from '../roadmap/index.js';
import type { Store, WorkItemRecord } from '../store/index.js';

/** A bug's severity: critical and high bugs are taken before roadmap priorities. */
export const BUG_SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type BugSeverity = (typeof BUG_SEVERITIES)[number];

/** The audit event a filed bug leaves (its run id is the filing session's, when a session filed it). */
export const BUG_FILED_EVENT = 'bug.filed';

/** The session that files a bug (the `file_bug` tool); absent when a person files it (`orchestrator bug`). */
export interface BugFiler {
  runId: RunId;
  role: string;
  workItemId: WorkItemId | null;
}

export interface BugReport {
  title: string;
  body: string;
  severity: BugSeverity;
  filedBy?: BugFiler | null;
}

export type BugFilingOutcome = { kind: 'filed'; item: WorkItemRecord } | { kind: 'limit_reached'; filed: number; limit: number };

/** Bugs are numbered max + 1: one filing at a time in this process, so two sessions never take the same number. */
let filingQueue: Promise<unknown> = Promise.resolve();

/**
 * Files a bug as a work item that enters the queue (planned), numbered after the highest bug so far, and records
 * `bug.filed` in the audit trail. A bug a session files names that session in its text and in the event (its run
 * id), and counts against `perRunLimit` (counted from the store, so a resumed run keeps its count): over the limit
 * nothing is filed and the outcome says so.
 */
export function fileBug(store: Store, report: BugReport, options: { perRunLimit?: number } = {}): Promise<BugFilingOutcome> {
  const filing = filingQueue.then(() => fileNow(store, report, options));
  filingQueue = filing.catch(() => undefined);
  return filing;
}

async function fileNow(store: Store, report: BugReport, options: { perRunLimit?: number }): Promise<BugFilingOutcome> {
  const filer = report.filedBy ?? null;
  if (filer && options.perRunLimit !== undefined) {
    const filed = await bugsFiledBy(store, filer.runId);
    if (filed >= options.perRunLimit) return { kind: 'limit_reached', filed, limit: options.perRunLimit };
  }
  const title = report.title.trim();
  const bugs = await store.listWorkItems({ kind: 'bug' });
  const number = String(bugs.reduce((max, bug) => Math.max(max, Number(bug.number) || 0), 0) + 1);
  const body = filer ? `${report.body}\n\n---\nFiled by the ${filer.role} session of run ${filer.runId}${filer.workItemId ? ` while it worked on ${filer.workItemId}` : ''}.` : report.body;
  const at = nowIso();
  const item = await store.upsertWorkItem({ id: `B-${number}` as WorkItemId, kind: 'bug', number, title, slug: slugify(title), state: 'planned', position: Number(number), severity: report.severity, body, at });
  await store.appendEvent({
    at,
    kind: BUG_FILED_EVENT,
    workItemId: item.id,
    runId: filer?.runId ?? null,
    message: `bug ${number} filed (${report.severity}): ${item.title}${filer ? ` by the ${filer.role} run ${filer.runId}` : ''}`,
    data: filer ? { filedByRun: filer.runId, filedByRole: filer.role, fromWorkItem: filer.workItemId } : {},
  });
  return { kind: 'filed', item };
}

/** How many bugs a run has filed (its `bug.filed` events). */
export async function bugsFiledBy(store: Store, runId: RunId): Promise<number> {
  const events = await store.listEvents({ runId, limit: 100_000 });
  return events.filter((event) => event.kind === BUG_FILED_EVENT).length;
}
