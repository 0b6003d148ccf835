import { setTimeout as sleep } from 'node:timers/promises';
import type { RunId, WorkItemId } from '../events/index.js';
import { isTerminalRunStatus } from '../events/index.js';
import { OrchestratorError, errorMessage } from '../lib/errors.js';
import { newSortableId } from '../lib/ids.js';
import { sessionJobKey, type JobState, type QueueClient } from '../queue/index.js';
import type { RunSummary, Store } from '../store/index.js';
import type { RemoteIntegration } from './remote-integration.js';
import type { ExecutedSession, SessionExecutor, SessionJob } from './session-executor.js';
import { WORKTREE_PLACEHOLDER, remoteSessionPayload, remoteSessionStep, scratchBranchName } from './worker-session.js';

/** A queued session whose job used up its starts (workers lost, or failing before they could record a run). */
export class SessionRestartsExhaustedError extends OrchestratorError {
  constructor(job: SessionJob, state: JobState) {
    super('ORCH_SESSION_RESTARTS_EXHAUSTED', `the ${job.role} session of ${job.workItemId} was started ${state.attempts} time(s) without finishing (workers.maxRestarts ${state.maxAttempts}); last: ${state.lastError ?? 'no error recorded'}`, {
      hint: 'Look at `orchestrator workers` and the workers’ output for why they stop (a crash loop, a lost database, git access); fix it, then `orchestrator unblock` the item.',
      data: { workItemId: job.workItemId, role: job.role, attempts: state.attempts },
    });
  }
}

export interface QueueExecutorOptions {
  store: Store;
  queue: QueueClient;
  integration: RemoteIntegration;
  /** The remote's fetch URL for workers (credentials stripped: each worker has its own access). */
  remoteUrl: string;
  integrationBranch: () => string;
  versions: { coordinatorVersion: string; schemaVersion: number };
  /** Starts of one job before it fails for good (workers.maxRestarts). */
  maxRestarts: number;
  /** How often the job is looked at besides the notifications (a safety net; default 2 s). */
  checkIntervalMs?: number;
  /** Said when something worth a person's look happened that does not fail the session (a branch left on the remote). */
  notice?: (level: 'warn', message: string) => void;
}

/**
 * Runs each session as a job in the queue, for a worker on any machine: enqueued under the key of its step (one
 * job per item and step; a coordinator that restarts finds its job again instead of adding one), followed until the
 * job is done, then the item's worktree here is brought to the branch as the worker pushed it. A session a worker
 * was running when it was lost is started again by the queue on another worker (`maxRestarts` starts in all).
 * On shutdown the wait ends and the job goes on: the next coordinator takes it up.
 *
 * A scratch session (`scratchBase`: the project manager's) works on a branch of its own, made by the worker at
 * that commit (published on the remote's integration branch first); after the job its change is taken into `cwd`
 * uncommitted, for the caller's checks, and the branch is deleted.
 */
export class QueueSessionExecutor implements SessionExecutor {
  constructor(private readonly options: QueueExecutorOptions) {}

