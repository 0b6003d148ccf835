import type { RunId, WorkItemId } from '../events/index.js';

/**
 * The agent-to-agent message queue and the questions that wait for a person (issue 9). `agent_messages` is its own
 * table: `messages` already names the stream lines of a session. A message names who sent it and to whom; it is
 * delivered once (into a live session, or into the prompt of the next session of its recipient), and read when the
 * recipient's inbox is read. Bodies are untrusted text: a message grants nothing.
 */

/** Who wrote a message: a person (dashboard, CLI), an agent's session, or the orchestrator itself. */
export const MessageSenderKind = { human: 'human', agent: 'agent', orchestrator: 'orchestrator' } as const;
export type MessageSenderKind = (typeof MessageSenderKind)[keyof typeof MessageSenderKind];

/**
 * Whom a message is for: one run; a role on a work item (whichever session of that role works on it next, or now);
 * a work item (any session of it); or a person.
 */
export const MessageRecipientKind = { run: 'run', role: 'role', workItem: 'work_item', human: 'human' } as const;
export type MessageRecipientKind = (typeof MessageRecipientKind)[keyof typeof MessageRecipientKind];

export type MessageRecipient =
  | { kind: 'run'; runId: RunId }
  | { kind: 'role'; role: string; workItemId: WorkItemId }
  | { kind: 'work_item'; workItemId: WorkItemId }
  | { kind: 'human' };

export interface NewAgentMessage {
  at: string;
  sender: {
    kind: MessageSenderKind;
    /** The sending session's run (agents), else null. */
    runId?: RunId | null;
    /** The sending session's role (agents), else null. */
    role?: string | null;
    /** Who, in words: a person's name, `dashboard`, `cli`, or the agent's role. */
    label?: string | null;
  };
  recipient: MessageRecipient;
  /** The thread's work item: the recipient's, or the sender's item for a message to a run or a person. */
  workItemId?: WorkItemId | null;
  body: string;
}

export interface AgentMessageRecord {
  id: number;
  createdAt: string;
  senderKind: MessageSenderKind;
  senderRunId: RunId | null;
  senderRole: string | null;
  senderLabel: string | null;
  recipientKind: MessageRecipientKind;
  recipientRunId: RunId | null;
  recipientRole: string | null;
  recipientWorkItemId: WorkItemId | null;
  workItemId: WorkItemId | null;
  body: string;
  /** When it went into a session (live, or in a prompt); null while it waits. */
  deliveredAt: string | null;
  /** The run that got it. */
  deliveredToRun: RunId | null;
  readAt: string | null;
}

export interface AgentMessageFilter {
  /** Messages sent by, addressed to, or delivered to this run. */
  runId?: RunId;
  /** Messages of this work item's thread (or addressed to it). */
  workItemId?: WorkItemId;
  recipientKind?: MessageRecipientKind;
  /** Only messages not delivered yet. */
  undelivered?: boolean;
  /** Messages with id > afterId. */
  afterId?: number;
  /** Default 200; the newest `limit` messages, returned oldest first. */
  limit?: number;
}

/** Whose inbox: a session is the run, its role, and its work item. */
export interface InboxOwner {
  runId: RunId;
  role?: string | null;
  workItemId?: WorkItemId | null;
}

export interface InboxQuery extends InboxOwner {
  /** Only messages not delivered to any session yet (what a new or live session should be given). */
  undeliveredOnly?: boolean;
  /** Default 100. */
  limit?: number;
}

export const QuestionState = { open: 'open', answered: 'answered', expired: 'expired', cancelled: 'cancelled' } as const;
export type QuestionState = (typeof QuestionState)[keyof typeof QuestionState];

export interface NewQuestion {
  runId: RunId;
  workItemId?: WorkItemId | null;
  role?: string | null;
  text: string;
  /** The answers offered (the person may still write another), or null. */
  choices?: readonly string[] | null;
  at: string;
  /** When the asking tool stops waiting and gives its fallback, or null for no limit. */
  deadlineAt?: string | null;
}

export interface QuestionRecord {
  id: number;
  runId: RunId;
  workItemId: WorkItemId | null;
  role: string | null;
  text: string;
  choices: string[] | null;
  createdAt: string;
  deadlineAt: string | null;
  answeredAt: string | null;
  answer: string | null;
  answeredBy: string | null;
  state: QuestionState;
}

export interface QuestionAnswer {
  answer: string;
  /** Who answered, in words (`dashboard`, `cli`, a name). */
  answeredBy: string;
  at: string;
}

/** The audit event kinds the store appends with a question, in the same transaction (notifications follow them). */
export const QUESTION_ASKED_EVENT = 'question.asked';
export const QUESTION_ANSWERED_EVENT = 'question.answered';
export const QUESTION_EXPIRED_EVENT = 'question.expired';
export const QUESTION_CANCELLED_EVENT = 'question.cancelled';

/** The longest message or answer a person or an agent may send (a steering message is read by a model, not a log). */
export const MAX_AGENT_MESSAGE_CHARS = 8_000;

/** The problem with a message's text, or null when it can be sent: not empty, not longer than MAX_AGENT_MESSAGE_CHARS. */
export function messageTextProblem(text: string): { message: string; hint: string } | null {
  if (text.trim().length === 0) return { message: 'the message is empty', hint: 'Write what the agent should know, in quotes: orchestrator say <run> "…".' };
  if (text.length > MAX_AGENT_MESSAGE_CHARS) {
    return { message: `the message is ${text.length} characters long, more than ${MAX_AGENT_MESSAGE_CHARS}`, hint: 'Say it shorter, or put the details in a file of the repository and point to it.' };
  }
  return null;
}
