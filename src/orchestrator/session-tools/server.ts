import { createToolServer } from '../../mcp/index.js';
import type { ControlChannelMcpServer } from '../../runtime/index.js';
import type { SessionToolContext, SessionToolSettings } from './context.js';
import { SESSION_TOOLS } from './registry.js';

/** The name of the orchestrator's MCP server: its tools reach the model as `mcp__orchestrator__<tool>`. */
export const SESSION_TOOLS_SERVER = 'orchestrator';
/** The prefix of every session tool's name as the model and the permission hook see it. */
export const SESSION_TOOL_PREFIX = `mcp__${SESSION_TOOLS_SERVER}__`;
const SERVER_VERSION = '1.0.0';

/**
 * The orchestrator's tool server for one session, bound to it (run, role, work item): served over that session's
 * control channel, so the caller is the session, never what an argument says. `signal` aborts its calls.
 */
export function sessionToolServer(context: SessionToolContext, signal?: AbortSignal): ControlChannelMcpServer {
  return createToolServer({ name: SESSION_TOOLS_SERVER, version: SERVER_VERSION, tools: SESSION_TOOLS, context, ...(signal ? { signal } : {}) });
}

/**
 * The session environment these tools need: the CLI's MCP tool timeout (MCP_TOOL_TIMEOUT, ms; the CLI's default
 * for an SDK server is about 28 hours, read from the 2.1.197 binary) set to the configured limit, so that a tool
 * waiting for a person is cut by our limit, not by a default that may change.
 */
export function sessionToolsEnv(settings: SessionToolSettings): Record<string, string> {
  return { MCP_TOOL_TIMEOUT: String(Math.round(settings.toolTimeoutMs)) };
}