  /** The attempt of a job of `role` for the item still queued or running (after a coordinator restart), if any. */
  async pendingAttempt(workItemId: WorkItemId, role: string): Promise<number | null> {
    const jobs = await this.options.queue.jobsWithKeyPrefix(sessionJobKey(workItemId, `${role}#`));
    const pending = jobs.filter((job) => job.state === 'waiting' || job.state === 'running');
    const attempts = pending.map((job) => Number(/#(\d+)$/.exec(job.key ?? '')?.[1])).filter((attempt) => Number.isInteger(attempt));
    return attempts.length > 0 ? Math.max(...attempts) : null;
  }

  async run(job: SessionJob, cwd: string, signal: AbortSignal): Promise<ExecutedSession> {
    const { queue, store, integration } = this.options;
    const jobKey = sessionJobKey(job.workItemId, remoteSessionStep(job));
    const scratch = job.scratchBase === undefined ? null : { base: job.scratchBase, branch: scratchBranchName(job) };
    if (scratch !== null && !(await this.#isPending(jobKey))) {
      // A new job (not one found again after a restart, which keeps what it was given): its base must be on the
      // remote for a worker to start from, and a branch an earlier job of this step left there must not be built on.
      await integration.publishUpTo(scratch.base);
      await this.#deleteScratchBranch(scratch.branch);
    }
    const runId = newSortableId() as RunId;
    // The session runs in a worktree of the worker's: a prompt that names this one's path names that one instead.
    const session: SessionJob = { ...job, prompt: job.prompt.split(cwd).join(WORKTREE_PLACEHOLDER), ...(scratch ? { branch: scratch.branch } : {}) };
    const payload = remoteSessionPayload({ runId, session, remote: this.options.remoteUrl, integrationBranch: this.options.integrationBranch() }, this.options.versions);
    const enqueued = await queue.enqueueSessionJob(payload, { jobKey, maxAttempts: this.options.maxRestarts });
    let taken: string | undefined;
    try {
      const state = await this.#waitForJob(enqueued.jobId, signal);
      signal.throwIfAborted();
      if (state.state === 'failed') throw new SessionRestartsExhaustedError(job, state);
      const run = await latestRunOf(store, job);
      if (run === null) throw new OrchestratorError('ORCH_SESSION_RUN_MISSING', `the job of the ${job.role} session of ${job.workItemId} ended without a recorded run`, { hint: 'A worker of another version may have taken it: check `orchestrator workers`.' });
      if (scratch === null) await integration.syncItemBranch(cwd, job.branch);
      else taken = (await integration.takeScratchChange(cwd, scratch.branch)) ?? undefined;
      const record = await store.getRun(run.id);
      if (!record) throw new OrchestratorError('ORCH_SESSION_RUN_MISSING', `run ${run.id} vanished from the store`);
      return { run: record };
    } finally {
      // The scratch branch only carried the change here (taken in above, or of no use when the job failed). On
      // shutdown the job goes on for the next coordinator, which takes the branch then.
      if (scratch !== null && !signal.aborted) await this.#deleteScratchBranch(scratch.branch, taken);
    }
  }

  async #isPending(jobKey: string): Promise<boolean> {
    const jobs = await this.options.queue.jobsWithKeyPrefix(jobKey);
    return jobs.some((found) => found.key === jobKey && (found.state === 'waiting' || found.state === 'running'));
  }

  /** A branch left on the remote is not a failure of the session: said, not thrown. */
  async #deleteScratchBranch(branch: string, expected?: string): Promise<void> {
    const { integration } = this.options;
    try {
      const deleted = await integration.deleteScratchBranch(branch, expected);
      if (deleted.kind === 'moved') this.options.notice?.('warn', `kept ${branch} on ${integration.remote}: it moved to ${deleted.actual?.slice(0, 12) ?? '?'} since it was read`);
    } catch (error) {
      this.options.notice?.('warn', `could not delete ${branch} on ${integration.remote}: ${errorMessage(error)}`);
    }
  }

  /** Until the job is done (completed: deleted) or failed for good; woken by the store's notifications of runs. */
  async #waitForJob(jobId: string, signal: AbortSignal): Promise<JobState> {
    const { queue, store } = this.options;
    const wake = new AbortController();
    let woken: (() => void) | null = null;
    store.changes?.subscribe(
      {
        onChange: (change) => {
          if (change.kind === 'run' || change.kind === 'invocation') woken?.();
        },
        onResync: () => woken?.(),
      },
      { signal: AbortSignal.any([signal, wake.signal]) },
    );
    try {
      for (;;) {
        const state = await queue.jobState(jobId);
        if (state.state === 'done' || state.state === 'failed') return state;
        if (signal.aborted) return state;
        await new Promise<void>((resolve) => {
          woken = resolve;
          sleep(this.options.checkIntervalMs ?? 2_000, undefined, { signal })
            .catch(() => undefined)
            .finally(resolve);
        });
        woken = null;
      }
    } finally {
      wake.abort();
    }
  }
}

/** The last run of the job's role and attempt for its item (the run of the job's last start). */
async function latestRunOf(store: Store, job: SessionJob): Promise<RunSummary | null> {
  const runs = await store.listRuns({ workItemId: job.workItemId, agent: job.agent.name, limit: 20 });
  return runs.find((run) => run.attempt === job.attempt && isTerminalRunStatus(run.status) && run.status !== 'orphaned') ?? null;
}
