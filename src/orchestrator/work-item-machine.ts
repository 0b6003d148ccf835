/**
 * The state machine of a work item. The orchestrator owns every transition and persists each one with its
 * reason (store.transitionWorkItem is compare-and-set, so two supervisors cannot both move an item).
 *
 *   planned ─▶ specifying ─▶ spec_ready ─▶ implementing ─▶ reviewing ─▶ merging ─▶ marking_done ─▶ done
 *                                  ▲              │ ▲            │           │
 *                                  │              │ └─ changes_requested ◀───┘ (conflict: back to implementing)
 *   bugs: planned ─▶ implementing ─▶ reviewing ─▶ merging ─▶ done
 *   any active state ─▶ blocked (with the reason); blocked ─▶ planned (`orchestrator unblock`)
 */
export const WorkItemState = {
  planned: 'planned',
  specifying: 'specifying',
  specReady: 'spec_ready',
  implementing: 'implementing',
  reviewing: 'reviewing',
  changesRequested: 'changes_requested',
  merging: 'merging',
  markingDone: 'marking_done',
  done: 'done',
  blocked: 'blocked',
} as const;
export type WorkItemState = (typeof WorkItemState)[keyof typeof WorkItemState];

const ALLOWED: Record<WorkItemState, readonly WorkItemState[]> = {
  planned: ['specifying', 'spec_ready', 'implementing', 'done', 'blocked'],
  specifying: ['spec_ready', 'planned', 'blocked'],
  spec_ready: ['implementing', 'blocked'],
  implementing: ['reviewing', 'implementing', 'blocked'],
  reviewing: ['merging', 'changes_requested', 'reviewing', 'blocked'],
  changes_requested: ['implementing', 'blocked'],
  merging: ['marking_done', 'done', 'implementing', 'blocked'],
  marking_done: ['done', 'blocked'],
  done: [],
  blocked: ['planned'],
};

export const ACTIVE_STATES: readonly WorkItemState[] = ['specifying', 'spec_ready', 'implementing', 'reviewing', 'changes_requested', 'merging', 'marking_done'];

export function isWorkItemState(value: string): value is WorkItemState {
  return value in ALLOWED;
}

export function canTransition(from: WorkItemState, to: WorkItemState): boolean {
  return ALLOWED[from].includes(to);
}

export class IllegalTransitionError extends Error {
  constructor(
    readonly from: string,
    readonly to: string,
  ) {
    super(`illegal work item transition ${from} → ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

export function assertTransition(from: string, to: WorkItemState): void {
  if (!isWorkItemState(from) || !canTransition(from, to)) throw new IllegalTransitionError(from, to);
}
