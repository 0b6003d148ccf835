import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminalRunStatus } from '../events/index.js';
import { nowIso } from '../lib/time.js';
import { isProcessAlive, isProcessOfRun, killRunProcesses } from '../runtime/index.js';
import type { RunRecord, Store } from '../store/index.js';
import { STOP_REQUEST_POLL_MS } from './local-stops.js';

export type StopRunOutcome =
  /** `by`: the owner interrupted the session through its control channel, or signals had to do it. */
  | { kind: 'stopped'; run: RunRecord; by: 'owner' | 'signals' }
  | { kind: 'already_ended'; run: RunRecord }
  | { kind: 'other_host'; run: RunRecord };

/**
 * Stops a run from any process on the same machine: records the request (so the owning process records the
 * run as `stopped`, not failed, and interrupts the session itself), then, if the run has not ended, SIGINT to
 * the CLI, and after `graceMs` SIGTERM/SIGKILL to the whole process group. The pid is checked to still be this run's process
 * (by its ORCHESTRATOR_RUN_ID environment) before any signal, so a reused pid is never signalled.
 */
export async function stopRun(store: Store, run: RunRecord, options: { graceMs: number; signal?: AbortSignal }): Promise<StopRunOutcome> {
  if (isTerminalRunStatus(run.status)) return { kind: 'already_ended', run };
  if (run.host !== hostname()) {
    await store.requestRunStop(run.id, nowIso());
    return { kind: 'other_host', run };
  }
  await store.requestRunStop(run.id, nowIso());
  // A live owner sees the request within STOP_REQUEST_POLL_MS and interrupts the session through its control
  // channel (so the CLI reports its tokens and cost); signals are for an owner that does not react.
  if (isProcessAlive(run.ownerPid)) {
    const ownerDeadline = Date.now() + STOP_REQUEST_POLL_MS * 4;
    while (Date.now() < ownerDeadline) {
      options.signal?.throwIfAborted();
      const current = await store.getRun(run.id);
      if (current && isTerminalRunStatus(current.status)) return { kind: 'stopped', run: current, by: 'owner' };
      await sleep(100);
    }
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
