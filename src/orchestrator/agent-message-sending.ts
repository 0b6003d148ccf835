import { isTerminalRunStatus, type RunId, type WorkItemId } from '../events/index.js';
import { OrchestratorError } from '../lib/errors.js';
import { nowIso } from '../lib/time.js';
import { messageTextProblem, type AgentMessageRecord, type MessageRecipient, type Store } from '../store/index.js';
import { Role } from './role-policies.js';

/**
 * An agent's message to another agent or to a person (the `send_message` tool, issue 9): checked (the recipient
 * exists and is not the sender itself, the text is sendable), counted against the per-run and per-item caps, and
 * recorded in `agent_messages` as sent by the session's run and role. Delivery is message-delivery.ts's: into the
 * recipient's running session at its next turn boundary, else into the prompt of its next session.
 */

/** The sending session; bound to its channel, never taken from what the model writes. */
export interface MessageSender {
  runId: RunId;
  role: string;
  workItemId: WorkItemId | null;
}

/** Whom the model asks to send to, as it wrote it (work items and runs are references still to be checked). */
export type MessageTarget =
  | { kind: 'role'; role: string; workItem?: string | undefined }
  | { kind: 'run'; runId: string }
  | { kind: 'work_item'; workItem: string }
  | { kind: 'human' };

export interface MessageCaps {
  /** Messages one run may send. */
  perRun: number;
  /** Messages agents may send in one work item's thread, all runs together. */
  perItem: number;
}

/** What the model is told when a message is not sent: the problem, and what to do instead. */
export interface MessageRefusal {
  problem: string;
  hint: string;
}

export type SendOutcome =
  | { kind: 'sent'; message: AgentMessageRecord; recipient: string }
  | { kind: 'refused'; refusal: MessageRefusal }
  | { kind: 'cap_reached'; scope: 'run' | 'item'; sent: number; cap: number; workItemId: WorkItemId | null };

/** The audit event a sent message leaves on the sending run (its timeline, and its item's history). */
export const MESSAGE_SENT_EVENT = 'agent_message.sent';

/** Listing limit when counting messages against a cap (far above any sensible cap). */
const COUNT_LIMIT = 100_000;

/** One message at a time in this process, so that two calls of one session never both pass a cap by one. */
let sendingQueue: Promise<unknown> = Promise.resolve();

/** Sends `text` from `sender` to `target`, or says why not (a refusal is never thrown: it is the model's to read). */
export function sendAgentMessage(store: Store, sender: MessageSender, target: MessageTarget, text: string, caps: MessageCaps): Promise<SendOutcome> {
  const sending = sendingQueue.then(() => sendNow(store, sender, target, text, caps));
  sendingQueue = sending.catch(() => undefined);
  return sending;
}

async function sendNow(store: Store, sender: MessageSender, target: MessageTarget, text: string, caps: MessageCaps): Promise<SendOutcome> {
  const textProblem = messageTextProblem(text);
  if (textProblem) {
    return refused(textProblem.message, text.trim().length === 0 ? 'Write what the recipient should know in `text`.' : 'Say it shorter, or put the details in a file of the repository and point to it.');
  }
  const resolved = await resolveRecipient(store, sender, target);
  if ('problem' in resolved) return { kind: 'refused', refusal: resolved };

  const sentByRun = (await store.listAgentMessages({ runId: sender.runId, limit: COUNT_LIMIT })).filter((message) => message.senderKind === 'agent' && message.senderRunId === sender.runId).length;
  if (sentByRun >= caps.perRun) return { kind: 'cap_reached', scope: 'run', sent: sentByRun, cap: caps.perRun, workItemId: resolved.threadItem };
  if (resolved.threadItem !== null) {
    const thread = await store.listAgentMessages({ workItemId: resolved.threadItem, limit: COUNT_LIMIT });
    const sentInItem = thread.filter((message) => message.senderKind === 'agent' && message.workItemId === resolved.threadItem).length;
    if (sentInItem >= caps.perItem) return { kind: 'cap_reached', scope: 'item', sent: sentInItem, cap: caps.perItem, workItemId: resolved.threadItem };
  }

  const at = nowIso();
  const message = await store.addAgentMessage({
    at,
    sender: { kind: 'agent', runId: sender.runId, role: sender.role, label: sender.role },
    recipient: resolved.recipient,
    workItemId: resolved.threadItem,
    body: text,
  });
  await store.appendEvent({
    at,
    kind: MESSAGE_SENT_EVENT,
    runId: sender.runId,
    workItemId: sender.workItemId ?? resolved.threadItem,
    message: `${sender.role} sent message ${message.id} to ${resolved.description}`,
    data: { messageId: message.id, recipientKind: resolved.recipient.kind },
  });
  return { kind: 'sent', message, recipient: resolved.description };
}

