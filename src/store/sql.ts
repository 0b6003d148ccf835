import { payloadJsonOf, type MessageRecord, type RunId, type WorkItemId } from '../events/index.js';
import { WORK_ITEM_COLUMNS, auditEventFromRow, usageKeyExpression, type Row } from './rows.js';
import type { FinishInvocation, FinishRun, NewAuditEvent, NewInvocation, NewRun, NewWorkItem, RoadmapReadRecord, RunFilter, RunWorker, UsageQuery, UsageRow, WorkItemPatch } from './store.js';

/**
 * The SQL both stores run, written once with `?` placeholders (the PostgreSQL store numbers them). Only what
 * really differs between the databases (connections, transactions, returning ids) lives in each store.
 */
export type Params = (string | number | null)[];
export interface Query {
  sql: string;
  params: Params;
}

const TERMINAL = "('succeeded','failed','timed_out','stopped','orphaned')";
const placeholders = (count: number) => Array.from({ length: count }, () => '?').join(',');

/** The WHERE clause of a run filter, on the runs table under the name `table` (list, count and usage share it). */
export function runWhere(filter: RunFilter, table = 'runs'): Query {
  const clauses: string[] = [];
  const params: Params = [];
  const add = (clause: string, ...values: Params) => {
    clauses.push(`${table}.${clause}`);
    params.push(...values);
  };
  if (filter.statuses && filter.statuses.length > 0) add(`status IN (${placeholders(filter.statuses.length)})`, ...filter.statuses);
  if (filter.agent) add('agent = ?', filter.agent);
  if (filter.workItemId) add('work_item_id = ?', filter.workItemId);
  if (filter.since) add('created_at >= ?', filter.since);
  if (filter.until) add('created_at < ?', filter.until);
  if (filter.beforeId) add('id < ?', filter.beforeId);
  return { sql: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

export const sql = {
  insertRun: (input: NewRun): Query => ({
    sql: `INSERT INTO runs (id, agent, task_kind, prompt, work_item_id, attempt, status, cwd, worktree, branch, owner_pid, host, created_at)
          VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)`,
    params: [input.id, input.agent, input.taskKind, input.prompt, input.workItemId ?? null, input.attempt ?? 1, input.cwd, input.worktree ?? null, input.branch ?? null, input.ownerPid, input.host, input.createdAt],
  }),
  markRunRunning: (id: RunId, pid: number, startedAt: string): Query => ({
    sql: `UPDATE runs SET status = 'running', pid = ?, started_at = ? WHERE id = ? AND status NOT IN ${TERMINAL}`,
    params: [pid, startedAt, id],
  }),
  finishRun: (id: RunId, input: FinishRun): Query => ({
    sql: `UPDATE runs SET status = ?, ended_at = ?, exit_code = ?, error_kind = ?, error_message = ? WHERE id = ? AND status NOT IN ${TERMINAL}`,
    params: [input.status, input.endedAt, input.exitCode ?? null, input.errorKind ?? null, input.errorMessage ?? null, id],
  }),
  requestRunStop: (id: RunId, at: string): Query => ({ sql: 'UPDATE runs SET stop_requested_at = COALESCE(stop_requested_at, ?) WHERE id = ?', params: [at, id] }),
  getRun: (id: string): Query => ({ sql: 'SELECT * FROM runs WHERE id = ?', params: [id] }),
  /** Ids sort as text; a prefix is the range [prefix, prefix + '~'). */
  runsWithPrefix: (prefix: string): Query => ({ sql: "SELECT * FROM runs WHERE id >= ? AND id < ? || '~' ORDER BY id LIMIT 6", params: [prefix, prefix] }),
  listRuns: (filter: RunFilter): Query => {
    const where = runWhere(filter);
    const limit = filter.limit ?? 50;
    if (filter.orderBy === 'slowest') {
      return {
        sql: `SELECT runs.* FROM runs JOIN (SELECT run_id, SUM(duration_ms) AS total_ms FROM invocations WHERE duration_ms IS NOT NULL GROUP BY run_id) t ON t.run_id = runs.id
              ${where.sql} ORDER BY t.total_ms DESC, runs.id DESC LIMIT ?`,
        params: [...where.params, limit],
      };
    }
    return { sql: `SELECT * FROM runs ${where.sql} ORDER BY id DESC LIMIT ?`, params: [...where.params, limit] };
  },
  countRuns: (filter: RunFilter): Query => {
    const where = runWhere(filter);
    return { sql: `SELECT COUNT(*) AS n FROM runs ${where.sql}`, params: where.params };
  },
  invocationTotals: (runIds: readonly string[]): Query => ({
    sql: `SELECT run_id, session_id, model, input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens, cost_usd, cost_estimated, num_turns, duration_ms
          FROM invocations WHERE run_id IN (${placeholders(runIds.length)}) ORDER BY started_at, id`,
    params: [...runIds],
  }),
  insertInvocation: (input: NewInvocation): Query => ({
    sql: 'INSERT INTO invocations (id, run_id, prompt, system_prompt, model, resume_session_id, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    params: [input.id, input.runId, input.prompt, input.systemPrompt, input.model, input.resumeSessionId, input.startedAt],
  }),
  getInvocation: (id: string): Query => ({ sql: 'SELECT * FROM invocations WHERE id = ?', params: [id] }),
  finishInvocation: (id: string, input: FinishInvocation): Query => ({
    sql: `UPDATE invocations SET status = ?, ended_at = ?, session_id = ?, model = ?, cli_version = ?, duration_ms = ?, duration_api_ms = ?, num_turns = ?,
            input_tokens = ?, output_tokens = ?, cache_creation_input_tokens = ?, cache_read_input_tokens = ?, cost_usd = ?, cost_estimated = ?, cost_note = ?, result_subtype = ?, result_text = ?,
            is_error = ?, terminal_reason = ?, api_error_status = ?, permission_denials = ?, exit_code = ?, signal = ?, stderr_tail = ?
          WHERE id = ?`,
    params: [
      input.status,
      input.endedAt,
      input.sessionId,
      input.model,
      input.cliVersion,
      input.durationMs,
      input.durationApiMs,
      input.numTurns,
      input.inputTokens,
      input.outputTokens,
      input.cacheCreationInputTokens,
      input.cacheReadInputTokens,
      input.costUsd,
      input.costEstimated === true ? 1 : 0,
      input.costNote ?? null,
      input.resultSubtype,
      input.resultText,
      input.isError ? 1 : 0,
      input.terminalReason,
      input.apiErrorStatus,
      JSON.stringify(input.permissionDenials),
      input.exitCode,
      input.signal,
      input.stderrTail,
      id,
    ],
  }),
  listInvocations: (runId: RunId): Query => ({ sql: 'SELECT * FROM invocations WHERE run_id = ? ORDER BY started_at, id', params: [runId] }),
  insertMessage: 'INSERT INTO messages (invocation_id, run_id, seq, at, type, subtype, tool_name, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  messageParams: (record: MessageRecord): Params => [record.invocationId, record.runId, record.seq, record.at, record.type, record.subtype, record.toolName, payloadJsonOf(record)],
  touchRun: 'UPDATE runs SET last_event_at = ? WHERE id = ? AND (last_event_at IS NULL OR last_event_at < ?)',
  messagesOfInvocation: (invocationId: string, afterSeq: number, limit: number): Query => ({
    sql: 'SELECT * FROM messages WHERE invocation_id = ? AND seq > ? ORDER BY seq LIMIT ?',
    params: [invocationId, afterSeq, limit],
  }),
  messagesOfRun: (runId: string, limit: number): Query => ({ sql: 'SELECT * FROM messages WHERE run_id = ? ORDER BY id LIMIT ?', params: [runId, limit] }),
  usage: (query: UsageQuery): Query => {
    const where = runWhere({ since: query.since, until: query.until, agent: query.agent, statuses: query.statuses }, 'r');
    const key = usageKeyExpression(query.by);
    return {
      sql: `SELECT ${key} AS key, COUNT(DISTINCT r.id) AS runs,
              COUNT(DISTINCT CASE WHEN r.status = 'succeeded' THEN r.id END) AS succeeded,
              COUNT(DISTINCT CASE WHEN r.status IN ('failed','timed_out','orphaned') THEN r.id END) AS failed,
              COALESCE(SUM(i.input_tokens), 0) AS input_tokens, COALESCE(SUM(i.output_tokens), 0) AS output_tokens,
              COALESCE(SUM(i.cache_creation_input_tokens), 0) AS cache_creation, COALESCE(SUM(i.cache_read_input_tokens), 0) AS cache_read,
              COALESCE(SUM(i.cost_usd), 0) AS cost, COALESCE(MAX(i.cost_estimated), 0) AS cost_estimated, COALESCE(SUM(i.duration_ms), 0) AS duration
            FROM runs r LEFT JOIN invocations i ON i.run_id = r.id
            ${where.sql}
            GROUP BY ${key} ORDER BY ${key}`,
      params: where.params,
    };
  },
  upsertWorkItem: (input: NewWorkItem): Query => ({
    sql: `INSERT INTO work_items (id, kind, number, title, slug, state, position, severity, body, note, depends_on, created_at, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          ON CONFLICT (id) DO UPDATE SET title = excluded.title, slug = excluded.slug, position = excluded.position, body = excluded.body,
            note = excluded.note, depends_on = excluded.depends_on, severity = excluded.severity, updated_at = excluded.updated_at`,
    params: [input.id, input.kind, input.number, input.title, input.slug, input.state, input.position, input.severity ?? null, input.body ?? null, input.note ?? null, JSON.stringify(input.dependsOn ?? []), input.at, input.at],
  }),
  saveRoadmapRead: (input: RoadmapReadRecord): Query => ({
    sql: `INSERT INTO roadmap_reads (path, branch, tip_sha, read_at, item_count, problems) VALUES (?, ?, ?, ?, ?, ?)
          ON CONFLICT (path) DO UPDATE SET branch = excluded.branch, tip_sha = excluded.tip_sha, read_at = excluded.read_at,
            item_count = excluded.item_count, problems = excluded.problems`,
    params: [input.path, input.branch, input.tipSha, input.readAt, input.itemCount, JSON.stringify(input.problems)],
  }),
  latestRoadmapRead: { sql: 'SELECT * FROM roadmap_reads ORDER BY read_at DESC, path LIMIT 1', params: [] } as Query,
  getWorkItem: (id: WorkItemId): Query => ({ sql: 'SELECT * FROM work_items WHERE id = ?', params: [id] }),
  listWorkItems: (filter: { kind?: 'priority' | 'bug'; states?: readonly string[] }): Query => {
    const clauses: string[] = [];
    const params: Params = [];
    if (filter.kind) {
      clauses.push('kind = ?');
      params.push(filter.kind);
    }
    if (filter.states && filter.states.length > 0) {
      clauses.push(`state IN (${placeholders(filter.states.length)})`);
      params.push(...filter.states);
    }
    return { sql: `SELECT * FROM work_items ${clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : ''} ORDER BY kind DESC, position, created_at`, params };
  },
  /** null when the patch changes nothing. */
  updateWorkItem: (id: WorkItemId, patch: WorkItemPatch): Query | null => {
    const sets: string[] = [];
    const params: Params = [];
    for (const [key, value] of Object.entries(patch)) {
      const column = WORK_ITEM_COLUMNS[key];
      if (!column || value === undefined) continue;
      sets.push(`${column.column} = ?`);
      params.push(column.json ? JSON.stringify(value) : (value as string | number | null));
    }
    return sets.length === 0 ? null : { sql: `UPDATE work_items SET ${sets.join(', ')} WHERE id = ?`, params: [...params, id] };
  },
  transitionWorkItem: (id: WorkItemId, from: string, to: string, at: string): Query => ({
    sql: `UPDATE work_items SET state = ?, updated_at = ?${to === 'blocked' ? '' : ', blocked_reason = NULL'} WHERE id = ? AND state = ?`,
    params: [to, at, id, from],
  }),
  transitionEvent: (id: WorkItemId, from: string, to: string, reason: string, at: string): Query => ({
    sql: "INSERT INTO events (at, kind, work_item_id, message, data) VALUES (?, 'work_item.transitioned', ?, ?, ?)",
    params: [at, id, reason, JSON.stringify({ from, to })],
  }),
  insertEvent: (input: NewAuditEvent): Query => ({
    sql: 'INSERT INTO events (at, kind, run_id, work_item_id, message, data) VALUES (?, ?, ?, ?, ?, ?)',
    params: [input.at, input.kind, input.runId ?? null, input.workItemId ?? null, input.message, JSON.stringify(input.data ?? {})],
  }),
  lastEventId: { sql: 'SELECT COALESCE(MAX(id), 0) AS n FROM events', params: [] } as Query,
  getEvent: (id: number): Query => ({ sql: 'SELECT * FROM events WHERE id = ?', params: [id] }),
  listEvents: (filter: { workItemId?: WorkItemId; runId?: RunId; afterId?: number; limit?: number }): Query => {
    const clauses = ['id > ?'];
    const params: Params = [filter.afterId ?? 0];
    if (filter.workItemId) {
      clauses.push('work_item_id = ?');
      params.push(filter.workItemId);
    }
    if (filter.runId) {
      clauses.push('run_id = ?');
      params.push(filter.runId);
    }
    return { sql: `SELECT * FROM events WHERE ${clauses.join(' AND ')} ORDER BY id LIMIT ?`, params: [...params, filter.limit ?? 1000] };
  },
  /** Audit events of one kind on these runs, oldest first (at most a few hundred ids per query). */
  eventsOfRuns: (kind: string, runIds: readonly RunId[]): Query => ({
    sql: `SELECT * FROM events WHERE kind = ? AND run_id IN (${runIds.map(() => '?').join(', ')}) ORDER BY id`,
    params: [kind, ...runIds],
  }),
};

/** How many run ids one `eventsOfRuns` query takes (SQLite's older builds allow 999 parameters). */
export const RUN_IDS_PER_QUERY = 500;

/** The worker of each run, from its RUN_WORKER_EVENT rows (oldest first: a later one wins). */
export function runWorkersFrom(rows: readonly Row[]): Map<RunId, RunWorker> {
  const workers = new Map<RunId, RunWorker>();
  for (const event of rows.map(auditEventFromRow)) {
    const { workerId, host } = event.data;
    if (event.runId !== null && typeof workerId === 'string' && typeof host === 'string') workers.set(event.runId, { runId: event.runId, workerId, host });
  }
  return workers;
}

export function usageRowFrom(row: Row): UsageRow {
  return {
    key: String(row.key),
    runs: Number(row.runs),
    succeeded: Number(row.succeeded),
    failed: Number(row.failed),
    inputTokens: Number(row.input_tokens),
    outputTokens: Number(row.output_tokens),
    cacheCreationInputTokens: Number(row.cache_creation),
    cacheReadInputTokens: Number(row.cache_read),
    costUsd: Number(row.cost),
    costEstimated: Number(row.cost_estimated) === 1,
    totalDurationMs: Number(row.duration),
  };
}

/** The latest event time of each run in a batch of messages (to move runs.last_event_at forward). */
export function latestEventByRun(records: readonly MessageRecord[]): Map<string, string> {
  const latest = new Map<string, string>();
  for (const record of records) {
    const previous = latest.get(record.runId);
    if (!previous || previous < record.at) latest.set(record.runId, record.at);
  }
  return latest;
}
