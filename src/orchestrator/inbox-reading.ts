import { nowIso } from '../lib/time.js';
import type { AgentMessageRecord, Store } from '../store/index.js';
import { MESSAGE_DELIVERED_EVENT, type SessionInbox } from './message-delivery.js';

/**
 * A session reading its own inbox (the `read_messages` tool, issue 9): the messages to its run, to its role on its
 * work item, and to its work item, except its own and those another session already got. Reading claims what was
 * not delivered yet (so the same message is not written into the session again at its next turn boundary) and
 * marks everything returned as read. The owner is the session's, bound to its channel: no argument names it.
 */

/** The most messages one read returns (unread first, then oldest first); the rest wait for the next read. */
export const MESSAGES_PER_READ = 50;
/** How many inbox rows are looked at, before leaving out the session's own and other sessions' messages. */
const INBOX_SCAN = 500;

export interface InboxRead {
  /** The messages returned, unread first, then oldest first; `wasUnread` says which were new to this read. */
  messages: { message: AgentMessageRecord; wasUnread: boolean }[];
  /** Messages of the inbox left for a later read (past MESSAGES_PER_READ). */
  more: number;
}

export async function readInbox(store: Store, inbox: SessionInbox, options: { unreadOnly: boolean }): Promise<InboxRead> {
  const rows = await store.inboxFor({ runId: inbox.runId, role: inbox.role, workItemId: inbox.workItemId, limit: INBOX_SCAN });
  const mine = rows.filter((message) => message.senderRunId !== inbox.runId && (!options.unreadOnly || message.readAt === null));

  // Not delivered yet: claim them for this run (one another session claims at the same moment is its, not ours).
  const waiting = mine.filter((message) => message.deliveredToRun === null).map((message) => message.id);
  const at = nowIso();
  const claimed = new Set(waiting.length > 0 ? await store.markMessagesDelivered(waiting, { runId: inbox.runId, at }) : []);
  // What this session may read: delivered to it before, or claimed now (one another session got is that session's).
  const readable = mine.filter((message) => message.deliveredToRun === inbox.runId || claimed.has(message.id));
  const shown = readable.slice(0, MESSAGES_PER_READ);
  for (const message of shown.filter((message) => claimed.has(message.id))) {
    await store.appendEvent({ at, kind: MESSAGE_DELIVERED_EVENT, runId: inbox.runId, workItemId: inbox.workItemId, message: `message ${message.id} read with read_messages`, data: { messageId: message.id, how: 'read_messages' } });
  }
  // Claimed but not shown (past the read's limit): released, so they reach this session or the next as usual.
  const unshown = readable.slice(MESSAGES_PER_READ).filter((message) => claimed.has(message.id)).map((message) => message.id);
  if (unshown.length > 0) await store.releaseMessageDelivery(unshown, inbox.runId);

  const unread = shown.filter((message) => message.readAt === null).map((message) => message.id);
  if (unread.length > 0) await store.markMessagesRead(unread, at);
  return { messages: shown.map((message) => ({ message, wasUnread: message.readAt === null })), more: readable.length - shown.length };
}