interface ResolvedRecipient {
  recipient: MessageRecipient;
  /** The thread the message belongs to (and counts against): the recipient's item, else the sender's. */
  threadItem: WorkItemId | null;
  /** The recipient in words, for the sender's reply and the audit trail. */
  description: string;
}

async function resolveRecipient(store: Store, sender: MessageSender, target: MessageTarget): Promise<ResolvedRecipient | MessageRefusal> {
  switch (target.kind) {
    case 'human':
      return { recipient: { kind: 'human' }, threadItem: sender.workItemId, description: 'the people watching the orchestrator (its dashboard)' };
    case 'run':
      return resolveRun(store, sender, target.runId);
    case 'work_item': {
      const item = await resolveItem(store, target.workItem);
      if ('problem' in item) return item;
      if (item.id === sender.workItemId) {
        return refusal(`${item.id} is your own work item: a message to it would come back to you`, `Name the role it is for: {"kind": "role", "role": "code-developer"} (the work item defaults to yours).`);
      }
      return { recipient: { kind: 'work_item', workItemId: item.id }, threadItem: item.id, description: `the sessions of ${item.id}` };
    }
    case 'role': {
      const role = target.role.trim();
      let itemId: WorkItemId;
      if (target.workItem === undefined) {
        if (sender.workItemId === null) {
          return refusal('this session works on no work item, so the role has no item to default to', 'Name the work item too: {"kind": "role", "role": "…", "work_item": "P-3"}.');
        }
        itemId = sender.workItemId;
      } else {
        const item = await resolveItem(store, target.workItem);
        if ('problem' in item) return item;
        itemId = item.id;
      }
      if (role === sender.role && itemId === sender.workItemId) {
        return refusal(`you are the ${role} of ${itemId}: the message would come back to you`, 'Send it to another role of the item (e.g. code-developer, code-reviewer, architect), or to a person: {"kind": "human"}.');
      }
      const known = await knownRoles(store, itemId);
      if (!known.includes(role)) {
        return refusal(`there is no role "${role}" on ${itemId}`, `Name one of: ${known.join(', ')}.`);
      }
      return { recipient: { kind: 'role', role, workItemId: itemId }, threadItem: itemId, description: `the ${role} of ${itemId}` };
    }
  }
}

async function resolveRun(store: Store, sender: MessageSender, ref: string): Promise<ResolvedRecipient | MessageRefusal> {
  let run;
  try {
    run = await store.findRun(ref);
  } catch (error) {
    // An ambiguous prefix: the store's message lists the matches.
    if (error instanceof OrchestratorError) return refusal(error.message, 'Give the whole run id.');
    throw error;
  }
  if (!run) return refusal(`there is no run "${ref}"`, 'Give a run id as the orchestrator shows it, or send to a role of a work item: {"kind": "role", "role": "…"}.');
  if (run.id === sender.runId) return refusal(`run ${run.id} is your own run`, 'Send to another run, to a role of your work item, or to a person.');
  if (isTerminalRunStatus(run.status)) {
    return refusal(
      `run ${run.id} (${run.agent}) has ended (${run.status}): it would never read the message`,
      run.workItemId ? `Send it to the role instead, for its next session: {"kind": "role", "role": "${run.agent}", "work_item": "${run.workItemId}"}.` : 'Send it to a run that is working now, or to a role of a work item.',
    );
  }
  return {
    recipient: { kind: 'run', runId: run.id },
    threadItem: sender.workItemId ?? run.workItemId,
    description: `run ${run.id} (${run.agent}${run.workItemId ? ` of ${run.workItemId}` : ''})`,
  };
}

/** A work item by its id as the orchestrator writes it (`P-3`, `B-1`), case and spaces forgiven. */
async function resolveItem(store: Store, ref: string): Promise<{ id: WorkItemId } | MessageRefusal> {
  const id = ref.trim().toUpperCase() as WorkItemId;
  const item = id.length > 0 ? await store.getWorkItem(id) : null;
  if (!item) return refusal(`there is no work item "${ref}"`, 'Give its id as the orchestrator writes it: P-<n> for a roadmap priority, B-<n> for a bug (your own item is the default).');
  return { id: item.id };
}

/** The roles a message to a work item's role may name: the pipeline's, and every agent that has run on the item. */
async function knownRoles(store: Store, workItemId: WorkItemId): Promise<string[]> {
  const ran = (await store.listRuns({ workItemId, limit: 500 })).map((run) => run.agent);
  return [...new Set<string>([...Object.values(Role), ...ran])];
}

function refusal(problem: string, hint: string): MessageRefusal {
  return { problem, hint };
}

function refused(problem: string, hint: string): SendOutcome {
  return { kind: 'refused', refusal: refusal(problem, hint) };
}
