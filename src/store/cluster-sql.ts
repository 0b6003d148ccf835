import type { RunId, WorkItemId } from '../events/index.js';
import type { CoordinatorRecord, NewRepository, NewWorker, NewWorkerJob, RepositoryRecord, WorkerJobRecord, WorkerRecord, WorkerState } from './cluster.js';
import type { Row } from './rows.js';
import type { Query } from './sql.js';

/**
 * The database's clock as UTC ISO-8601 text with milliseconds (the format every stored time has), and the same
 * clock minus `?` milliseconds. The only SQL of this module that differs between the two databases.
 */
export interface Clock {
  now: string;
  nowMinusMs: string;
}

export const SQLITE_CLOCK: Clock = {
  now: "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
  nowMinusMs: "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (? / 1000.0) || ' seconds')",
};

const PG_ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
export const POSTGRES_CLOCK: Clock = {
  now: `to_char(now() AT TIME ZONE 'UTC', ${PG_ISO})`,
  nowMinusMs: `to_char((now() - (?::double precision) * interval '1 millisecond') AT TIME ZONE 'UTC', ${PG_ISO})`,
};

const LIVE = "('active','draining')";
const placeholders = (count: number) => Array.from({ length: count }, () => '?').join(',');

/** Which states a worker may move to `to` from: never back from stopped or lost (a worker that comes back registers anew). */
const ALLOWED_FROM: Record<'draining' | 'stopped', string> = { draining: "('active')", stopped: LIVE };

export const clusterSql = (clock: Clock) => ({
  now: { sql: `SELECT ${clock.now} AS now`, params: [] } as Query,
  insertRepository: (input: NewRepository): Query => ({
    sql: `INSERT INTO repositories (id, key, remote_url, created_at) VALUES (?, ?, ?, ${clock.now}) ON CONFLICT (key) DO NOTHING`,
    params: [input.id, input.key, input.remoteUrl],
  }),
  repositoryByKey: (key: string): Query => ({ sql: 'SELECT * FROM repositories WHERE key = ?', params: [key] }),
  upsertCoordinator: (input: Omit<CoordinatorRecord, 'startedAt'>): Query => ({
    sql: `INSERT INTO coordinators (repository_id, host, pid, started_at, connection_pid, version, schema_version) VALUES (?, ?, ?, ${clock.now}, ?, ?, ?)
          ON CONFLICT (repository_id) DO UPDATE SET host = excluded.host, pid = excluded.pid, started_at = excluded.started_at, connection_pid = excluded.connection_pid,
            version = excluded.version, schema_version = excluded.schema_version`,
    params: [input.repositoryId, input.host, input.pid, input.connectionPid, input.version, input.schemaVersion],
  }),
  getCoordinator: (repositoryId: string): Query => ({ sql: 'SELECT * FROM coordinators WHERE repository_id = ?', params: [repositoryId] }),
  deleteCoordinator: (repositoryId: string, host: string, pid: number): Query => ({
    sql: 'DELETE FROM coordinators WHERE repository_id = ? AND host = ? AND pid = ?',
    params: [repositoryId, host, pid],
  }),
  insertWorker: (input: NewWorker): Query => ({
    sql: `INSERT INTO workers (id, host, pid, slots, version, schema_version, started_at, last_heartbeat_at, state, state_changed_at)
          VALUES (?, ?, ?, ?, ?, ?, ${clock.now}, ${clock.now}, 'active', ${clock.now})`,
    params: [input.id, input.host, input.pid, input.slots, input.version, input.schemaVersion],
  }),
  heartbeat: (id: string): Query => ({ sql: `UPDATE workers SET last_heartbeat_at = ${clock.now} WHERE id = ? AND state IN ${LIVE}`, params: [id] }),
  workerState: (id: string): Query => ({ sql: 'SELECT state FROM workers WHERE id = ?', params: [id] }),
  setWorkerState: (id: string, to: 'draining' | 'stopped'): Query => ({
    sql: `UPDATE workers SET state = ?, state_changed_at = ${clock.now} WHERE id = ? AND state IN ${ALLOWED_FROM[to]}`,
    params: [to, id],
  }),
  insertJob: (input: NewWorkerJob): Query => ({
    sql: `INSERT INTO worker_jobs (worker_id, job_id, run_id, work_item_id, started_at) VALUES (?, ?, ?, ?, ${clock.now})
          ON CONFLICT (worker_id, job_id) DO UPDATE SET run_id = excluded.run_id, work_item_id = excluded.work_item_id`,
    params: [input.workerId, input.jobId, input.runId ?? null, input.workItemId ?? null],
  }),
  deleteJob: (workerId: string, jobId: string): Query => ({ sql: 'DELETE FROM worker_jobs WHERE worker_id = ? AND job_id = ?', params: [workerId, jobId] }),
  getWorker: (id: string): Query => ({ sql: 'SELECT * FROM workers WHERE id = ?', params: [id] }),
  listWorkers: (states: readonly WorkerState[] | undefined): Query =>
    states && states.length > 0
      ? { sql: `SELECT * FROM workers WHERE state IN (${placeholders(states.length)}) ORDER BY started_at, id`, params: [...states] }
      : { sql: 'SELECT * FROM workers ORDER BY started_at, id', params: [] },
  jobsOf: (workerIds: readonly string[]): Query => ({
    sql: `SELECT * FROM worker_jobs WHERE worker_id IN (${placeholders(workerIds.length)}) ORDER BY started_at, job_id`,
    params: [...workerIds],
  }),
  /**
   * One statement, so a heartbeat that commits first wins (PostgreSQL re-checks the WHERE on the row it waited for)
   * and two coordinators' sweeps never both return one worker.
   */
  markLost: (leaseMs: number): Query => ({
    sql: `UPDATE workers SET state = 'lost', state_changed_at = ${clock.now}
          WHERE state IN ${LIVE} AND last_heartbeat_at < ${clock.nowMinusMs} RETURNING id`,
    params: [leaseMs],
  }),
});

