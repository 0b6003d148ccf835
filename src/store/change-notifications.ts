import type { InvocationId, RunId, RunStatus, WorkItemId } from '../events/index.js';
import { isTerminalRunStatus } from '../events/index.js';

/**
 * What another process committed, as the database announces it: ids and small facts, never bodies (a
 * PostgreSQL NOTIFY payload is limited to 8000 bytes). A subscriber reads the rows the ids name.
 */
export type StoreChange =
  /** A run was created or its status changed. */
  | { kind: 'run'; runId: RunId; status: RunStatus }
  /** Someone asked to stop the run (`orchestrator stop`, the dashboard); sent again on every request. */
  | { kind: 'stop'; runId: RunId }
  /** A session (invocation) of the run began. */
  | { kind: 'invocation'; runId: RunId; invocationId: InvocationId }
  /** Messages of the invocation were committed, up to `seq`. */
  | { kind: 'message'; runId: RunId; invocationId: InvocationId; seq: number }
  /** An audit event was appended. */
  | { kind: 'event'; id: number; eventKind: string; runId: RunId | null; workItemId: WorkItemId | null }
  /** A work item was created, or its state or wait changed. */
  | { kind: 'work_item'; workItemId: WorkItemId; state: string }
  /** An agent message was added (migration 8): its id, whom it is for, and its work item. */
  | { kind: 'agent_message'; id: number; recipientKind: string; runId: RunId | null; workItemId: WorkItemId | null }
  /** A question was asked, or answered, expired or cancelled. */
  | { kind: 'question'; id: number; state: string; runId: RunId | null };

export type StoreChangeKind = StoreChange['kind'];

export interface StoreChangeSubscriber {
  onChange(change: StoreChange): void;
  /**
   * Changes may have been missed: called once listening is active for this subscriber (soon after it subscribes)
   * and again after every reconnect. The subscriber re-reads what is new since the last ids it saw itself.
   */
  onResync(): void;
}

/**
 * A store's announcements of committed changes (PostgreSQL: LISTEN/NOTIFY on a dedicated connection). Optional
 * on the Store: SQLite has none, and its callers keep polling.
 */
export interface StoreChangeNotifier {
  /** Delivers changes to `subscriber` until `signal` aborts. */
  subscribe(subscriber: StoreChangeSubscriber, options: { signal: AbortSignal }): void;
}

/**
 * The channel of a schema's changes, as an SQL expression over `schemaSql` (NOTIFY channels are database-wide, so
 * two schemas of one database must not share one). Channel names are identifiers (at most 63 bytes): a long
 * schema name is hashed. The one definition both the triggers (migration 6) and the listener evaluate.
 */
export function changeChannelSql(schemaSql: string): string {
  return `'orchestrator_changes:' || CASE WHEN octet_length(${schemaSql}) <= 40 THEN ${schemaSql} ELSE md5(${schemaSql}) END`;
}

const isString = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/** A payload sent by the triggers of migration 6, or null for one this version does not know (a newer writer). */
export function parseStoreChange(payload: string | undefined): StoreChange | null {
  if (payload === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const fields = value as Record<string, unknown>;
  const { k, run, inv } = fields;
  switch (k) {
    case 'run':
      return isString(run) && isString(fields.status) && (isTerminalRunStatus(fields.status) || fields.status === 'queued' || fields.status === 'running')
        ? { kind: 'run', runId: run as RunId, status: fields.status }
        : null;
    case 'stop':
      return isString(run) ? { kind: 'stop', runId: run as RunId } : null;
    case 'invocation':
      return isString(run) && isString(inv) ? { kind: 'invocation', runId: run as RunId, invocationId: inv as InvocationId } : null;
    case 'message':
      return isString(run) && isString(inv) && typeof fields.seq === 'number' ? { kind: 'message', runId: run as RunId, invocationId: inv as InvocationId, seq: fields.seq } : null;
    case 'event':
      return typeof fields.id === 'number' && isString(fields.kind)
        ? { kind: 'event', id: fields.id, eventKind: fields.kind, runId: isString(run) ? (run as RunId) : null, workItemId: isString(fields.item) ? (fields.item as WorkItemId) : null }
        : null;
    case 'work_item':
      return isString(fields.item) && isString(fields.state) ? { kind: 'work_item', workItemId: fields.item as WorkItemId, state: fields.state } : null;
    case 'agent_message':
      return typeof fields.id === 'number' && isString(fields.to)
        ? { kind: 'agent_message', id: fields.id, recipientKind: fields.to, runId: isString(run) ? (run as RunId) : null, workItemId: isString(fields.item) ? (fields.item as WorkItemId) : null }
        : null;
    case 'question':
      return typeof fields.id === 'number' && isString(fields.state) ? { kind: 'question', id: fields.id, state: fields.state, runId: isString(run) ? (run as RunId) : null } : null;
    default:
      return null;
  }
}
