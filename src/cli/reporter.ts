import type { EventBus, RunId } from '../events/index.js';
import { formatStreamMessage, painter } from './format.js';

/**
 * The terminal view of a session: one more subscriber of the event bus (beside the store writer).
 * Writes only to the stream it is given (stdout for the user-facing view).
 */
export function attachTerminalReporter(bus: EventBus, out: NodeJS.WriteStream, options: { cwdOf: (runId: RunId) => string | null; prefixAgent?: boolean }): () => void {
  const paint = painter(out);
  const agents = new Map<RunId, string>();
  const prefix = (runId: RunId) => (options.prefixAgent ? paint.dim(`[${agents.get(runId) ?? runId.slice(0, 8)}] `) : '');
  const unsubscribers = [
    bus.on('run.queued', (event) => {
      agents.set(event.runId, event.agent);
    }),
    bus.on('run.started', (event) => {
      agents.set(event.runId, event.agent);
      out.write(`${prefix(event.runId)}${paint.bold('▶')} run ${event.runId} · ${paint.bold(event.agent)} · pid ${event.pid}\n`);
    }),
    bus.on('run.message', (record) => {
      for (const line of formatStreamMessage(record.payload, paint, options.cwdOf(record.runId))) out.write(`${prefix(record.runId)}${line}\n`);
    }),
    bus.on('run.permission_denied', (event) => {
      out.write(`${prefix(event.runId)}  ${paint.yellow('⛔ denied')} ${event.toolName}: ${event.reason}\n`);
    }),
    bus.on('run.ended', (event) => {
      const text = `${event.status}${event.errorMessage ? `: ${event.errorMessage}` : ''}`;
      const painted = event.status === 'succeeded' ? paint.green(text) : paint.red(text);
      out.write(`${prefix(event.runId)}${paint.bold('■')} run ${event.runId.slice(0, 12)} ${painted}\n`);
    }),
  ];
  return () => {
    for (const unsubscribe of unsubscribers) unsubscribe();
  };
}
