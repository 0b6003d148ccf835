import { OrchestratorError, StoppedError } from '../lib/errors.js';
import type { SessionJob as QueuedJob, SessionJobHandler } from '../queue/index.js';
import { TERMINAL_RUN_STATUSES, type RunId, type RunStatus } from '../events/index.js';
import { newSortableId } from '../lib/ids.js';
import { nowIso } from '../lib/time.js';
import { RUN_WORKER_EVENT, SCHEMA_VERSION, type Store } from '../store/index.js';
import type { InProcessSessionExecutor, SessionJob } from './session-executor.js';
import { priceTable } from '../usage/index.js';
import { closeOpenInvocations } from './open-invocations.js';
import { parseRemoteSessionPayload, runRemoteSession, type RemoteSessionPayload } from './worker-session.js';

/** A queued job from a coordinator of another version or database schema: this worker must not run it. */
export class JobIncompatibleError extends OrchestratorError {
  constructor(payload: Pick<RemoteSessionPayload, 'coordinatorVersion' | 'schemaVersion' | 'workItemId' | 'step'>, worker: { version: string; schemaVersion: number }) {
    const what = payload.coordinatorVersion !== worker.version ? `orchestrator ${payload.coordinatorVersion}, this worker ${worker.version}` : `database schema ${payload.schemaVersion}, this worker ${worker.schemaVersion}`;
    super('ORCH_WORKER_INCOMPATIBLE', `refused the job for ${payload.workItemId} (${payload.step}): its coordinator runs ${what}; this worker takes no more jobs`, {
      hint: 'Install the same orchestrator version on every machine (npm install -g roadmap-orchestrator@<version>), then start the worker again. The job went back to the queue for another worker.',
      data: { coordinatorVersion: payload.coordinatorVersion, schemaVersion: payload.schemaVersion, worker: { ...worker } },
    });
  }
}

/** What the worker says about each job (one line at its start, one at its end). */
export type WorkerJobEvent =
  | { kind: 'started'; jobId: string; runId: string; workItemId: string; role: string; attempts: number }
  | { kind: 'finished'; jobId: string; runId: string; workItemId: string; role: string; status: RunStatus; pushed: string }
  | { kind: 'handed_back'; jobId: string; runId: string; workItemId: string; role: string; reason: string }
  | { kind: 'refused'; jobId: string; error: JobIncompatibleError };

export interface WorkerJobHandlerOptions {
  store: Store;
  executor: InProcessSessionExecutor;
  workerId: string;
  /** This worker's host name, as registered (recorded on each run it takes). */
  host: string;
  /** This worker's package version (compared with the job's coordinatorVersion). */
  version: string;
  cacheDir: string;
  /** Aborts every running session at once (a second signal, or the coordinator declared this worker lost). */
  stopSessions: AbortSignal;
  /** Called once when a job is refused: the worker must stop taking jobs (drain). */
  onIncompatible: (error: JobIncompatibleError) => void;
  onEvent?: (event: WorkerJobEvent) => void;
}

/** The note a session restarted on another worker gets after its prompt. */
export const RESTARTED_NOTE =
  '(This session was restarted: the worker that ran it before was lost. The branch holds what that worker pushed; check what is already there and continue from it.)';

/** The session as this attempt runs it: a job started again after a lost worker is told so. */
export function sessionForAttempt(session: SessionJob, attempts: number): SessionJob {
  return attempts > 1 ? { ...session, prompt: `${session.prompt}\n\n${RESTARTED_NOTE}` } : session;
}

/**
 * The queue handler of `orchestrator worker`: checks the job's versions, records the job against this worker, runs
 * the session in this worker's clone of the remote (runRemoteSession) and clears the job. A session that failed or
 * was stopped is a completed job (the coordinator judges the run from the store); the handler throws, so the queue
 * retries the job, only when the infrastructure failed (git, the database), when the job was refused, or when the
 * worker stopped the session itself (drain grace over, second signal, lost): then the job goes back to the queue.
 */
export function workerJobHandler(options: WorkerJobHandlerOptions): SessionJobHandler {
  const worker = { version: options.version, schemaVersion: SCHEMA_VERSION };
  return async (job: QueuedJob, queueSignal: AbortSignal) => {
    const payload = parseRemoteSessionPayload(job.payload);
    if (payload.coordinatorVersion !== worker.version || payload.schemaVersion !== worker.schemaVersion) {
      const error = new JobIncompatibleError(payload, worker);
      options.onEvent?.({ kind: 'refused', jobId: job.id, error });
      options.onIncompatible(error);
      throw error;
    }
    // The first start records the run under the id the coordinator chose; a restart (after a lost worker, or a
    // session handed back by a drain) is a run of its own: the earlier one stays as it ended (orphaned, stopped).
    const remote = job.attempts > 1 ? { ...payload.remoteSession, runId: newSortableId() as RunId } : payload.remoteSession;
    const base = { jobId: job.id, runId: remote.runId, workItemId: payload.workItemId, role: payload.role };
    await options.store.startWorkerJob({ workerId: options.workerId, jobId: job.id, runId: remote.runId, workItemId: remote.session.workItemId });
    // The run's worker, for good: the job row above goes when the job ends; this event stays (`ps`, `show`).
    await options.store.appendEvent({
      at: nowIso(),
      kind: RUN_WORKER_EVENT,
      runId: remote.runId,
      workItemId: remote.session.workItemId,
      message: `runs on worker ${options.workerId} (${options.host}), job ${job.id}${job.attempts > 1 ? `, start ${job.attempts}` : ''}`,
      data: { workerId: options.workerId, host: options.host, jobId: job.id, attempts: job.attempts },
    });
    options.onEvent?.({ kind: 'started', ...base, attempts: job.attempts });
    const signal = AbortSignal.any([queueSignal, options.stopSessions]);
    try {
      const outcome = await runRemoteSession({ ...remote, session: sessionForAttempt(remote.session, job.attempts) }, { executor: options.executor, cacheDir: options.cacheDir, signal });
      if (signal.aborted) {
        // This worker stopped the session (drain grace over, a second signal, lost): another worker continues it.
        throw signal.reason instanceof Error ? signal.reason : new StoppedError('the worker stopped the session; the job goes back to the queue');
      }
      options.onEvent?.({ kind: 'finished', ...base, status: outcome.run.status, pushed: outcome.pushed.kind });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      options.onEvent?.({ kind: 'handed_back', ...base, reason });
      // The run this attempt recorded ends here (another attempt gets a run of its own); when the database is out
      // of reach, the coordinator's lost-worker sweep closes it instead.
      await closeHandedBackRun(options.store, remote.runId, `handed back by worker ${options.workerId}: ${reason}; the job went back to the queue`).catch(() => undefined);
      throw error;
    } finally {
      await options.store.finishWorkerJob(options.workerId, job.id).catch(() => undefined);
    }
  };
}

/** A run left queued or running by an attempt that was handed back: orphaned, its open sessions closed with an estimated cost. */
async function closeHandedBackRun(store: Store, runId: RunId, errorMessage: string): Promise<void> {
  const run = await store.getRun(runId);
  if (run === null || TERMINAL_RUN_STATUSES.includes(run.status)) return;
  await closeOpenInvocations(store, run, priceTable());
  await store.finishRun(runId, { status: 'orphaned', endedAt: nowIso(), errorKind: 'orphaned', errorMessage });
}
