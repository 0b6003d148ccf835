import type { AgentMessageRecord } from './agent-messages.js';

/**
 * New agent messages written by this process, announced at once to what delivers them in this process (a session's
 * live inbox). SQLite announces nothing to other processes (their deliveries poll); PostgreSQL announces to every
 * process through NOTIFY as well. A listener that hears a message of another database only looks for nothing.
 */
type AgentMessageListener = (message: AgentMessageRecord) => void;
const listeners = new Set<AgentMessageListener>();

/** Calls `listener` with every message this process adds, until `signal` aborts. */
export function onAgentMessageAdded(listener: AgentMessageListener, options: { signal: AbortSignal }): void {
  if (options.signal.aborted) return;
  listeners.add(listener);
  options.signal.addEventListener('abort', () => listeners.delete(listener), { once: true });
}

export function announceAgentMessage(message: AgentMessageRecord): void {
  for (const listener of [...listeners]) {
    try {
      listener(message);
    } catch {
      // A listener's failure is its own; the message is stored either way.
    }
  }
}

/**
 * Questions this process settled (answered, expired, cancelled), announced at once to what waits for them in this
 * process (an `ask_human` call answered from this process's dashboard). Other processes hear PostgreSQL's NOTIFY,
 * or poll (SQLite).
 */
type QuestionSettledListener = (questionId: number) => void;
const questionListeners = new Set<QuestionSettledListener>();

/** Calls `listener` with the id of every question this process settles, until `signal` aborts. */
export function onQuestionSettled(listener: QuestionSettledListener, options: { signal: AbortSignal }): void {
  if (options.signal.aborted) return;
  questionListeners.add(listener);
  options.signal.addEventListener('abort', () => questionListeners.delete(listener), { once: true });
}

export function announceQuestionSettled(questionId: number): void {
  for (const listener of [...questionListeners]) {
    try {
      listener(questionId);
    } catch {
      // A listener's failure is its own; the question is settled either way.
    }
  }
}
