import type { ResolvedConfig } from '../config/index.js';
import type { WorkItemId } from '../events/index.js';
import type { Store, WorkItemRecord } from '../store/index.js';
import type { IntegrationGate } from './integration-gate.js';
import type { RepoOps } from './repo-ops.js';
import type { Role } from './role-policies.js';
import type { RoleSessions } from './role-session.js';
import type { WorkItemState } from './work-item-machine.js';

export type AuditData = Record<string, string | number | boolean | null | string[]>;

/** What a step of the state machine may use: the repository, the store, sessions, and the supervisor's bookkeeping. */
export interface StepContext {
  readonly config: ResolvedConfig;
  readonly store: Store;
  readonly repo: RepoOps;
  readonly gate: IntegrationGate;
  readonly sessions: RoleSessions;
  /** After a merge is verified and the local branch removed: with workers, the item branch on the shared remote goes too. */
  mergedBranchDone(branch: string): Promise<void>;
  integrationBranch(): string;
  transition(item: WorkItemRecord, to: WorkItemState, reason: string): Promise<void>;
  block(item: WorkItemRecord, reason: string): Promise<void>;
  /** A role's attempt was not accepted: counted, retried (with backoff when transient) or blocked. */
  failed(item: WorkItemRecord, role: Role, reason: string, transient: boolean): Promise<void>;
  audit(item: WorkItemRecord, kind: string, message: string, data: AuditData): Promise<void>;
  notice(level: 'info' | 'warn' | 'error', message: string): void;
  worktreeFor(item: WorkItemRecord): Promise<string>;
  branchFor(item: WorkItemRecord): string;
  /** The integration branch moved: read the roadmap again at the next pass. */
  roadmapChanged(): void;
}

/** What the developer's next session must be told, kept in memory (the audit trail keeps it across restarts). */
export interface DeveloperNotes {
  conflicts: Map<WorkItemId, string[]>;
  lastFailure: Map<WorkItemId, string>;
}

export function priorityRef(item: WorkItemRecord): { number: string; title: string; body: string } {
  return { number: item.number, title: item.title, body: item.body ?? '' };
}

const BUG_SEVERITY_ORDER: Record<string, number> = { critical: 0, high: 1, medium: 3, low: 4 };

/** Lower first: the scheduler's and the integration lock's order (bugs of severity critical/high, then the roadmap, then other bugs). */
export function rankOf(item: WorkItemRecord): number {
  if (item.kind === 'bug') {
    const severity = BUG_SEVERITY_ORDER[item.severity ?? 'medium'] ?? 3;
    return (severity <= 1 ? severity : 2 + severity) * 1e9;
  }
  return 2e9 + item.position;
}
