import { z } from 'zod';
import { RUN_PROGRESS_EVENT } from '../../events/index.js';
import { redactText } from '../../lib/redact.js';
import { nowIso } from '../../lib/time.js';
import { defineTool } from '../../mcp/index.js';
import type { SessionToolContext } from './context.js';

const input = z
  .object({
    status: z.string().trim().min(1).max(200).describe('What you are doing now, in a few words (e.g. "tests pass; writing the docs").'),
    percent: z.number().min(0).max(100).optional().describe('How far along the task is, 0 to 100, if you can tell.'),
  })
  .strict();

/** `report_progress`: a short status and an optional percent, kept as a `run.progress` event and shown on the Now page. */
export const reportProgressTool = defineTool<SessionToolContext, typeof input>({
  name: 'report_progress',
  title: 'Report progress',
  description: 'Tell the people watching the orchestrator what you are doing and how far along you are. Shown live on its dashboard. Call it at milestones, not after every step.',
  input,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  run: async (args, context, call) => {
    const at = nowIso();
    const status = redactText(args.status);
    const percent = args.percent ?? null;
    await context.store.appendEvent({
      at,
      kind: RUN_PROGRESS_EVENT,
      runId: context.runId,
      workItemId: context.workItemId,
      message: percent === null ? status : `${status} (${Math.round(percent)}%)`,
      data: { status, percent, toolUseId: call.toolUseId },
    });
    context.bus?.emit('run.progress', { runId: context.runId, workItemId: context.workItemId, status, percent, at });
    return { text: `Progress recorded: ${status}${percent === null ? '' : ` (${Math.round(percent)}%)`}.` };
  },
});
