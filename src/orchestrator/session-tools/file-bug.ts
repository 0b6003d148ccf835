import { z } from 'zod';
import { redactText } from '../../lib/redact.js';
import { defineTool } from '../../mcp/index.js';
import { BUG_SEVERITIES, fileBug } from '../bug-filing.js';
import type { SessionToolContext } from './context.js';

const input = z
  .object({
    title: z.string().trim().min(1).max(200).describe('What is wrong, in one line.'),
    body: z.string().max(20_000).describe('How to see it (steps, the file and line, what happens and what should), and anything you found out.'),
    severity: z.enum(BUG_SEVERITIES).describe('critical and high bugs are taken before roadmap priorities.'),
  })
  .strict();

/**
 * `file_bug`: a bug the agent found, filed as `orchestrator bug` files one (it enters the queue), linked to the run
 * that filed it; at most `settings.bugsPerRun` per run.
 */
export const fileBugTool = defineTool<SessionToolContext, typeof input>({
  name: 'file_bug',
  title: 'File a bug',
  description:
    'File a bug you found that is outside your task (fix what is inside it yourself). It becomes a work item the orchestrator schedules for the bug fixer. A few per session at most: keep them for real defects.',
  input,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  run: async (args, context) => {
    const outcome = await fileBug(
      context.store,
      { title: redactText(args.title), body: redactText(args.body), severity: args.severity, filedBy: { runId: context.runId, role: context.role, workItemId: context.workItemId } },
      { perRunLimit: context.settings.bugsPerRun },
    );
    if (outcome.kind === 'limit_reached') {
      return {
        isError: true,
        text: `Not filed: this run has already filed ${outcome.filed} bugs, the limit per run (${outcome.limit}, config sessionTools.bugsPerRun). Describe any further problem in your final answer instead.`,
      };
    }
    const { item } = outcome;
    return { text: `Filed bug ${item.number} (${item.id}, ${args.severity}): ${item.title}. It is in the orchestrator's queue for the bug fixer.` };
  },
});
