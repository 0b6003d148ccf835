import type { RunId, WorkItemId } from '../events/index.js';

/**
 * What several machines on one database share besides runs: the repository's identity (what the coordinator lock is
 * keyed on), who holds the coordinator lock, and the workers with their heartbeats and jobs. Every time here is the
 * database's clock (UTC ISO-8601 text), so machines whose clocks disagree never declare each other lost.
 */

/** active: takes jobs; draining: finishes its jobs, takes no new ones; stopped: exited cleanly; lost: its heartbeat stopped. */
export const WorkerState = { active: 'active', draining: 'draining', stopped: 'stopped', lost: 'lost' } as const;
export type WorkerState = (typeof WorkerState)[keyof typeof WorkerState];

export interface RepositoryRecord {
  /** Generated once; the coordinator lock is keyed on it. */
  id: string;
  /** `remote:<normalized remote URL>` or `local:<id kept in the clone's .orchestrator/>`. */
  key: string;
  /** The normalized remote URL (never credentials), or null without a remote. */
  remoteUrl: string | null;
  createdAt: string;
}

export interface NewRepository {
  /** The id to use if the key is new (an existing row keeps its id). */
  id: string;
  key: string;
  remoteUrl: string | null;
}

/** Who holds a repository's coordinator lock. */
export interface CoordinatorRecord {
  repositoryId: string;
  host: string;
  pid: number;
  startedAt: string;
  /** The PostgreSQL backend pid of the lock's connection (pg_stat_activity.pid), when there is one. */
  connectionPid: number | null;
  /** The coordinator's package version (workers refuse jobs from another one), when it said. */
  version: string | null;
  /** The database schema version the coordinator was built for. */
  schemaVersion: number;
}

export interface NewWorker {
  id: string;
  host: string;
  pid: number;
  slots: number;
  /** The orchestrator package version the worker runs. */
  version: string;
  /** The database schema version the worker was built for. */
  schemaVersion: number;
}

export interface WorkerJobRecord {
  workerId: string;
  /** The queue's job id. */
  jobId: string;
  runId: RunId | null;
  workItemId: WorkItemId | null;
  startedAt: string;
}

export interface NewWorkerJob {
  workerId: string;
  jobId: string;
  runId?: RunId | null;
  workItemId?: WorkItemId | null;
}

export interface WorkerRecord extends NewWorker {
  startedAt: string;
  lastHeartbeatAt: string;
  state: WorkerState;
  stateChangedAt: string;
  /** The jobs the worker is running (or was running when it was lost), oldest first. */
  jobs: WorkerJobRecord[];
}
