import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { JsonObject } from '../events/index.js';
import { OrchestratorError, errorMessage } from '../lib/errors.js';
import type { ControlChannelMcpServer } from '../runtime/index.js';
import { ControlChannelTransport } from './control-channel-transport.js';
import type { ToolDefinition, ToolReply } from './tool-definition.js';

export interface ToolServerOptions<C> {
  /** The server's name: its tools reach the model as `mcp__<name>__<tool>`. */
  name: string;
  version: string;
  tools: readonly ToolDefinition<C>[];
  /** The session the server serves, bound once: every call runs with it, whatever its arguments say. */
  context: C;
  /** Aborts every call of this server (e.g. the session's stop); calls are also aborted when the server closes. */
  signal?: AbortSignal;
}

/**
 * An MCP server on the official SDK (McpServer), served over the session's control channel: the session hands it
 * each JSON-RPC message from the CLI and writes back its reply. One per session, created with that session's
 * context, so the identity of the caller is the channel's, never an argument's.
 */
export function createToolServer<C>(options: ToolServerOptions<C>): ControlChannelMcpServer {
  const names = new Set<string>();
  const server = new McpServer({ name: options.name, version: options.version }, { capabilities: { tools: {} } });
  for (const tool of options.tools) {
    if (names.has(tool.name)) throw new OrchestratorError('ORCH_TOOL_DUPLICATE', `two tools named ${tool.name} in the ${options.name} server`, { hint: 'Give each tool module its own name.' });
    names.add(tool.name);
    server.registerTool(
      tool.name,
      { ...(tool.title === undefined ? {} : { title: tool.title }), description: tool.description, inputSchema: tool.input, ...(tool.annotations ? { annotations: tool.annotations } : {}) },
      async (args: unknown, extra): Promise<CallToolResult> => {
        const signal = options.signal ? AbortSignal.any([extra.signal, options.signal]) : extra.signal;
        const toolUseId = extra._meta?.['claudecode/toolUseId'];
        try {
          signal.throwIfAborted();
          return toolResult(await tool.run(args, options.context, { signal, toolUseId: typeof toolUseId === 'string' ? toolUseId : null }));
        } catch (error) {
          return toolResult({ text: failureText(error), isError: true });
        }
      },
    );
  }
  const transport = new ControlChannelTransport();
  // The SDK's connect sets the transport's handlers before its first await; `connected` covers the rest of it.
  const connected = server.connect(transport);
  return {
    name: options.name,
    connect: (toCli) => transport.attach((message) => toCli(jsonOf(message))),
    handleMessage: async (message) => {
      await connected;
      const reply = await transport.deliver(message);
      return reply === null ? null : jsonOf(reply);
    },
    close: async () => {
      await connected.catch(() => undefined);
      await server.close();
    },
  };
}

function toolResult(reply: ToolReply): CallToolResult {
  return { content: [{ type: 'text', text: reply.text }], ...(reply.isError ? { isError: true } : {}) };
}

/** What the model reads when a tool fails: the problem and, for our own errors, the fix. Never a stack. */
function failureText(error: unknown): string {
  if (error instanceof OrchestratorError) return error.hint ? `${error.message}\n${error.hint}` : error.message;
  return errorMessage(error);
}

/** A JSON-RPC message as the control channel carries it (JSON-RPC messages are JSON values by definition). */
function jsonOf(message: JSONRPCMessage): JsonObject {
  return message as unknown as JsonObject;
}
