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
 * Registers a session; returns its stop signal and the function that unregisters it. While registered, a stop
 * requested by another process (`orchestrator stop`, a dashboard elsewhere) stops the session the same way,
 * through its control channel. A store that announces its changes (PostgreSQL) tells the owner at once, from any
 * machine; the run's row is then read only when told, and every STOP_REQUEST_SAFETY_POLL_MS as a safety net.
 * Without announcements (SQLite) the row is read every `pollMs` (default STOP_REQUEST_POLL_MS).
 */
export function registerLocalSession(store: Store, runId: RunId, options: { pollMs?: number } = {}): { signal: AbortSignal; unregister: () => void } {
  const controller = new AbortController();
  const watching = new AbortController();
  localSessions.set(runId, controller);
  let checking = false;
  let checkAgain = false;
  const check = (): void => {
    if (controller.signal.aborted || watching.signal.aborted) return;
    if (checking) {
      checkAgain = true;
      return;
    }
    checking = true;
    store
      .getRun(runId)
      .then(async (run) => {
        if (!run?.stopRequestedAt || controller.signal.aborted) return;
        controller.abort(new StoppedError(`stop requested at ${run.stopRequestedAt}`));
        // Tells the requester (stop-run.ts) that the owner is on it, so it waits for the owner instead of signalling.
        await store.appendEvent({ at: nowIso(), kind: STOP_SEEN_EVENT, runId, message: `its orchestrator (pid ${process.pid}) saw the stop request and is interrupting the session` });
      })
      .catch(() => undefined)
      .finally(() => {
        checking = false;
        if (checkAgain) {
          checkAgain = false;
          check();
        }
      });
  };
  const changes = store.changes;
  changes?.subscribe(
    {
      onChange: (change) => {
        if (change.kind === 'stop' && change.runId === runId) check();
      },
      onResync: check,
    },
    { signal: watching.signal },
  );
  const watch = setInterval(check, options.pollMs ?? (changes ? STOP_REQUEST_SAFETY_POLL_MS : STOP_REQUEST_POLL_MS));
  watch.unref();
  return {
    signal: controller.signal,
    unregister: () => {
      clearInterval(watch);
      watching.abort();
      if (localSessions.get(runId) === controller) localSessions.delete(runId);
    },
  };
}

/** How often a session's owner looks for a stop requested from elsewhere, when the store does not announce it. */
export const STOP_REQUEST_POLL_MS = 500;
/** The owner's safety net when the store announces stops (a notification is not expected to be lost: a reconnect re-reads). */
export const STOP_REQUEST_SAFETY_POLL_MS = 10_000;

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
