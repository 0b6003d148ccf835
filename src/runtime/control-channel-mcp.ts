import type { JsonObject } from '../events/index.js';
import { errorMessage } from '../lib/errors.js';

/**
 * An MCP server the session serves itself, in this process, over the CLI's control channel: an SDK-type server,
 * as the Agent SDK's `createSdkMcpServer` is served (see docs/architecture.md, "the orchestrator's tools are an MCP
 * server on the control channel"). The session names it in its `initialize` request (`sdkMcpServers`); the CLI then
 * sends each JSON-RPC message for it as a `control_request` of subtype `mcp_message`, and takes the JSON-RPC
 * response from our `control_response` (`{ mcp_response }`). No port, no secret: whoever holds the session's stdin
 * and stdout is the only client, so the server knows whose session it serves from the channel alone.
 *
 * The runtime knows nothing of MCP beyond this: src/mcp implements it on the official MCP SDK.
 */
export interface ControlChannelMcpServer {
  /** The server's name: its tools reach the model as `mcp__<name>__<tool>`. */
  readonly name: string;
  /**
   * Connects the server to the session before the CLI starts: `toCli` sends a message the server starts itself (a
   * notification) to the CLI. Called once.
   */
  connect(toCli: (message: JsonObject) => void): void;
  /**
   * Hands the server one JSON-RPC message from the CLI. Resolves with the server's JSON-RPC response to a request, or
   * null for a notification. A failing tool is a response (`isError`), not a rejection.
   */
  handleMessage(message: JsonObject): Promise<JsonObject | null>;
  /** Ends the server: calls still running are aborted. Called once the session has ended. */
  close(): Promise<void>;
}

/** The CLI option that approves every tool of these servers without asking (`mcp__<server>` covers all its tools). */
export function mcpServerToolRules(servers: readonly Pick<ControlChannelMcpServer, 'name'>[]): string[] {
  return servers.map((server) => `mcp__${server.name}`);
}

/**
 * What the Agent SDK answers for a notification (the CLI waits for a response to every `mcp_message`, and its
 * client hands this one on to nobody). Copied from `@anthropic-ai/claude-agent-sdk` 0.3.331, sdk.mjs.
 */
const NOTIFICATION_ACK: JsonObject = { jsonrpc: '2.0', result: {}, id: 0 };

/**
 * The control response to one `mcp_message` request: the server's JSON-RPC reply in `mcp_response`, or a control
 * error naming an unknown server (the CLI then fails that server's call, not the session).
 */
export async function answerMcpMessage(servers: ReadonlyMap<string, ControlChannelMcpServer>, requestId: string, request: JsonObject): Promise<JsonObject> {
  const name = typeof request.server_name === 'string' ? request.server_name : '';
  const server = servers.get(name);
  const message = request.message;
  if (!server || typeof message !== 'object' || message === null || Array.isArray(message)) {
    const error = server ? 'mcp_message without a JSON-RPC message' : `no SDK MCP server named "${name}" in this session (it has: ${[...servers.keys()].join(', ') || 'none'})`;
    return { type: 'control_response', response: { subtype: 'error', request_id: requestId, error } };
  }
  try {
    const reply = await server.handleMessage(message);
    return { type: 'control_response', response: { subtype: 'success', request_id: requestId, response: { mcp_response: reply ?? NOTIFICATION_ACK } } };
  } catch (error) {
    return { type: 'control_response', response: { subtype: 'error', request_id: requestId, error: `MCP server "${name}" failed: ${errorMessage(error)}` } };
  }
}
