import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  JSONRPCMessageSchema,
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCErrorResponse,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { OrchestratorError } from '../lib/errors.js';

/** A message from the CLI that is not JSON-RPC: answered with a control error, never handed to the server. */
export class InvalidMcpMessageError extends OrchestratorError {
  constructor(detail: string) {
    super('ORCH_MCP_MESSAGE_INVALID', `the CLI sent an MCP message that is not JSON-RPC 2.0: ${detail}`, {
      hint: 'The pinned Claude Code CLI sends JSON-RPC in each mcp_message; a different CLI version may speak another protocol.',
    });
  }
}

/**
 * The MCP SDK's Transport for a server served over the CLI's control channel, the way the Agent SDK serves
 * `createSdkMcpServer` (its `SdkControlServerTransport`). Each message from the CLI arrives as one control request;
 * `deliver` hands it to the server and resolves with the server's reply to it, which the session writes back as the
 * control response. A request is matched to its reply by its JSON-RPC id. Messages the server starts itself
 * (notifications) go to the CLI through `attach`'s callback as control requests of their own.
 */
export class ControlChannelTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  readonly #waiting = new Map<RequestId, (reply: JSONRPCMessage) => void>();
  #toCli: ((message: JSONRPCMessage) => void) | null = null;
  #closed = false;

  /** Nothing to start: the session's stdin and stdout are already open. */
  async start(): Promise<void> {}

  /** Where messages the server starts itself go (to the CLI, as control requests). Until attached they are dropped. */
  attach(toCli: (message: JSONRPCMessage) => void): void {
    this.#toCli = toCli;
  }

  /** From the server: a reply to a request `deliver` waits for, or a message of its own for the CLI. */
  async send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) throw new OrchestratorError('ORCH_MCP_TRANSPORT_CLOSED', 'the session this MCP server served has ended');
    if (isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) {
      const id = message.id;
      const settle = id === undefined ? undefined : this.#waiting.get(id);
      if (id !== undefined && settle) {
        this.#waiting.delete(id);
        settle(message);
      }
      // A reply nobody waits for (its request was cancelled and already answered) is dropped.
      return;
    }
    this.#toCli?.(message);
  }

  /**
   * One message from the CLI. A request resolves with the server's reply (a result, or a JSON-RPC error); a
   * notification or a reply to the server's own request resolves with null at once. After `close`, a request is
   * answered with a connection-closed error.
   */
  deliver(raw: unknown): Promise<JSONRPCMessage | null> {
    const parsed = JSONRPCMessageSchema.safeParse(raw);
    if (!parsed.success) return Promise.reject(new InvalidMcpMessageError(parsed.error.issues[0]?.message ?? 'unreadable'));
    const message = parsed.data;
    if (isJSONRPCRequest(message)) {
      if (this.#closed || !this.onmessage) return Promise.resolve(errorReply(message.id, ErrorCode.ConnectionClosed, 'the MCP server is closed'));
      // The CLI never reuses an id while its request is open; if it did, the older request is answered first.
      this.#waiting.get(message.id)?.(errorReply(message.id, ErrorCode.InvalidRequest, `request id ${String(message.id)} was sent again`));
      const reply = new Promise<JSONRPCMessage>((resolve) => this.#waiting.set(message.id, resolve));
      this.onmessage(message);
      return reply;
    }
    if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
      // The server stops the call without a reply; the CLI's control request for it still wants an answer.
      const id = message.params?.requestId as RequestId | undefined;
      const settle = id === undefined ? undefined : this.#waiting.get(id);
      if (id !== undefined && settle) {
        this.#waiting.delete(id);
        settle(errorReply(id, ErrorCode.RequestTimeout, 'cancelled by the client'));
      }
    }
    if (!this.#closed) this.onmessage?.(message);
    return Promise.resolve(null);
  }

  /** Ends the connection: every request still waiting is answered with a connection-closed error. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [id, settle] of this.#waiting) settle(errorReply(id, ErrorCode.ConnectionClosed, 'the session ended before the call finished'));
    this.#waiting.clear();
    this.onclose?.();
  }
}

function errorReply(id: RequestId, code: number, message: string): JSONRPCErrorResponse {
  return { jsonrpc: '2.0', id, error: { code, message } };
}
