import type { EventLog, LoggedEvent } from './event-log.js';

const HEARTBEAT_MS = 15_000;
/** A client that has this much unsent is too slow: it is disconnected and catches up by Last-Event-ID. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export interface EventStreamOptions {
  log: EventLog | null;
  /** Only this run's events (full messages); otherwise every event, with messages as small `run.activity` digests. */
  runId: string | null;
  lastEventId: string | null;
  signal: AbortSignal;
  heartbeatMs?: number;
}

function frame(event: string, data: string, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;
}

function render(log: EventLog, event: LoggedEvent, runId: string | null): string | null {
  if (runId !== null) return event.runId === runId && event.json !== null ? frame(event.name, event.json, log.idOf(event)) : null;
  if (event.name === 'run.message') {
    const activity = log.activityJson(event);
    return activity === null ? null : frame('run.activity', activity, log.idOf(event));
  }
  return event.json === null ? null : frame(event.name, event.json, log.idOf(event));
}

/**
 * A server-sent event stream of the orchestrator's events. A new client gets `hello` (with the current id, so
 * that a reconnect resumes from here) and loads its snapshot from the API; a reconnecting client sends
 * Last-Event-ID and gets exactly the events it missed, or `reset` when they are gone (reload the snapshot).
 */
export function eventStreamResponse(options: EventStreamOptions): Response {
  const encoder = new TextEncoder();
  const { log, runId } = options;
  let cleanup = () => {};
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      let closed = false;
      const write = (text: string) => {
        if (closed) return;
        if ((controller.desiredSize ?? 0) < -MAX_BUFFERED_BYTES) {
          close();
          return;
        }
        controller.enqueue(encoder.encode(text));
      };
      const close = () => {
        if (closed) return;
        closed = true;
        cleanup();
        try {
          controller.close();
        } catch {
          // already closed by the client
        }
      };
      write('retry: 1000\n\n');
      if (log === null) {
        write(frame('hello', JSON.stringify({ live: false })));
      } else {
        const replay = options.lastEventId === null ? null : log.replayAfter(options.lastEventId, runId === null ? null : { runId });
        if (replay?.kind === 'gap') write(frame('reset', JSON.stringify({ reason: 'missed events are no longer kept; reload the snapshot' })));
        // A new client of one run also gets that run's events still kept: messages emitted moments ago may not
        // have reached the store yet when it loads its snapshot (the client drops the ones it has twice).
        const backlog = replay?.kind === 'events' ? replay.events : replay === null && runId !== null ? log.kept().filter((event) => event.runId === runId) : [];
        if (backlog.length > 0) {
          for (const event of backlog) {
            const text = render(log, event, runId);
            if (text !== null) write(text);
          }
        }
        write(frame('hello', JSON.stringify({ live: true, epoch: log.epoch, lastSeq: log.lastSeq }), `${log.epoch}.${log.lastSeq}`));
      }
      const unsubscribe =
        log === null
          ? () => {}
          : log.subscribe((event) => {
              const text = render(log, event, runId);
              if (text !== null) write(text);
            });
      const heartbeat = setInterval(() => write(': ping\n\n'), options.heartbeatMs ?? HEARTBEAT_MS);
      heartbeat.unref();
      const onAbort = () => close();
      options.signal.addEventListener('abort', onAbort, { once: true });
      cleanup = () => {
        unsubscribe();
        clearInterval(heartbeat);
        options.signal.removeEventListener('abort', onAbort);
      };
    },
    cancel() {
      cleanup();
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }));
  return new Response(stream, {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    },
  });
}
