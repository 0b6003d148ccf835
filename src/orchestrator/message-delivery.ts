import { messagesForYouSection, type PromptMessage } from '../agents/index.js';
import type { RunId, WorkItemId } from '../events/index.js';
import { SessionInputClosedError } from '../lib/errors.js';
import { nowIso } from '../lib/time.js';
import type { SendUserMessageOptions, SentUserMessage, SteeringOrigin } from '../runtime/index.js';
import { onAgentMessageAdded, type AgentMessageRecord, type InboxOwner, type Store } from '../store/index.js';

/**
 * Delivery of the agent message queue (issue 9): a message reaches a session once, either live (a user message on
 * the running session's stdin, at its next turn boundary) or in the prompt of the next session of its recipient.
 * Each delivery is a claim in the store (markMessagesDelivered), so that two sessions, on any machines, never both
 * get one message; a claim whose session ended before taking the message in is released for the next session.
 */

/** How often a live session's owner looks for new messages when the store does not announce them (SQLite), as for stops. */
export const MESSAGE_POLL_MS = 500;
/** The owner's safety net when the store announces new messages (PostgreSQL NOTIFY), as for stops. */
export const MESSAGE_SAFETY_POLL_MS = 10_000;
/** At most this many waiting messages go into one prompt or one round of live delivery (older ones first). */
export const MESSAGES_PER_DELIVERY = 20;

/** The audit event of a message delivered into a session (shown in the run's timeline). */
export const MESSAGE_DELIVERED_EVENT = 'agent_message.delivered';

/** Who sent a message, as the receiving session is told (the mark is the runtime's: steering.ts). */
export function steeringOriginOf(message: AgentMessageRecord): SteeringOrigin {
  switch (message.senderKind) {
    case 'human':
      return { kind: 'person', ...(message.senderLabel ? { via: message.senderLabel } : {}) };
    case 'agent':
      return {
        kind: 'agent',
        role: message.senderRole ?? message.senderLabel ?? 'agent',
        ...(message.senderRunId ? { runId: message.senderRunId } : {}),
        ...(message.workItemId ? { workItemId: message.workItemId } : {}),
      };
    case 'orchestrator':
      return { kind: 'orchestrator' };
  }
}

/** The sender in words, for a prompt and for the terminal. */
export function senderOf(message: AgentMessageRecord): string {
  const origin = steeringOriginOf(message);
  switch (origin.kind) {
    case 'person':
      return `a person${origin.via ? ` (${origin.via})` : ''}`;
    case 'agent':
      return `agent "${origin.role}"${origin.workItemId ? ` of ${origin.workItemId}` : ''}${origin.runId ? ` (run ${origin.runId.slice(0, 12)})` : ''}`;
    case 'orchestrator':
      return 'the orchestrator';
  }
}

/** The session a message is for: its run, its role (the agent's name) and its work item. */
export interface SessionInbox extends InboxOwner {
  runId: RunId;
  role: string;
  workItemId: WorkItemId | null;
}

/**
 * Claims the messages waiting for a session that is about to start (to its role on its item, to its item, and to
 * its run when the run is continued) and returns the prompt with a "Messages for you" section, and what it claimed.
 */
export async function withWaitingMessages(store: Store, inbox: SessionInbox, prompt: string): Promise<{ prompt: string; delivered: AgentMessageRecord[] }> {
  const delivered = await claimWaiting(store, inbox);
  if (delivered.length === 0) return { prompt, delivered };
  const section: PromptMessage[] = delivered.map((message) => ({ from: senderOf(message), at: message.createdAt, body: message.body }));
  await recordDeliveries(store, inbox, delivered, 'prompt');
  return { prompt: `${prompt}${messagesForYouSection(section)}`, delivered };
}

/** The undelivered messages of `inbox`, oldest first, claimed for its run (only those this call won). */
async function claimWaiting(store: Store, inbox: SessionInbox): Promise<AgentMessageRecord[]> {
  const waiting = (await store.inboxFor({ ...inbox, undeliveredOnly: true, limit: MESSAGES_PER_DELIVERY })).sort((a, b) => a.id - b.id);
  if (waiting.length === 0) return [];
  const claimed = new Set(await store.markMessagesDelivered(waiting.map((message) => message.id), { runId: inbox.runId, at: nowIso() }));
  return waiting.filter((message) => claimed.has(message.id));
}

