import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminalRunStatus } from '../events/index.js';
import { nowIso } from '../lib/time.js';
import { INTERRUPT_GRACE_MS, isProcessAlive, isProcessOfRun, killRunProcesses } from '../runtime/index.js';
import type { RunRecord, Store } from '../store/index.js';
import { STOP_REQUEST_POLL_MS, STOP_SEEN_EVENT } from './local-stops.js';

export type StopRunOutcome =
  /** `by`: the owner interrupted the session through its control channel, or signals had to do it. */
  | { kind: 'stopped'; run: RunRecord; by: 'owner' | 'signals' }
  | { kind: 'already_ended'; run: RunRecord }
  | { kind: 'other_host'; run: RunRecord };

/**
 * Stops a run from any process on the same machine: records the request (so the owning process records the
 * run as `stopped`, not failed, and interrupts the session itself) and waits for a live owner to do so
 * (waitForOwner); only if it does not, SIGINT to the CLI, and after `graceMs` SIGTERM/SIGKILL to the whole process group. The pid is checked to still be this run's process
 * (by its ORCHESTRATOR_RUN_ID environment) before any signal, so a reused pid is never signalled.
 */
export async function stopRun(store: Store, run: RunRecord, options: { graceMs: number; signal?: AbortSignal }): Promise<StopRunOutcome> {
  if (isTerminalRunStatus(run.status)) return { kind: 'already_ended', run };
  if (run.host !== hostname()) {
    await store.requestRunStop(run.id, nowIso());
    return { kind: 'other_host', run };
  }
  await store.requestRunStop(run.id, nowIso());
  if (isProcessAlive(run.ownerPid)) {
    const byOwner = await waitForOwner(store, run, options);
    if (byOwner) return { kind: 'stopped', run: byOwner, by: 'owner' };
  }
  const pid = run.pid;
  const ours = pid !== null && isProcessOfRun(pid, run.id);
  if (ours) {
    try {
      process.kill(pid, 'SIGINT');
    } catch {
      // It ended between the check and the signal.
    }
  }
  const deadline = Date.now() + options.graceMs;
  while (Date.now() < deadline) {
    options.signal?.throwIfAborted();
    const current = await store.getRun(run.id);
    if (current && isTerminalRunStatus(current.status)) break;
    if (!ours && !isProcessAlive(run.ownerPid)) break;
    await sleep(100);
  }
  await killRunProcesses(run.id, ours ? pid : null, options.graceMs);
  // If the owning process is gone (crashed), nobody else will write the final status.
  const current = await store.getRun(run.id);
  if (current && !isTerminalRunStatus(current.status) && !isProcessAlive(current.ownerPid)) {
    await store.finishRun(run.id, { status: 'stopped', endedAt: nowIso(), errorKind: 'stop_requested', errorMessage: 'stopped on request; its orchestrator process was gone' });
  } else if (current && !isTerminalRunStatus(current.status)) {
    // The owner writes the final status when it sees the process end; give it a moment.
    const waitUntil = Date.now() + 5_000;
    while (Date.now() < waitUntil) {
      const latest = await store.getRun(run.id);
      if (latest && isTerminalRunStatus(latest.status)) return { kind: 'stopped', run: latest, by: 'signals' };
      await sleep(100);
    }
  }
  return { kind: 'stopped', run: (await store.getRun(run.id)) ?? run, by: 'signals' };
}

/**
 * How long a live owner gets to show it saw the stop request: ten of its polls. The owner checks every
 * STOP_REQUEST_POLL_MS; the slack is for a loaded machine, where its timers and store reads run late.
 */
export const OWNER_ACK_WAIT_MS = STOP_REQUEST_POLL_MS * 10;
/** Added to the owner's own stop sequence (interrupt grace, then its process-group grace twice) before signals take over. */
const OWNER_STOP_SLACK_MS = 10_000;

/**
 * Waits for the run's live owner to stop the session itself, through its control channel (so the CLI reports its
 * tokens and cost). The owner records STOP_SEEN_EVENT when it acts; from then on it is given its whole stop
 * sequence, which ends in signals of its own, so `stop` does not race it. Null when the owner did not acknowledge
 * in time, did not finish in time, or died: the caller then uses signals.
 */
async function waitForOwner(store: Store, run: RunRecord, options: { graceMs: number; signal?: AbortSignal }): Promise<RunRecord | null> {
  let deadline = Date.now() + OWNER_ACK_WAIT_MS;
  let acknowledged = false;
  while (Date.now() < deadline) {
    options.signal?.throwIfAborted();
    const current = await store.getRun(run.id);
    if (current && isTerminalRunStatus(current.status)) return current;
    if (!isProcessAlive(run.ownerPid)) return null;
    if (!acknowledged && (await store.listEvents({ runId: run.id })).some((event) => event.kind === STOP_SEEN_EVENT)) {
      acknowledged = true;
      deadline = Date.now() + INTERRUPT_GRACE_MS + 2 * options.graceMs + OWNER_STOP_SLACK_MS;
    }
    await sleep(100);
  }
  return null;
}
