import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST as a webhook receiver got it. */
export interface ReceivedWebhook {
  path: string;
  contentType: string | undefined;
  body: Record<string, unknown>;
}

/** What the receiver does with request number `n` (1-based): answer with a status, or close the socket unanswered. */
export type WebhookReply = (n: number, request: IncomingMessage) => { status: number } | 'close-socket';

export interface WebhookReceiver extends AsyncDisposable {
  readonly port: number;
  /** Every POST, in arrival order (bodies parsed; a body that is not JSON fails the receiver's test loudly). */
  readonly received: ReceivedWebhook[];
  /** Resolves once a POST matching `predicate` has arrived (at once if one already has). */
  waitFor(predicate: (hook: ReceivedWebhook) => boolean): Promise<ReceivedWebhook>;
}

/** A local HTTP receiver on 127.0.0.1 (ephemeral port), closed at the end of its `await using` scope. */
export async function webhookReceiver(reply: WebhookReply = () => ({ status: 200 })): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const waiters: { predicate: (hook: ReceivedWebhook) => boolean; resolve: (hook: ReceivedWebhook) => void }[] = [];
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const hook: ReceivedWebhook = { path: request.url ?? '', contentType: request.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> };
      received.push(hook);
      for (const waiter of waiters.filter((entry) => entry.predicate(hook))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(hook);
      }
      const answer = reply(received.length, request);
      if (answer === 'close-socket') request.socket.destroy();
      else response.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    waitFor(predicate) {
      const found = received.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
