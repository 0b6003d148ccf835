import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { nowIso } from '../lib/time.js';
import { isProcessAlive, isProcessOfRun, killRunProcesses, signalProcessGroup } from '../runtime/index.js';
import type { RunRecord, Store } from '../store/index.js';
import { priceTable, type PriceTable } from '../usage/index.js';
import { closeOpenInvocations } from './open-invocations.js';
import { cancelOpenQuestionsOfRun } from './question-wait.js';

/** True if `pid` is alive and looks like a Node process (ours), not a reused pid of something else. */
function isOwnerAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  if (!isProcessAlive(pid)) return false;
  try {
    return /node/.test(readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
  } catch {
    return true;
  }
}

/**
 * Runs still marked queued/running on this host whose owning orchestrator process is gone become `orphaned`.
 * A session process that is still alive is stopped first (its whole group), so an orphan never goes on
 * editing files unsupervised. Returns the runs it marked.
 */
export async function reconcileOrphanedRuns(store: Store, options: { graceMs: number; prices?: PriceTable }): Promise<RunRecord[]> {
  const host = hostname();
  const active = await store.listRuns({ statuses: ['queued', 'running'], limit: 10_000 });
  const orphaned: RunRecord[] = [];
  for (const run of active) {
    if (run.host !== host || isOwnerAlive(run.ownerPid)) continue;
    const alive = run.pid !== null && isProcessOfRun(run.pid, run.id);
    // SIGKILL at once, the whole group: nobody reads an orphan's output, and a graceful stop lets it act on what
    // it sees (a killed tool's result) and ask the model for one more turn of a session that is resumed next.
    if (alive && run.pid !== null) signalProcessGroup(run.pid, 'SIGKILL');
    await killRunProcesses(run.id, alive ? run.pid : null, options.graceMs);
    await closeOpenInvocations(store, run, options.prices ?? priceTable());
    await store.finishRun(run.id, {
      status: 'orphaned',
      endedAt: nowIso(),
      errorKind: 'orphaned',
      errorMessage: `its orchestrator process (pid ${run.ownerPid}) ended while the run was ${run.status}${alive ? '; the session process was still alive and was stopped' : ''}`,
    });
    await cancelOpenQuestionsOfRun(store, run.id);
    orphaned.push(run);
  }
  return orphaned;
}
