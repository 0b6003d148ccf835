import type { InvocationId, JsonObject, MessageRecord, RunErrorKind, RunId, RunStatus, WorkItemId } from '../events/index.js';
import type { AuditEventRecord, InvocationRecord, RoadmapReadRecord, RunRecord, RunSummary, StoredRoadmapProblem, WorkItemKind, WorkItemRecord } from './store.js';

/** Row shapes as both databases return them (snake_case), and their mapping to records. Shared by both stores. */
export type Row = Record<string, unknown>;

const str = (value: unknown): string => (typeof value === 'string' ? value : String(value));
const strOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : str(value));
const num = (value: unknown): number => (typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : Number(value ?? 0));
const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : num(value));

export function parseJson<T>(value: unknown, fallback: T): T {
  if (typeof value !== 'string') return (value as T | null | undefined) ?? fallback;
  try {
    return JSON.parse(value) as T;
  } catch {
    return fallback;
  }
}

export function runFromRow(row: Row): RunRecord {
  return {
    id: str(row.id) as RunId,
    agent: str(row.agent),
    taskKind: str(row.task_kind),
    prompt: str(row.prompt),
    workItemId: strOrNull(row.work_item_id) as WorkItemId | null,
    attempt: num(row.attempt),
    status: str(row.status) as RunStatus,
    cwd: str(row.cwd),
    worktree: strOrNull(row.worktree),
    branch: strOrNull(row.branch),
    pid: numOrNull(row.pid),
    ownerPid: num(row.owner_pid),
    host: str(row.host),
    createdAt: str(row.created_at),
    startedAt: strOrNull(row.started_at),
    endedAt: strOrNull(row.ended_at),
    lastEventAt: strOrNull(row.last_event_at),
    stopRequestedAt: strOrNull(row.stop_requested_at),
    exitCode: numOrNull(row.exit_code),
    errorKind: strOrNull(row.error_kind) as RunErrorKind | null,
    errorMessage: strOrNull(row.error_message),
  };
}

/** What a run summary adds to its run: the totals of its invocations. */
export type RunTotals = Omit<RunSummary, keyof RunRecord>;

export const EMPTY_TOTALS: RunTotals = {
  invocationCount: 0,
  sessionId: null,
  model: null,
  inputTokens: 0,
  outputTokens: 0,
  cacheCreationInputTokens: 0,
  cacheReadInputTokens: 0,
  costUsd: 0,
  costEstimated: false,
  numTurns: 0,
  durationMs: null,
};

/** The fields of one invocation that add up into its run's totals (from a row or a record). */
type InvocationUsage = Pick<
  InvocationRecord,
  'sessionId' | 'model' | 'inputTokens' | 'outputTokens' | 'cacheCreationInputTokens' | 'cacheReadInputTokens' | 'costUsd' | 'costEstimated' | 'numTurns' | 'durationMs'
>;

/** Adds one invocation (taken in start order) to its run's totals; the latest one gives session and model. */
function addInvocation(current: RunTotals, invocation: InvocationUsage): RunTotals {
  return {
    invocationCount: current.invocationCount + 1,
    sessionId: invocation.sessionId ?? current.sessionId,
    model: invocation.model ?? current.model,
    inputTokens: current.inputTokens + invocation.inputTokens,
    outputTokens: current.outputTokens + invocation.outputTokens,
    cacheCreationInputTokens: current.cacheCreationInputTokens + invocation.cacheCreationInputTokens,
    cacheReadInputTokens: current.cacheReadInputTokens + invocation.cacheReadInputTokens,
    costUsd: current.costUsd + invocation.costUsd,
    costEstimated: current.costEstimated || invocation.costEstimated,
    numTurns: current.numTurns + (invocation.numTurns ?? 0),
    durationMs: invocation.durationMs === null ? current.durationMs : (current.durationMs ?? 0) + invocation.durationMs,
  };
}

/** Sums invocation rows (ordered by start) into per-run totals. */
export function totalsFromInvocationRows(rows: readonly Row[]): Map<string, RunTotals> {
  const totals = new Map<string, RunTotals>();
  for (const row of rows) {
    const runId = str(row.run_id);
    totals.set(
      runId,
      addInvocation(totals.get(runId) ?? EMPTY_TOTALS, {
        sessionId: strOrNull(row.session_id),
        model: strOrNull(row.model),
        inputTokens: num(row.input_tokens),
        outputTokens: num(row.output_tokens),
        cacheCreationInputTokens: num(row.cache_creation_input_tokens),
        cacheReadInputTokens: num(row.cache_read_input_tokens),
        costUsd: num(row.cost_usd),
        costEstimated: num(row.cost_estimated) === 1,
        numTurns: numOrNull(row.num_turns),
        durationMs: numOrNull(row.duration_ms),
      }),
    );
  }
  return totals;
}

/** A run with the totals of its invocations (given in start order), as lists show it. */
export function summarizeRun(run: RunRecord, invocations: readonly InvocationRecord[]): RunSummary {
  return summaryOf(run, invocations.reduce(addInvocation, EMPTY_TOTALS));
}

export function summaryOf(run: RunRecord, totals: RunTotals | undefined): RunSummary {
  return { ...run, ...(totals ?? EMPTY_TOTALS) };
}

