import { formatDuration } from '../lib/time.js';
import type { WaitReason, WorkItemRecord } from '../store/index.js';

type Wait = Pick<WorkItemRecord, 'waitingFor' | 'waitingDetail' | 'waitingSince'>;

/**
 * A work item's wait in words: `slot (4 of 4 sessions running) for 12s`, or null when it does not wait. The
 * detail is cut at `maxDetail` characters (a roadmap batch names every item in it); the detail and the duration
 * are left out when unknown; a start in the future (another host's clock) counts as now.
 */
export function describeWait(item: Wait, nowMs: number, maxDetail = 70): string | null {
  if (item.waitingFor === null) return null;
  const words = item.waitingDetail ?? '';
  const detail = words ? ` (${words.length > maxDetail ? `${words.slice(0, maxDetail - 1)}…` : words})` : '';
  const since = item.waitingSince === null ? Number.NaN : Date.parse(item.waitingSince);
  const lasted = Number.isNaN(since) ? '' : ` for ${formatDuration(Math.max(0, nowMs - since))}`;
  return `${item.waitingFor}${detail}${lasted}`;
}

/** Each reason's phrase in the summary, in this order. */
const PHRASES: Record<WaitReason, (n: number) => string> = {
  slot: (n) => `${n} for a slot`,
  lock: (n) => `${n} for the lock`,
  dependency: (n) => `${n} on ${n === 1 ? 'a dependency' : 'dependencies'}`,
  backoff: (n) => `${n} in backoff`,
  budget: (n) => `${n} for the budget`,
  roadmap: (n) => `${n} for the roadmap update`,
};

/** `waiting: 3 for a slot, 1 for the lock, 2 on dependencies`, or null when nothing waits. */
export function summarizeWaits(items: readonly Wait[]): string | null {
  const counts = new Map<WaitReason, number>();
  for (const item of items) if (item.waitingFor !== null) counts.set(item.waitingFor, (counts.get(item.waitingFor) ?? 0) + 1);
  if (counts.size === 0) return null;
  const parts = (Object.keys(PHRASES) as WaitReason[]).flatMap((reason) => {
    const n = counts.get(reason);
    return n === undefined ? [] : [PHRASES[reason](n)];
  });
  // A reason this version does not know (a newer orchestrator wrote it) is still counted, by its name.
  for (const [reason, n] of counts) if (!(reason in PHRASES)) parts.push(`${n} for ${String(reason)}`);
  return `waiting: ${parts.join(', ')}`;
}
