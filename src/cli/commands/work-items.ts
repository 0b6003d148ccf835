import { UsageError } from '../../lib/errors.js';
import { nowIso } from '../../lib/time.js';
import { BUG_SEVERITIES, fileBug } from '../../orchestrator/index.js';
import { openContext, type GlobalOptions } from '../context.js';
import { painter } from '../format.js';
import { loadRoadmapView, roadmapHeader, roadmapItemsTable, roadmapProblemsText } from '../roadmap-view.js';
import { summarizeWaits } from '../waits.js';
import { summaryTable } from './start.js';
import { waitingForYouText } from '../waiting-for-you.js';

/** `orchestrator status`: every roadmap item (status, note, what start does with it), the roadmap's problems, work items with their runs and why they wait, and the latest transitions. */
export async function statusCommand(options: GlobalOptions & { json?: boolean }): Promise<number> {
  const ctx = await openContext(options);
  try {
    const items = await ctx.store.listWorkItems();
    if (options.json) {
      ctx.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
      return 0;
    }
    const paint = painter(ctx.stdout);
    const view = await loadRoadmapView(ctx.config, ctx.store);
    ctx.stdout.write(`${roadmapHeader(view, paint)}\n`);
    if (view.snapshot) ctx.stdout.write(`${roadmapItemsTable(view)}\n\n${roadmapProblemsText(view, paint)}\n\n`);
    // Runs waiting on a person (ask_human), said only when there are any.
    ctx.stdout.write(await waitingForYouText(ctx.store, paint));
    if (items.length === 0) {
      ctx.stdout.write('nothing started yet: `orchestrator start` takes the items above (`orchestrator plan` shows its order); `orchestrator bug` files a bug.\n');
      return 0;
    }
    const waits = summarizeWaits(items);
    ctx.stdout.write(`${paint.bold('Work items')}\n${await summaryTable(ctx.store, items)}\n${waits ? `${paint.yellow(waits)}\n` : ''}\n${paint.bold('Recent transitions')}\n`);
    const events = (await ctx.store.listEvents({ limit: 100_000 })).filter((event) => event.kind === 'work_item.transitioned').slice(-15);
    for (const event of events) ctx.stdout.write(`${event.at.replace('T', ' ').slice(0, 19)}  ${event.workItemId ?? ''}  ${typeof event.data.from === 'string' ? event.data.from : '?'} → ${typeof event.data.to === 'string' ? event.data.to : '?'}  ${paint.dim(event.message)}\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}

/** `orchestrator bug "<title>"`: files a bug; critical and high bugs are taken before roadmap priorities. */
export async function bugCommand(title: string, options: GlobalOptions & { body?: string; severity?: string }): Promise<number> {
  const severity = BUG_SEVERITIES.find((known) => known === (options.severity ?? 'medium'));
  if (severity === undefined) throw new UsageError(`--severity ${options.severity ?? ''} is not one of ${BUG_SEVERITIES.join(', ')}`);
  if (title.trim().length === 0) throw new UsageError('the bug title is empty', { hint: 'orchestrator bug "Crash when the input is empty" --body "steps…"' });
  const ctx = await openContext(options);
  try {
    const filed = await fileBug(ctx.store, { title, body: options.body ?? '', severity });
    if (filed.kind !== 'filed') throw new Error('a bug filed by a person has no limit');
    const { item } = filed;
    ctx.stdout.write(`filed bug ${item.number} (${item.id}, ${severity}): ${item.title}\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}

/** `orchestrator unblock <item>`: a blocked item goes back to planned with fresh attempts (its branch is kept). */
export async function unblockCommand(ref: string, options: GlobalOptions): Promise<number> {
  const ctx = await openContext(options);
  try {
    const items = await ctx.store.listWorkItems();
    const item = items.find((candidate) => candidate.id === ref || candidate.id === `P-${ref}` || candidate.id === ref.toUpperCase());
    if (!item) throw new UsageError(`no work item "${ref}"`, { hint: `Known items: ${items.map((candidate) => candidate.id).join(', ') || 'none'}.` });
    if (item.state !== 'blocked') throw new UsageError(`${item.id} is ${item.state}, not blocked`);
    await ctx.store.updateWorkItem(item.id, { attempts: {}, updatedAt: nowIso() });
    await ctx.store.transitionWorkItem(item.id, 'blocked', 'planned', 'unblocked by the user', nowIso());
    ctx.stdout.write(`${item.id} is planned again; \`orchestrator start\` will take it.\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}
