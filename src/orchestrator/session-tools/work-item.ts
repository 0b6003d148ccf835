import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { RUN_PROGRESS_EVENT, type RunId } from '../../events/index.js';
import { defineTool } from '../../mcp/index.js';
import type { AuditEventRecord, RunSummary, WorkItemRecord } from '../../store/index.js';
import { isSafeRepoPath, readCommittedDocument } from '../documents.js';
import type { SessionToolContext } from './context.js';

/** Past this, a document is cut (the CLI truncates a tool result past MAX_MCP_OUTPUT_TOKENS anyway). */
export const MAX_DOCUMENT_CHARS = 40_000;
/** The newest history entries shown. */
export const HISTORY_ENTRIES = 40;

/** Audit events that explain why an attempt did not count (recorded by the supervisor). */
const FAILURE_EVENTS = new Set(['attempt.failed', 'retry.scheduled']);
const ENDED_BADLY = new Set(['failed', 'timed_out', 'stopped', 'orphaned']);

const input = z.object({}).strict();

/** `work_item`: the session's own item: its spec, latest review, history, and why earlier attempts failed. */
export const workItemTool = defineTool<SessionToolContext, typeof input>({
  name: 'work_item',
  title: 'Your work item',
  description:
    'Read the work item this session works on, as the orchestrator knows it: what the roadmap or bug report says, its spec, its latest review, its history (state changes), and why earlier attempts failed. Takes no arguments.',
  input,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  run: async (_args, context) => {
    if (context.workItemId === null) {
      return { text: `This session works on no work item (an ad-hoc run of the ${context.role} agent): there is no spec, review or history to show. Your task is the prompt you were given.` };
    }
    const item = await context.store.getWorkItem(context.workItemId);
    if (!item) return { isError: true, text: `Work item ${context.workItemId} is not in the orchestrator's store (it may have been removed from the roadmap).` };
    const [spec, review, events, runs] = await Promise.all([
      readDocument(context, item, item.specPath),
      readDocument(context, item, item.reviewPath),
      context.store.listEvents({ workItemId: item.id, limit: 100_000 }),
      context.store.listRuns({ workItemId: item.id, limit: 200 }),
    ]);
    return { text: describeWorkItem(item, { spec, review, events, runs, currentRun: context.runId }) };
  },
});

interface DocumentText {
  path: string;
  /** Where it was read: the session's worktree, or a branch. */
  source: string;
  text: string;
}

/** A spec or review: as it is in the session's worktree (the newest), else as committed on the item's or the integration branch. */
async function readDocument(context: Pick<SessionToolContext, 'cwd' | 'integrationBranch'>, item: WorkItemRecord, path: string | null): Promise<DocumentText | { path: string | null; missing: true }> {
  if (path === null || !isSafeRepoPath(path)) return { path, missing: true };
  const working = await readFile(join(context.cwd, path), 'utf8').catch(() => null);
  if (working !== null) return { path, source: 'your worktree', text: working };
  const committed = await readCommittedDocument(context.cwd, [item.branch, context.integrationBranch], path).catch(() => null);
  if (committed) return { path, source: `committed on ${committed.ref}`, text: committed.text };
  return { path, missing: true };
}

function documentSection(title: string, document: DocumentText | { path: string | null; missing: true }, none: string): string {
  if ('missing' in document) return `## ${title}\n${document.path === null ? none : `${document.path} (not written yet)`}`;
  const cut = document.text.length > MAX_DOCUMENT_CHARS;
  return `## ${title}: ${document.path} (${document.source})\n${cut ? `${document.text.slice(0, MAX_DOCUMENT_CHARS)}\n… (cut at ${MAX_DOCUMENT_CHARS} of ${document.text.length} characters: read the file for the rest)` : document.text}`;
}

function describeWorkItem(
  item: WorkItemRecord,
  found: { spec: DocumentText | { path: string | null; missing: true }; review: DocumentText | { path: string | null; missing: true }; events: AuditEventRecord[]; runs: RunSummary[]; currentRun: RunId },
): string {
  const label = item.kind === 'bug' ? `BUG ${item.number}` : `PRIORITY ${item.number}`;
  const attempts = Object.entries(item.attempts).map(([role, count]) => `${role} ${count}`).join(', ');
  const header = [
    `# ${item.id} (${label}): ${item.title}`,
    `state: ${item.state}${item.severity ? ` · severity: ${item.severity}` : ''}${item.branch ? ` · branch: ${item.branch}` : ''}`,
    `attempts so far: ${attempts || 'none'}`,
    ...(item.blockedReason ? [`blocked because: ${item.blockedReason}`] : []),
  ].join('\n');
  const what = item.body && item.body.trim().length > 0 ? `## What the ${item.kind === 'bug' ? 'bug report' : 'roadmap'} says\n${item.body.trim()}` : null;

  const failures = [
    ...found.runs
      .filter((run) => run.id !== found.currentRun && ENDED_BADLY.has(run.status))
      .map((run) => ({ at: run.endedAt ?? run.createdAt, text: `${run.agent} run ${run.id} (attempt ${run.attempt}) ${run.status}: ${run.errorMessage ?? 'no reason recorded'}` })),
    ...found.events.filter((event) => FAILURE_EVENTS.has(event.kind)).map((event) => ({ at: event.at, text: event.message })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  const failureSection = `## Why earlier attempts failed\n${failures.length === 0 ? 'No earlier attempt failed.' : failures.map((failure) => `- ${failure.at} ${failure.text}`).join('\n')}`;

  const history = found.events.filter((event) => event.kind !== RUN_PROGRESS_EVENT);
  const shown = history.slice(-HISTORY_ENTRIES);
  const historySection = `## History (${history.length > shown.length ? `newest ${shown.length} of ${history.length}` : `${history.length} entries`})\n${
    shown.length === 0 ? 'Nothing recorded yet.' : shown.map((event) => `- ${event.at} ${event.kind}: ${event.message}`).join('\n')
  }`;

  return [header, what, documentSection('Spec', found.spec, 'No spec for this item (yet).'), documentSection('Latest review', found.review, 'No review yet.'), failureSection, historySection]
    .filter((section): section is string => section !== null)
    .join('\n\n');
}
