import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { InvocationId, MessageRecord, RunId, WorkItemId } from '../events/index.js';
import { StoreError } from '../lib/errors.js';
import {
  auditEventFromRow,
  invocationFromRow,
  messageFromRow,
  runFromRow,
  summaryOf,
  totalsFromInvocationRows,
  usageKeyExpression,
  workItemFromRow,
  WORK_ITEM_COLUMNS,
  type Row,
} from './rows.js';
import { MIGRATIONS } from './schema.js';
import type {
  AuditEventRecord,
  FinishInvocation,
  FinishRun,
  InvocationRecord,
  MessageFilter,
  NewAuditEvent,
  NewInvocation,
  NewRun,
  NewWorkItem,
  RunFilter,
  RunRecord,
  RunSummary,
  Store,
  UsageQuery,
  UsageRow,
  WorkItemPatch,
  WorkItemRecord,
} from './store.js';

type Params = (string | number | null)[];

/** Builds the WHERE clause of a run filter (shared by list and count). */
function runWhere(filter: RunFilter): { sql: string; params: Params } {
  const clauses: string[] = [];
  const params: Params = [];
  if (filter.statuses && filter.statuses.length > 0) {
    clauses.push(`status IN (${filter.statuses.map(() => '?').join(',')})`);
    params.push(...filter.statuses);
  }
  if (filter.agent) {
    clauses.push('agent = ?');
    params.push(filter.agent);
  }
  if (filter.workItemId) {
    clauses.push('work_item_id = ?');
    params.push(filter.workItemId);
  }
  if (filter.since) {
    clauses.push('created_at >= ?');
    params.push(filter.since);
  }
  if (filter.until) {
    clauses.push('created_at < ?');
    params.push(filter.until);
  }
  if (filter.beforeId) {
    clauses.push('id < ?');
    params.push(filter.beforeId);
  }
  return { sql: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

const TERMINAL = "('succeeded','failed','timed_out','stopped','orphaned')";

/**
 * The SQLite store (better-sqlite3): WAL, a busy timeout so concurrent CLI processes wait instead of failing,
 * migrations at open. better-sqlite3 is synchronous; the async interface lets PostgreSQL share the callers.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();

  private constructor(
    readonly location: string,
    db: Database.Database,
  ) {
    this.#db = db;
  }

  static open(path: string): SqliteStore {
    let db: Database.Database;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = new Database(path);
    } catch (error) {
      throw new StoreError(`cannot open the database ${path}: ${(error as Error).message}`, {
        cause: error,
        hint: 'Check that the directory is writable, or pass --db with another path.',
      });
    }
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    const store = new SqliteStore(path, db);
    store.#migrate();
    return store;
  }

  #migrate(): void {
    this.#db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const applied = new Set((this.#db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((row) => row.version));
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      this.#db.transaction(() => {
        this.#db.exec(migration.sqlite);
        this.#db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, new Date().toISOString());
      }).immediate();
    }
  }

  /** Prepared statements are cached by their SQL text. */
  #statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #all(sql: string, params: Params = []): Row[] {
    return this.#statement(sql).all(...params) as Row[];
  }

  #get(sql: string, params: Params = []): Row | undefined {
    return this.#statement(sql).get(...params) as Row | undefined;
  }

  #run(sql: string, params: Params = []): Database.RunResult {
    return this.#statement(sql).run(...params);
  }

  async createRun(input: NewRun): Promise<RunRecord> {
    this.#run(
      `INSERT INTO runs (id, agent, task_kind, prompt, work_item_id, attempt, status, cwd, worktree, branch, owner_pid, host, created_at)
       VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)`,
      [input.id, input.agent, input.taskKind, input.prompt, input.workItemId ?? null, input.attempt ?? 1, input.cwd, input.worktree ?? null, input.branch ?? null, input.ownerPid, input.host, input.createdAt],
    );
    const run = await this.getRun(input.id);
    if (!run) throw new StoreError(`run ${input.id} was not saved`);
    return run;
  }

  async markRunRunning(id: RunId, input: { pid: number; startedAt: string }): Promise<void> {
    this.#run(`UPDATE runs SET status = 'running', pid = ?, started_at = ? WHERE id = ? AND status NOT IN ${TERMINAL}`, [input.pid, input.startedAt, id]);
  }

  async finishRun(id: RunId, input: FinishRun): Promise<void> {
    this.#run(`UPDATE runs SET status = ?, ended_at = ?, exit_code = ?, error_kind = ?, error_message = ? WHERE id = ? AND status NOT IN ${TERMINAL}`, [
      input.status,
      input.endedAt,
      input.exitCode ?? null,
      input.errorKind ?? null,
      input.errorMessage ?? null,
      id,
    ]);
  }

  async requestRunStop(id: RunId, at: string): Promise<void> {
    this.#run('UPDATE runs SET stop_requested_at = COALESCE(stop_requested_at, ?) WHERE id = ?', [at, id]);
  }

  async getRun(id: RunId): Promise<RunRecord | null> {
    const row = this.#get('SELECT * FROM runs WHERE id = ?', [id]);
    return row ? runFromRow(row) : null;
  }

  async findRun(idOrPrefix: string): Promise<RunRecord | null> {
    const ref = idOrPrefix.trim().toLowerCase();
    if (ref.length === 0) return null;
    const exact = await this.getRun(ref as RunId);
    if (exact) return exact;
    if (ref.length < 4) return null;
    const rows = this.#all("SELECT * FROM runs WHERE id >= ? AND id < ? || '~' ORDER BY id LIMIT 6", [ref, ref]);
    const matches = rows.filter((row) => String(row.id).startsWith(ref));
    if (matches.length > 1) {
      throw new StoreError(`"${idOrPrefix}" matches ${matches.length > 5 ? 'more than 5' : matches.length} runs: ${matches.slice(0, 5).map((row) => String(row.id)).join(', ')}`, {
        hint: 'Give more characters of the run id.',
      });
    }
    return matches[0] ? runFromRow(matches[0]) : null;
  }

  async listRuns(filter: RunFilter = {}): Promise<RunSummary[]> {
    const where = runWhere(filter);
    const runs = (
      filter.orderBy === 'slowest'
        ? this.#all(
            `SELECT runs.* FROM runs JOIN (SELECT run_id, SUM(duration_ms) AS total_ms FROM invocations WHERE duration_ms IS NOT NULL GROUP BY run_id) t ON t.run_id = runs.id
             ${where.sql} ORDER BY t.total_ms DESC, runs.id DESC LIMIT ?`,
            [...where.params, filter.limit ?? 50],
          )
        : this.#all(`SELECT * FROM runs ${where.sql} ORDER BY id DESC LIMIT ?`, [...where.params, filter.limit ?? 50])
    ).map(runFromRow);
    if (runs.length === 0) return [];
    const invocationRows = this.#all(
      `SELECT run_id, session_id, model, input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens, cost_usd, num_turns, duration_ms
       FROM invocations WHERE run_id IN (${runs.map(() => '?').join(',')}) ORDER BY started_at, id`,
      runs.map((run) => run.id),
    );
    const totals = totalsFromInvocationRows(invocationRows);
    return runs.map((run) => summaryOf(run, totals.get(run.id)));
  }

  async countRuns(filter: RunFilter = {}): Promise<number> {
    const where = runWhere(filter);
    return Number(this.#get(`SELECT COUNT(*) AS n FROM runs ${where.sql}`, where.params)?.n ?? 0);
  }

  async createInvocation(input: NewInvocation): Promise<InvocationRecord> {
    this.#run('INSERT INTO invocations (id, run_id, prompt, system_prompt, model, resume_session_id, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
      input.id,
      input.runId,
      input.prompt,
      input.systemPrompt,
      input.model,
      input.resumeSessionId,
      input.startedAt,
    ]);
    const row = this.#get('SELECT * FROM invocations WHERE id = ?', [input.id]);
    if (!row) throw new StoreError(`invocation ${input.id} was not saved`);
    return invocationFromRow(row);
  }

  async finishInvocation(id: InvocationId, input: FinishInvocation): Promise<void> {
    this.#run(
      `UPDATE invocations SET status = ?, ended_at = ?, session_id = ?, model = ?, cli_version = ?, duration_ms = ?, duration_api_ms = ?, num_turns = ?,
         input_tokens = ?, output_tokens = ?, cache_creation_input_tokens = ?, cache_read_input_tokens = ?, cost_usd = ?, result_subtype = ?, result_text = ?,
         is_error = ?, terminal_reason = ?, api_error_status = ?, permission_denials = ?, exit_code = ?, signal = ?, stderr_tail = ?
       WHERE id = ?`,
      [
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
    );
  }

  async listInvocations(runId: RunId): Promise<InvocationRecord[]> {
    return this.#all('SELECT * FROM invocations WHERE run_id = ? ORDER BY started_at, id', [runId]).map(invocationFromRow);
  }

  async appendMessages(records: readonly MessageRecord[]): Promise<void> {
    if (records.length === 0) return;
    const insert = this.#statement('INSERT INTO messages (invocation_id, run_id, seq, at, type, subtype, tool_name, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const touch = this.#statement('UPDATE runs SET last_event_at = ? WHERE id = ? AND (last_event_at IS NULL OR last_event_at < ?)');
    this.#db.transaction(() => {
      const latest = new Map<string, string>();
      for (const record of records) {
        insert.run(record.invocationId, record.runId, record.seq, record.at, record.type, record.subtype, record.toolName, JSON.stringify(record.payload));
        const previous = latest.get(record.runId);
        if (!previous || previous < record.at) latest.set(record.runId, record.at);
      }
      for (const [runId, at] of latest) touch.run(at, runId, at);
    })();
  }

  async listMessages(filter: MessageFilter): Promise<MessageRecord[]> {
    const limit = filter.limit ?? 1000;
    if (filter.invocationId) {
      return this.#all('SELECT * FROM messages WHERE invocation_id = ? AND seq > ? ORDER BY seq LIMIT ?', [filter.invocationId, filter.afterSeq ?? 0, limit]).map(messageFromRow);
    }
    if (filter.runId) return this.#all('SELECT * FROM messages WHERE run_id = ? ORDER BY id LIMIT ?', [filter.runId, limit]).map(messageFromRow);
    throw new StoreError('listMessages needs a runId or an invocationId');
  }

  async usage(query: UsageQuery): Promise<UsageRow[]> {
    const key = usageKeyExpression(query.by);
    const clauses: string[] = [];
    const params: Params = [];
    if (query.since) {
      clauses.push('r.created_at >= ?');
      params.push(query.since);
    }
    if (query.until) {
      clauses.push('r.created_at < ?');
      params.push(query.until);
    }
    if (query.agent) {
      clauses.push('r.agent = ?');
      params.push(query.agent);
    }
    if (query.statuses && query.statuses.length > 0) {
      clauses.push(`r.status IN (${query.statuses.map(() => '?').join(',')})`);
      params.push(...query.statuses);
    }
    const rows = this.#all(
      `SELECT ${key} AS key, COUNT(DISTINCT r.id) AS runs,
         COUNT(DISTINCT CASE WHEN r.status = 'succeeded' THEN r.id END) AS succeeded,
         COUNT(DISTINCT CASE WHEN r.status IN ('failed','timed_out','orphaned') THEN r.id END) AS failed,
         COALESCE(SUM(i.input_tokens), 0) AS input_tokens, COALESCE(SUM(i.output_tokens), 0) AS output_tokens,
         COALESCE(SUM(i.cache_creation_input_tokens), 0) AS cache_creation, COALESCE(SUM(i.cache_read_input_tokens), 0) AS cache_read,
         COALESCE(SUM(i.cost_usd), 0) AS cost, COALESCE(SUM(i.duration_ms), 0) AS duration
       FROM runs r LEFT JOIN invocations i ON i.run_id = r.id
       ${clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : ''}
       GROUP BY key ORDER BY key`,
      params,
    );
    return rows.map((row) => ({
      key: String(row.key),
      runs: Number(row.runs),
      succeeded: Number(row.succeeded),
      failed: Number(row.failed),
      inputTokens: Number(row.input_tokens),
      outputTokens: Number(row.output_tokens),
      cacheCreationInputTokens: Number(row.cache_creation),
      cacheReadInputTokens: Number(row.cache_read),
      costUsd: Number(row.cost),
      totalDurationMs: Number(row.duration),
    }));
  }

  async upsertWorkItem(input: NewWorkItem): Promise<WorkItemRecord> {
    this.#run(
      `INSERT INTO work_items (id, kind, number, title, slug, state, position, severity, body, depends_on, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET title = excluded.title, slug = excluded.slug, position = excluded.position, body = excluded.body,
         depends_on = excluded.depends_on, severity = excluded.severity, updated_at = excluded.updated_at`,
      [input.id, input.kind, input.number, input.title, input.slug, input.state, input.position, input.severity ?? null, input.body ?? null, JSON.stringify(input.dependsOn ?? []), input.at, input.at],
    );
    const item = await this.getWorkItem(input.id);
    if (!item) throw new StoreError(`work item ${input.id} was not saved`);
    return item;
  }

  async getWorkItem(id: WorkItemId): Promise<WorkItemRecord | null> {
    const row = this.#get('SELECT * FROM work_items WHERE id = ?', [id]);
    return row ? workItemFromRow(row) : null;
  }

  async listWorkItems(filter: { kind?: 'priority' | 'bug'; states?: readonly string[] } = {}): Promise<WorkItemRecord[]> {
    const clauses: string[] = [];
    const params: Params = [];
    if (filter.kind) {
      clauses.push('kind = ?');
      params.push(filter.kind);
    }
    if (filter.states && filter.states.length > 0) {
      clauses.push(`state IN (${filter.states.map(() => '?').join(',')})`);
      params.push(...filter.states);
    }
    return this.#all(`SELECT * FROM work_items ${clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : ''} ORDER BY kind DESC, position, created_at`, params).map(workItemFromRow);
  }

  async updateWorkItem(id: WorkItemId, patch: WorkItemPatch): Promise<void> {
    const sets: string[] = [];
    const params: Params = [];
    for (const [key, value] of Object.entries(patch)) {
      const column = WORK_ITEM_COLUMNS[key];
      if (!column || value === undefined) continue;
      sets.push(`${column.column} = ?`);
      params.push(column.json ? JSON.stringify(value) : (value as string | number | null));
    }
    if (sets.length === 0) return;
    this.#run(`UPDATE work_items SET ${sets.join(', ')} WHERE id = ?`, [...params, id]);
  }

  async transitionWorkItem(id: WorkItemId, from: string, to: string, reason: string, at: string): Promise<boolean> {
    return this.#db.transaction(() => {
      const result = this.#run(`UPDATE work_items SET state = ?, updated_at = ?${to === 'blocked' ? '' : ', blocked_reason = NULL'} WHERE id = ? AND state = ?`, [to, at, id, from]);
      if (result.changes !== 1) return false;
      this.#run("INSERT INTO events (at, kind, work_item_id, message, data) VALUES (?, 'work_item.transitioned', ?, ?, ?)", [at, id, reason, JSON.stringify({ from, to })]);
      return true;
    })();
  }

  async appendEvent(input: NewAuditEvent): Promise<AuditEventRecord> {
    const result = this.#run('INSERT INTO events (at, kind, run_id, work_item_id, message, data) VALUES (?, ?, ?, ?, ?, ?)', [
      input.at,
      input.kind,
      input.runId ?? null,
      input.workItemId ?? null,
      input.message,
      JSON.stringify(input.data ?? {}),
    ]);
    const row = this.#get('SELECT * FROM events WHERE id = ?', [Number(result.lastInsertRowid)]);
    if (!row) throw new StoreError('event was not saved');
    return auditEventFromRow(row);
  }

  async listEvents(filter: { workItemId?: WorkItemId; runId?: RunId; afterId?: number; limit?: number } = {}): Promise<AuditEventRecord[]> {
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
    return this.#all(`SELECT * FROM events WHERE ${clauses.join(' AND ')} ORDER BY id LIMIT ?`, [...params, filter.limit ?? 1000]).map(auditEventFromRow);
  }

  /** For benchmarks and bulk tools: runs a function in one transaction with the raw handle. */
  withRawDatabase<T>(fn: (db: Database.Database) => T): T {
    return this.#db.transaction(() => fn(this.#db))();
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
