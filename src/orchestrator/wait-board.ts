import type { EventBus, WorkItemId } from '../events/index.js';
import { nowIso } from '../lib/time.js';
import type { Store, WaitReason } from '../store/index.js';

interface Wait {
  reason: WaitReason;
  detail: string;
  since: string;
}

/**
 * The scheduler's decisions, kept on each work item (waiting_for / waiting_detail / waiting_since) so that `status`
 * and the dashboard, in any process, can say why an item is not moving. Writes only when a wait changes: the
 * scheduler may decide the same thing on every pass. With a bus, each change is also a `work_item.waiting` event,
 * so that the dashboard of this process updates the moment it happens (another process's dashboard reads the
 * columns through its StoreFeed).
 */
export class WaitBoard {
  readonly #current = new Map<WorkItemId, Wait | null>();

  constructor(
    private readonly store: Store,
    private readonly bus: EventBus | null = null,
  ) {}

  /** Records that the item waits for `reason`; keeps the original start time while the reason stays the same. */
  async wait(id: WorkItemId, reason: WaitReason, detail: string): Promise<void> {
    const before = this.#current.get(id);
    if (before && before.reason === reason && before.detail === detail) return;
    const at = nowIso();
    const since = before?.reason === reason ? before.since : at;
    this.#current.set(id, { reason, detail, since });
    await this.store.updateWorkItem(id, { waitingFor: reason, waitingDetail: detail, ...(before?.reason === reason ? {} : { waitingSince: since }), updatedAt: at });
    this.bus?.emit('work_item.waiting', { workItemId: id, waitingFor: reason, waitingDetail: detail, waitingSince: since, at });
  }

  /** The item is working (or at rest): no wait. */
  async clear(id: WorkItemId): Promise<void> {
    if (this.#current.get(id) === null) return;
    this.#current.set(id, null);
    const at = nowIso();
    await this.store.updateWorkItem(id, { waitingFor: null, waitingDetail: null, waitingSince: null, updatedAt: at });
    this.bus?.emit('work_item.waiting', { workItemId: id, waitingFor: null, waitingDetail: null, waitingSince: null, at });
  }

  reasonOf(id: WorkItemId): WaitReason | null {
    return this.#current.get(id)?.reason ?? null;
  }
}
