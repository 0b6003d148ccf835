import { itemLabel, type RoadmapItem, type RoadmapParseResult } from './parse.js';

/** What `start` does with an item: take it now, take it once its dependencies are done, or leave it. */
export const PlanDecision = {
  /** Startable now (or already under way). */
  next: 'next',
  /** Startable once the items it depends on are done. */
  after: 'after',
  /** Not worked on: complete, blocked, held back, a duplicate, or waiting on something that never comes. */
  skipped: 'skipped',
} as const;
export type PlanDecision = (typeof PlanDecision)[keyof typeof PlanDecision];

export interface PlanEntry {
  item: RoadmapItem;
  duplicate: boolean;
  decision: PlanDecision;
  /** Why: "complete", "held back: …", "after PRIORITY 2", "waits on PRIORITY 7, which is not in the roadmap". */
  reason: string;
  /** The work item's state in the store, when `start` has seen the item already. */
  state: string | null;
}

const STARTABLE = new Set(['planned', 'in_progress']);

/**
 * What `start` would do with a parsed roadmap, in file order (the order `start` takes items in). `states` holds
 * the state of work items `start` already knows (by number), so the plan is right before and after a start.
 */
export function planRoadmap(parsed: RoadmapParseResult, states: ReadonlyMap<string, string> = new Map()): PlanEntry[] {
  const byNumber = new Map(parsed.items.map((item) => [item.number, item]));
  const isDone = (item: RoadmapItem) => states.get(item.number) === 'done' || (!states.has(item.number) && item.status === 'complete');
  const memo = new Map<string, 'done' | 'comes' | 'never'>();
  /** Whether an item is done, will be done by `start`, or never will (cycles count as never). */
  const outlook = (item: RoadmapItem, seen: Set<string>): 'done' | 'comes' | 'never' => {
    const cached = memo.get(item.number);
    if (cached) return cached;
    let result: 'done' | 'comes' | 'never';
    const state = states.get(item.number);
    if (isDone(item)) result = 'done';
    else if (item.heldBack !== null || state === 'blocked' || (state === undefined && !STARTABLE.has(item.status)) || seen.has(item.number)) result = 'never';
    else {
      seen.add(item.number);
      result = item.dependsOn.every((number) => {
        const dependency = byNumber.get(number);
        return dependency !== undefined && dependency !== item && outlook(dependency, seen) !== 'never';
      })
        ? 'comes'
        : 'never';
      seen.delete(item.number);
    }
    memo.set(item.number, result);
    return result;
  };

  const entries: PlanEntry[] = [];
  for (const item of [...parsed.items, ...parsed.duplicates].sort((a, b) => a.headingLine - b.headingLine)) {
    const duplicate = byNumber.get(item.number) !== item;
    const state = duplicate ? null : (states.get(item.number) ?? null);
    const entry = (decision: PlanDecision, reason: string): PlanEntry => ({ item, duplicate, decision, reason, state });
    if (duplicate || item.heldBack !== null) {
      entries.push(entry('skipped', `held back: ${item.heldBack ?? 'unreadable'}`));
      continue;
    }
    if (state === 'done' || (state === null && item.status === 'complete')) {
      entries.push(entry('skipped', state === 'done' ? 'done' : 'complete'));
      continue;
    }
    if (state === 'blocked') {
      entries.push(entry('skipped', 'blocked (`orchestrator unblock` puts it back)'));
      continue;
    }
    if (state === null && !STARTABLE.has(item.status)) {
      entries.push(entry('skipped', item.status === 'blocked' ? 'the roadmap marks it blocked' : 'the roadmap marks it for manual review'));
      continue;
    }
    const pending = item.dependsOn.filter((number) => {
      const dependency = byNumber.get(number);
      return !dependency || !isDone(dependency);
    });
    if (pending.length === 0) {
      entries.push(entry('next', state && state !== 'planned' ? `under way (${state})` : 'startable now'));
      continue;
    }
    const never = pending.filter((number) => {
      const dependency = byNumber.get(number);
      return !dependency || dependency === item || outlook(dependency, new Set([item.number])) === 'never';
    });
    if (never.length > 0) {
      const reasons = never.map((number) => {
        const dependency = byNumber.get(number);
        if (!dependency) return `PRIORITY ${number}, which is not in the roadmap`;
        if (dependency === item) return 'itself';
        return `${itemLabel(dependency)}, which will not be done (${describeNever(dependency, states)})`;
      });
      entries.push(entry('skipped', `waits on ${reasons.join('; ')}`));
      continue;
    }
    entries.push(entry('after', `after ${pending.map((number) => itemLabel(byNumber.get(number) ?? { kind: 'priority', number })).join(', ')}`));
  }
  return entries;
}

function describeNever(item: RoadmapItem, states: ReadonlyMap<string, string>): string {
  if (item.heldBack !== null) return 'held back';
  if (states.get(item.number) === 'blocked') return 'blocked';
  if (!states.has(item.number) && !STARTABLE.has(item.status)) return item.status === 'blocked' ? 'blocked in the roadmap' : 'manual review';
  return 'its own dependencies never come';
}
