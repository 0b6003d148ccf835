import { z } from 'zod';
import { redactText } from '../../lib/redact.js';
import { defineTool } from '../../mcp/index.js';
import { MAX_AGENT_MESSAGE_CHARS } from '../../store/index.js';
import { sendAgentMessage, type MessageTarget } from '../agent-message-sending.js';
import type { SessionToolContext } from './context.js';

const workItemRef = z.string().trim().min(1).max(40);

/** Whom to: strict objects, so that no extra field (a sender, another run's id) can slip in. */
const recipient = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('role'),
      role: z.string().trim().min(1).max(100).describe('The agent role, e.g. "code-developer", "code-reviewer", "architect".'),
      work_item: workItemRef.optional().describe('The work item whose session of that role it is for (e.g. "P-3"); default: your own.'),
    })
    .strict()
    .describe('The session of that role on a work item: the running one now, else its next one.'),
  z.object({ kind: z.literal('run'), run_id: z.string().trim().min(4).max(100).describe('The run id (or a unique prefix of it).') }).strict().describe('One running session.'),
  z.object({ kind: z.literal('work_item'), work_item: workItemRef.describe('e.g. "P-3" or "B-1".') }).strict().describe('Whichever session works on another work item next (or now).'),
  z.object({ kind: z.literal('human') }).strict().describe('The people watching the orchestrator: shown on its dashboard (they do not answer here; use ask_human for an answer).'),
]);

const input = z
  .object({
    to: recipient,
    text: z.string().describe(`What the recipient should know, self-contained (they do not see your session); at most ${MAX_AGENT_MESSAGE_CHARS} characters.`),
  })
  .strict();

function targetOf(to: z.output<typeof recipient>): MessageTarget {
  switch (to.kind) {
    case 'role':
      return { kind: 'role', role: to.role, workItem: to.work_item };
    case 'run':
      return { kind: 'run', runId: to.run_id };
    case 'work_item':
      return { kind: 'work_item', workItem: to.work_item };
    case 'human':
      return { kind: 'human' };
  }
}

/**
 * `send_message`: a message from this session (its run and role, from the channel) to another agent's session or to
 * a person, kept in agent_messages and delivered by the orchestrator; at most `messagesPerRun` per run and
 * `messagesPerItem` per work item.
 */
export const sendMessageTool = defineTool<SessionToolContext, typeof input>({
  name: 'send_message',
  title: 'Send a message',
  description:
    'Send a short message to another agent (e.g. warn the code-developer of your work item about a risk, or tell the reviewer what to look at) or to the people watching the orchestrator. An agent gets it in its running session at its next step, or in the prompt of its next session. Messages are few per session: send what changes the other agent\'s work, not status (use report_progress for that).',
  input,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  run: async (args, context) => {
    const outcome = await sendAgentMessage(
      context.store,
      { runId: context.runId, role: context.role, workItemId: context.workItemId },
      targetOf(args.to),
      redactText(args.text),
      { perRun: context.settings.messagesPerRun, perItem: context.settings.messagesPerItem },
    );
    switch (outcome.kind) {
      case 'sent':
        return { text: `Sent message ${outcome.message.id} to ${outcome.recipient}.` };
      case 'refused':
        return { isError: true, text: `Not sent: ${outcome.refusal.problem}. ${outcome.refusal.hint}` };
      case 'cap_reached':
        return {
          isError: true,
          text:
            outcome.scope === 'run'
              ? `Not sent: this run has already sent ${outcome.sent} messages, the limit per run (${outcome.cap}, config sessionTools.messagesPerRun). Put what is left in your final answer or your work's documents instead.`
              : `Not sent: agents have already sent ${outcome.sent} messages on ${outcome.workItemId ?? 'this work item'}, the limit per work item (${outcome.cap}, config sessionTools.messagesPerItem). Put what is left in your final answer or your work's documents instead.`,
        };
    }
  },
});