const str = (value: unknown): string => (typeof value === 'string' ? value : String(value));
const strOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : str(value));

export function repositoryFromRow(row: Row): RepositoryRecord {
  return { id: str(row.id), key: str(row.key), remoteUrl: strOrNull(row.remote_url), createdAt: str(row.created_at) };
}

export function coordinatorFromRow(row: Row): CoordinatorRecord {
  return {
    repositoryId: str(row.repository_id),
    host: str(row.host),
    pid: Number(row.pid),
    startedAt: str(row.started_at),
    connectionPid: row.connection_pid === null || row.connection_pid === undefined ? null : Number(row.connection_pid),
    version: strOrNull(row.version),
    schemaVersion: Number(row.schema_version),
  };
}

export function workerJobFromRow(row: Row): WorkerJobRecord {
  return {
    workerId: str(row.worker_id),
    jobId: str(row.job_id),
    runId: strOrNull(row.run_id) as RunId | null,
    workItemId: strOrNull(row.work_item_id) as WorkItemId | null,
    startedAt: str(row.started_at),
  };
}

/** Worker rows with their job rows (any order) into records, in the workers' order. */
export function workersFromRows(workerRows: readonly Row[], jobRows: readonly Row[]): WorkerRecord[] {
  const jobs = new Map<string, WorkerJobRecord[]>();
  for (const row of jobRows) {
    const job = workerJobFromRow(row);
    jobs.set(job.workerId, [...(jobs.get(job.workerId) ?? []), job]);
  }
  return workerRows.map((row) => ({
    id: str(row.id),
    host: str(row.host),
    pid: Number(row.pid),
    slots: Number(row.slots),
    version: str(row.version),
    schemaVersion: Number(row.schema_version),
    startedAt: str(row.started_at),
    lastHeartbeatAt: str(row.last_heartbeat_at),
    state: str(row.state) as WorkerState,
    stateChangedAt: str(row.state_changed_at),
    jobs: jobs.get(str(row.id)) ?? [],
  }));
}
