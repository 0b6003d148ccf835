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