async function recordDeliveries(store: Store, inbox: SessionInbox, messages: readonly AgentMessageRecord[], how: 'prompt' | 'live'): Promise<void> {
  for (const message of messages) {
    await store.appendEvent({
      at: nowIso(),
      kind: MESSAGE_DELIVERED_EVENT,
      runId: inbox.runId,
      workItemId: inbox.workItemId,
      message: `message ${message.id} from ${senderOf(message)} delivered ${how === 'prompt' ? 'in the prompt' : 'into the running session'}`,
      data: { messageId: message.id, how },
    });
  }
}

/** What live delivery needs of a running session (ClaudeSession). */
export interface SteerableSession {
  sendUserMessage(text: string, options: SendUserMessageOptions): Promise<SentUserMessage>;
}

/** The sessions this process runs and delivers to, by run id (the process that spawned them: coordinator or worker). */
const liveSessions = new Map<RunId, SteerableSession>();

/** The live session of `runId` if this process runs it (while its delivery is on), else null. */
export function liveSessionOf(runId: RunId): SteerableSession | null {
  return liveSessions.get(runId) ?? null;
}

export interface LiveDeliveryOptions {
  /** Without store announcements, how often to look (default MESSAGE_POLL_MS; with them MESSAGE_SAFETY_POLL_MS). */
  pollMs?: number;
  /** Hears each message written into the session. */
  onDelivered?: (message: AgentMessageRecord, sent: SentUserMessage) => void;
  /** Hears failures to read or write the store (delivery goes on at the next round). */
  onError?: (error: unknown) => void;
}

/**
 * Delivers the messages for a running session into it as they arrive, until `stop()`: a message added in this
 * process is seen at once; one added by another process is heard through the store's announcements (PostgreSQL
 * NOTIFY, from any machine, as stops are) or, without them (SQLite), at the next poll. Each message is claimed,
 * written on the session's stdin marked with its sender (untrusted, it grants nothing), and recorded as delivered;
 * one the session ends without taking in is released, for the next session of its recipient.
 */
export function deliverLive(store: Store, inbox: SessionInbox, session: SteerableSession, options: LiveDeliveryOptions = {}): { stop: () => void } {
  const watching = new AbortController();
  liveSessions.set(inbox.runId, session);
  watching.signal.addEventListener('abort', () => {
    if (liveSessions.get(inbox.runId) === session) liveSessions.delete(inbox.runId);
  }, { once: true });
  let checking = false;
  let checkAgain = false;
  const round = async (): Promise<void> => {
    const claimed = await claimWaiting(store, inbox);
    for (const [index, message] of claimed.entries()) {
      let sent: SentUserMessage;
      try {
        sent = await session.sendUserMessage(message.body, { origin: steeringOriginOf(message) });
      } catch (error) {
        // The session takes no more input (its task is done, or it is being stopped): the rest waits for the next one.
        await store.releaseMessageDelivery(claimed.slice(index).map((m) => m.id), inbox.runId);
        if (error instanceof SessionInputClosedError) watching.abort();
        else throw error;
        return;
      }
      options.onDelivered?.(message, sent);
      await recordDeliveries(store, inbox, [message], 'live');
      void sent.consumed.then(async (consumedAt) => {
        if (consumedAt === null) await store.releaseMessageDelivery([message.id], inbox.runId);
      }).catch((error: unknown) => options.onError?.(error));
    }
  };
  const check = (): void => {
    if (watching.signal.aborted) return;
    if (checking) {
      checkAgain = true;
      return;
    }
    checking = true;
    round()
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        checking = false;
        if (checkAgain) {
          checkAgain = false;
          check();
        }
      });
  };
  const concerns = (runId: RunId | null, workItemId: WorkItemId | null): boolean => runId === inbox.runId || (workItemId !== null && workItemId === inbox.workItemId);
  onAgentMessageAdded((message) => {
    if (concerns(message.recipientRunId, message.recipientWorkItemId)) check();
  }, { signal: watching.signal });
  const changes = store.changes;
  changes?.subscribe(
    {
      onChange: (change) => {
        if (change.kind === 'agent_message' && concerns(change.runId, change.workItemId)) check();
      },
      onResync: check,
    },
    { signal: watching.signal },
  );
  const timer = setInterval(check, options.pollMs ?? (changes ? MESSAGE_SAFETY_POLL_MS : MESSAGE_POLL_MS));
  timer.unref();
  watching.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  check();
  return { stop: () => watching.abort() };
}
