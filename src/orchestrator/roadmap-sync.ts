import type { ResolvedConfig } from '../config/index.js';
import type { WorkItemId } from '../events/index.js';
import { nowIso } from '../lib/time.js';
import type { RoadmapItem } from '../roadmap/index.js';
import type { Store, WorkItemRecord } from '../store/index.js';
import type { RepoOps } from './repo-ops.js';
import { formatRoadmapProblem, readRoadmapSnapshot, type RoadmapSnapshot } from './roadmap-source.js';
import { WorkItemState } from './work-item-machine.js';

const ROADMAP_STARTABLE = new Set(['planned', 'in_progress']);
/** How many roadmap problems one notice burst shows; the rest are counted (status and plan list all). */
const ROADMAP_PROBLEMS_ANNOUNCED = 10;

export function priorityId(entry: Pick<RoadmapItem, 'number'>): WorkItemId {
  return `P-${entry.number}` as WorkItemId;
}

export interface RoadmapSyncOptions {
  repo: RepoOps;
  store: Store;
  config: ResolvedConfig;
  integrationBranch: () => string;
  notice: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Moves a planned item to done when the roadmap already marks it complete. */
  markDone: (item: WorkItemRecord, reason: string) => Promise<void>;
}

/**
 * Reads ROADMAP.md at the tip of the integration branch (only when the tip moved) and creates or updates work
 * items. Problems in the file do not stop it: they are announced (once per change) and kept in the store for status,
 * doctor and the dashboard; an item held back by one (unreadable status, no title) is not created. Throws only
 * when the roadmap cannot be read at all.
 */
export class RoadmapSync {
  #lastTip = '';
  #snapshot: RoadmapSnapshot | null = null;
  #announcedProblems: string | null = null;

  constructor(private readonly options: RoadmapSyncOptions) {}

  get snapshot(): RoadmapSnapshot | null {
    return this.#snapshot;
  }

  /** The next sync reads the roadmap even if the tip looks the same. */
  invalidate(): void {
    this.#lastTip = '';
  }

  async sync(): Promise<void> {
    const { config, store, repo } = this.options;
    const branch = this.options.integrationBranch();
    const tip = await repo.headSha(branch);
    if (tip === this.#lastTip) return;
    const snapshot = await readRoadmapSnapshot(repo, branch, config.roadmapPath);
    await this.#record(snapshot);
    const existing = new Map((await store.listWorkItems({ kind: 'priority' })).map((item) => [item.id, item]));
    const at = nowIso();
    for (const entry of snapshot.parsed.items) {
      if (entry.heldBack !== null) continue;
      const id = priorityId(entry);
      const current = existing.get(id);
      const note = entry.note.length > 0 ? entry.note : null;
      if (!current) {
        if (!ROADMAP_STARTABLE.has(entry.status) && entry.status !== 'complete') continue;
        await store.upsertWorkItem({
          id,
          kind: 'priority',
          number: entry.number,
          title: entry.title,
          slug: entry.slug,
          state: entry.status === 'complete' ? WorkItemState.done : WorkItemState.planned,
          position: entry.position,
          body: entry.body,
          note,
          dependsOn: entry.dependsOn,
          at,
        });
        continue;
      }
      await store.updateWorkItem(id, { title: entry.title, body: entry.body, note, position: entry.position, dependsOn: entry.dependsOn, updatedAt: at });
      if (entry.status === 'complete' && current.state === WorkItemState.planned) await this.options.markDone(current, 'the roadmap already marks it complete');
    }
    this.#lastTip = tip;
  }

  /** Keeps the read in the store and announces its problems when they differ from the last ones announced. */
  async #record(snapshot: RoadmapSnapshot): Promise<void> {
    const { problems, items, duplicates } = snapshot.parsed;
    this.#snapshot = snapshot;
    await this.options.store.saveRoadmapRead({ path: snapshot.path, branch: snapshot.branch, tipSha: snapshot.tipSha, readAt: nowIso(), itemCount: items.length + duplicates.length, problems });
    const fingerprint = problems.map((problem) => `${problem.line}\u0000${problem.message}`).join('\n');
    if (fingerprint === this.#announcedProblems) return;
    this.#announcedProblems = fingerprint;
    if (problems.length === 0) return;
    const shown = problems.slice(0, ROADMAP_PROBLEMS_ANNOUNCED);
    for (const problem of shown) this.options.notice(problem.severity === 'error' ? 'warn' : 'info', `roadmap: ${formatRoadmapProblem(problem)}`);
    if (problems.length > shown.length) this.options.notice('warn', `roadmap: ${problems.length - shown.length} more problem(s) in ${snapshot.path}: \`orchestrator plan\` lists them all`);
  }
}
