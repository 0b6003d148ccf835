import type { EventBus, WorkItemId } from '../events/index.js';
import type { Store, WaitReason } from '../store/index.js';

/** Why a work item waits: the reason and the wait in words (e.g. `{ reason: 'slot', detail: '4 of 4 sessions running' }`). */
export interface WorkItemWait {
  reason: WaitReason;
  detail: string | null;
}

/**
 * Records that a work item waits (or, with `wait` null, no longer waits) and tells the bus, so that `status`
 * (from the store) and the dashboard (live, from `work_item.waiting`) show it. `since` is kept while the reason
 * stays the same: pass the wait's start, or `at` for a new wait.
 */
export async function recordWorkItemWait(
  store: Store,
  bus: EventBus,
  workItemId: WorkItemId,
  wait: WorkItemWait | null,
  times: { at: string; since?: string },
): Promise<void> {
  const waitingSince = wait === null ? null : (times.since ?? times.at);
  const patch = { waitingFor: wait?.reason ?? null, waitingDetail: wait?.detail ?? null, waitingSince };
  await store.updateWorkItem(workItemId, { ...patch, updatedAt: times.at });
  bus.emit('work_item.waiting', { workItemId, ...patch, at: times.at });
}