export function invocationFromRow(row: Row): InvocationRecord {
  return {
    id: str(row.id) as InvocationId,
    runId: str(row.run_id) as RunId,
    prompt: str(row.prompt),
    systemPrompt: strOrNull(row.system_prompt),
    resumeSessionId: strOrNull(row.resume_session_id),
    startedAt: str(row.started_at),
    endedAt: strOrNull(row.ended_at) as string,
    status: str(row.status) as RunStatus,
    sessionId: strOrNull(row.session_id),
    model: strOrNull(row.model),
    cliVersion: strOrNull(row.cli_version),
    durationMs: numOrNull(row.duration_ms),
    durationApiMs: numOrNull(row.duration_api_ms),
    numTurns: numOrNull(row.num_turns),
    inputTokens: num(row.input_tokens),
    outputTokens: num(row.output_tokens),
    cacheCreationInputTokens: num(row.cache_creation_input_tokens),
    cacheReadInputTokens: num(row.cache_read_input_tokens),
    costUsd: num(row.cost_usd),
    costEstimated: num(row.cost_estimated) === 1,
    costNote: strOrNull(row.cost_note),
    resultSubtype: strOrNull(row.result_subtype),
    resultText: strOrNull(row.result_text),
    isError: num(row.is_error) === 1,
    terminalReason: strOrNull(row.terminal_reason),
    apiErrorStatus: numOrNull(row.api_error_status),
    permissionDenials: parseJson<JsonObject[]>(row.permission_denials, []),
    exitCode: numOrNull(row.exit_code),
    signal: strOrNull(row.signal),
    stderrTail: str(row.stderr_tail ?? ''),
  };
}

export function messageFromRow(row: Row): MessageRecord {
  return {
    invocationId: str(row.invocation_id) as InvocationId,
    runId: str(row.run_id) as RunId,
    seq: num(row.seq),
    at: str(row.at),
    type: str(row.type),
    subtype: strOrNull(row.subtype),
    toolName: strOrNull(row.tool_name),
    payload: parseJson<JsonObject>(row.payload, {}),
  };
}

export function workItemFromRow(row: Row): WorkItemRecord {
  return {
    id: str(row.id) as WorkItemId,
    kind: str(row.kind) as WorkItemKind,
    number: str(row.number),
    title: str(row.title),
    slug: str(row.slug),
    state: str(row.state),
    position: num(row.position),
    severity: strOrNull(row.severity),
    body: strOrNull(row.body),
    note: strOrNull(row.note),
    dependsOn: parseJson<string[]>(row.depends_on, []),
    specPath: strOrNull(row.spec_path),
    reviewPath: strOrNull(row.review_path),
    branch: strOrNull(row.branch),
    worktree: strOrNull(row.worktree),
    attempts: parseJson<Record<string, number>>(row.attempts, {}),
    blockedReason: strOrNull(row.blocked_reason),
    waitingFor: strOrNull(row.waiting_for) as WorkItemRecord['waitingFor'],
    waitingDetail: strOrNull(row.waiting_detail),
    waitingSince: strOrNull(row.waiting_since),
    createdAt: str(row.created_at),
    updatedAt: str(row.updated_at),
  };
}

export function roadmapReadFromRow(row: Row): RoadmapReadRecord {
  return {
    path: str(row.path),
    branch: str(row.branch),
    tipSha: str(row.tip_sha),
    readAt: str(row.read_at),
    itemCount: num(row.item_count),
    problems: parseJson<StoredRoadmapProblem[]>(row.problems, []),
  };
}

export function auditEventFromRow(row: Row): AuditEventRecord {
  return {
    id: num(row.id),
    at: str(row.at),
    kind: str(row.kind),
    runId: strOrNull(row.run_id) as RunId | null,
    workItemId: strOrNull(row.work_item_id) as WorkItemId | null,
    message: str(row.message),
    data: parseJson<JsonObject>(row.data, {}),
  };
}

/** Column names of WorkItemPatch keys. */
export const WORK_ITEM_COLUMNS: Record<string, { column: string; json?: boolean }> = {
  title: { column: 'title' },
  specPath: { column: 'spec_path' },
  reviewPath: { column: 'review_path' },
  branch: { column: 'branch' },
  worktree: { column: 'worktree' },
  attempts: { column: 'attempts', json: true },
  blockedReason: { column: 'blocked_reason' },
  waitingFor: { column: 'waiting_for' },
  waitingDetail: { column: 'waiting_detail' },
  waitingSince: { column: 'waiting_since' },
  position: { column: 'position' },
  body: { column: 'body' },
  note: { column: 'note' },
  severity: { column: 'severity' },
  dependsOn: { column: 'depends_on', json: true },
  updatedAt: { column: 'updated_at' },
};

/** SQL for the usage grouping key. */
export function usageKeyExpression(by: 'agent' | 'day' | 'model' | 'work_item'): string {
  switch (by) {
    case 'agent':
      return 'r.agent';
    case 'day':
      return 'substr(r.created_at, 1, 10)';
    case 'model':
      return "COALESCE(i.model, '(none)')";
    case 'work_item':
      return "COALESCE(r.work_item_id, '(none)')";
  }
}
