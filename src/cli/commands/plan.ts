import { itemLabel } from '../../roadmap/index.js';
import { openContext, type GlobalOptions } from '../context.js';
import { painter } from '../format.js';
import { loadRoadmapView, roadmapHeader, roadmapPlanText, roadmapProblemsText } from '../roadmap-view.js';

/**
 * `orchestrator plan`: what `start` would do, spawning nothing. Reads the roadmap from the integration branch with
 * the same code as `start` and shows the items it takes in order, with dependencies, what it skips and why, and
 * every problem with file:line and the fix. Exit 1 when the roadmap cannot be read at all (start would refuse).
 */
export async function planCommand(options: GlobalOptions & { json?: boolean }): Promise<number> {
  const ctx = await openContext(options);
  try {
    const view = await loadRoadmapView(ctx.config, ctx.store);
    if (options.json) {
      const body = {
        roadmap: view.snapshot ? { path: view.snapshot.path, branch: view.snapshot.branch, tipSha: view.snapshot.tipSha } : null,
        unreadable: view.unreadable,
        uncommitted: view.uncommitted,
        items: view.entries.map((entry) => ({
          item: itemLabel(entry.item),
          number: entry.item.number,
          title: entry.item.title,
          line: entry.item.headingLine,
          status: entry.item.status,
          note: entry.item.note,
          heldBack: entry.item.heldBack,
          duplicate: entry.duplicate,
          dependsOn: entry.item.dependsOn,
          decision: entry.decision,
          reason: entry.reason,
          state: entry.state,
        })),
        problems: view.snapshot?.parsed.problems ?? [],
      };
      ctx.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      return view.unreadable ? 1 : 0;
    }
    const paint = painter(ctx.stdout);
    const header = roadmapHeader(view, paint);
    ctx.stdout.write(`${header}\n`);
    if (!view.snapshot) return 1;
    ctx.stdout.write(`\n${roadmapPlanText(view, paint)}\n\n${roadmapProblemsText(view, paint)}\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}
