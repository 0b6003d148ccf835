import type { RunId } from '../events/index.js';
import { StoppedError } from '../lib/errors.js';
import { nowIso } from '../lib/time.js';
import type { Store } from '../store/index.js';

/**
 * The sessions this process runs, by run id. A stop asked in this process (the dashboard inside `orchestrator
 * start`), or recorded in the store by another (`orchestrator stop`), aborts the session's own signal, so the
 * runtime interrupts it through the control channel: the CLI then writes its result (tokens, cost) even when it
 * was waiting on the model, which a SIGINT does not ensure. Signals remain the fallback (stop-run.ts) when the
 * owner does not react, e.g. because it is gone.
 */
const localSessions = new Map<RunId, AbortController>();

/**
 * Registers a session; returns its stop signal and the function that unregisters it. While registered, the run's
 * row is checked every `pollMs` for a stop requested by another process (`orchestrator stop`), which then stops
 * the session the same way, through its control channel.
 */
export function registerLocalSession(store: Store, runId: RunId, options: { pollMs?: number } = {}): { signal: AbortSignal; unregister: () => void } {
  const controller = new AbortController();
  localSessions.set(runId, controller);
  let checking = false;
  const watch = setInterval(() => {
    if (checking || controller.signal.aborted) return;
    checking = true;
    store
      .getRun(runId)
      .then(async (run) => {
        if (!run?.stopRequestedAt) return;
        controller.abort(new StoppedError(`stop requested at ${run.stopRequestedAt}`));
        // Tells the requester (stop-run.ts) that the owner is on it, so it waits for the owner instead of signalling.
        await store.appendEvent({ at: nowIso(), kind: STOP_SEEN_EVENT, runId, message: `its orchestrator (pid ${process.pid}) saw the stop request and is interrupting the session` });
      })
      .catch(() => undefined)
      .finally(() => {
        checking = false;
      });
  }, options.pollMs ?? STOP_REQUEST_POLL_MS);
  watch.unref();
  return {
    signal: controller.signal,
    unregister: () => {
      clearInterval(watch);
      if (localSessions.get(runId) === controller) localSessions.delete(runId);
    },
  };
}

/** How often a session's owner looks for a stop requested from elsewhere. */
export const STOP_REQUEST_POLL_MS = 500;

/** The audit event a session's owner records when it has seen a stop requested from elsewhere and acts on it. */
export const STOP_SEEN_EVENT = 'run.stop_seen';

/** Stops a session of this process: records the request (so it ends `stopped`), then interrupts it. False if not ours. */
export async function stopLocalSession(store: Store, runId: RunId): Promise<boolean> {
  const controller = localSessions.get(runId);
  if (!controller) return false;
  await store.requestRunStop(runId, nowIso());
  controller.abort(new StoppedError('stopped on request'));
  return true;
}
