import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { JsonObject } from '../../../src/events/index.js';
import { ControlChannelTransport, InvalidMcpMessageError, createToolServer, defineTool, type ToolCall } from '../../../src/mcp/index.js';
import { answerMcpMessage, type ControlChannelMcpServer } from '../../../src/runtime/index.js';

interface Caller {
  runId: string;
}

/** A tool that says who calls it: the context's run, whatever the arguments say. */
const whoAmI = defineTool<Caller, z.ZodObject<{ note: z.ZodOptional<z.ZodString> }>>({
  name: 'who_am_i',
  description: 'Says which run calls.',
  input: z.object({ note: z.string().optional() }).strict(),
  run: async (args, context) => ({ text: `run ${context.runId}${args.note ? ` (${args.note})` : ''}` }),
});

/** A tool that waits until its call is aborted, and reports the abort to the test. */
function waitingTool(onStart: (call: ToolCall) => void) {
  return defineTool<Caller, z.ZodObject<Record<string, never>>>({
    name: 'wait',
    description: 'Waits until aborted.',
    input: z.object({}).strict(),
    run: (_args, _context, call) =>
      new Promise((_resolve, reject) => {
        onStart(call);
        call.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      }),
  });
}

/**
 * The client side as the CLI runs it (its SDK-server transport, read from the pinned binary): every message it sends
 * becomes one `mcp_message` control request, and the control response's `mcp_response` is handed back to the client.
 * Here the control request goes through the runtime's own answerMcpMessage, as in a session.
 */
class CliSideTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  readonly controlResponses: JsonObject[] = [];
  #requests = 0;

  constructor(private readonly server: ControlChannelMcpServer) {}

  async start(): Promise<void> {}

  async send(message: JSONRPCMessage): Promise<void> {
    this.#requests += 1;
    const servers = new Map([[this.server.name, this.server]]);
    const response = await answerMcpMessage(servers, `req-${this.#requests}`, { subtype: 'mcp_message', server_name: this.server.name, message: message as unknown as JsonObject });
    this.controlResponses.push(response);
    const body = (response.response as JsonObject).response as JsonObject | undefined;
    if (body && 'id' in message) this.onmessage?.(body.mcp_response as unknown as JSONRPCMessage);
  }

  async close(): Promise<void> {
    this.onclose?.();
  }
}

async function connectedClient(server: ControlChannelMcpServer): Promise<{ client: Client; cli: CliSideTransport }> {
  const cli = new CliSideTransport(server);
  const client = new Client({ name: 'claude-code', version: 'test' });
  await client.connect(cli);
  return { client, cli };
}

const textOf = (result: unknown): string => ((result as { content: { text: string }[] }).content[0]?.text ?? '');

describe('ControlChannelTransport and createToolServer (the MCP SDK served over control messages)', () => {
  it('an MCP client handshakes, lists and calls the tools through control requests; the tool runs as the bound session', async () => {
    const server = createToolServer<Caller>({ name: 'orchestrator', version: '1.0.0', tools: [whoAmI], context: { runId: 'run-A' } });
    server.connect(() => undefined);
    const { client, cli } = await connectedClient(server);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(['who_am_i']);
    expect(tools[0]?.inputSchema).toMatchObject({ type: 'object', additionalProperties: false });

    const result = await client.callTool({ name: 'who_am_i', arguments: { note: 'hello' } });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe('run run-A (hello)');
    // The notification after initialize was answered as the Agent SDK answers one.
    expect(cli.controlResponses.map((response) => (response.response as JsonObject).subtype)).toEqual(['success', 'success', 'success', 'success']);
    expect(((cli.controlResponses[1]!.response as JsonObject).response as JsonObject).mcp_response).toEqual({ jsonrpc: '2.0', result: {}, id: 0 });
    await server.close();
  });

  it('an argument that is not the tool’s (one naming another run) is refused, and the tool does not run', async () => {
    let runs = 0;
    const counting = defineTool<Caller, z.ZodObject<Record<string, never>>>({
      name: 'count',
      description: 'Counts its runs.',
      input: z.object({}).strict(),
      run: async () => {
        runs += 1;
        return { text: 'ran' };
      },
    });
    const server = createToolServer<Caller>({ name: 'orchestrator', version: '1.0.0', tools: [counting, whoAmI], context: { runId: 'run-A' } });
    server.connect(() => undefined);
    const { client } = await connectedClient(server);
    const refused = await client.callTool({ name: 'count', arguments: { run_id: 'run-B' } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain('run_id');
    expect(runs).toBe(0);
    await server.close();
  });

  it('a tool that throws answers with its error text, not a failed control request', async () => {
    const failing = defineTool<Caller, z.ZodObject<Record<string, never>>>({
      name: 'fail',
      description: 'Fails.',
      input: z.object({}).strict(),
      run: async () => {
        throw new Error('the store is unreachable');
      },
    });
    const server = createToolServer<Caller>({ name: 'orchestrator', version: '1.0.0', tools: [failing], context: { runId: 'run-A' } });
    server.connect(() => undefined);
    const { client } = await connectedClient(server);
    const result = await client.callTool({ name: 'fail', arguments: {} });
    expect(result).toMatchObject({ isError: true, content: [{ type: 'text', text: 'the store is unreachable' }] });
    await server.close();
  });

  it('closing the server aborts a running call and answers its control request with a connection-closed error', async () => {
    let started: ToolCall | null = null;
    const server = createToolServer<Caller>({ name: 'orchestrator', version: '1.0.0', tools: [waitingTool((call) => (started = call))], context: { runId: 'run-A' } });
    server.connect(() => undefined);
    await server.handleMessage({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'cli', version: '1' } } });
    const reply = server.handleMessage({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'wait', arguments: {}, _meta: { 'claudecode/toolUseId': 'toolu_1' } } });
    await expect.poll(() => started).not.toBeNull();
    expect(started!.toolUseId).toBe('toolu_1');
    await server.close();
    expect(await reply).toMatchObject({ jsonrpc: '2.0', id: 2, error: { code: -32000 } });
    expect(started!.signal.aborted).toBe(true);
    // Closed: a new request is answered at once, never left waiting.
    expect(await server.handleMessage({ jsonrpc: '2.0', id: 3, method: 'tools/list' })).toMatchObject({ id: 3, error: { code: -32000 } });
  });

  it('a call the client cancels is aborted, and its control request is answered', async () => {
    let started: ToolCall | null = null;
    const server = createToolServer<Caller>({ name: 'orchestrator', version: '1.0.0', tools: [waitingTool((call) => (started = call))], context: { runId: 'run-A' } });
    server.connect(() => undefined);
    await server.handleMessage({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'cli', version: '1' } } });
    const reply = server.handleMessage({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'wait', arguments: {} } });
    await expect.poll(() => started).not.toBeNull();
    expect(await server.handleMessage({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7, reason: 'interrupted' } })).toBeNull();
    expect(await reply).toMatchObject({ id: 7, error: { code: -32001, message: 'cancelled by the client' } });
    expect(started!.signal.aborted).toBe(true);
    await server.close();
  });

  it('the session’s own signal aborts the calls of its server', async () => {
    let started: ToolCall | null = null;
    const session = new AbortController();
    const server = createToolServer<Caller>({ name: 'orchestrator', version: '1.0.0', tools: [waitingTool((call) => (started = call))], context: { runId: 'run-A' }, signal: session.signal });
    server.connect(() => undefined);
    await server.handleMessage({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'cli', version: '1' } } });
    const reply = server.handleMessage({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'wait', arguments: {} } });
    await expect.poll(() => started).not.toBeNull();
    session.abort(new Error('session stopped'));
    expect(await reply).toMatchObject({ id: 2, result: { isError: true, content: [{ text: 'aborted' }] } });
    await server.close();
  });

  it('messages the server starts itself go to the CLI; replies nobody waits for are dropped', async () => {
    const transport = new ControlChannelTransport();
    const toCli: JSONRPCMessage[] = [];
    await transport.send({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    expect(toCli).toEqual([]);
    transport.attach((message) => toCli.push(message));
    await transport.send({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    await transport.send({ jsonrpc: '2.0', id: 99, result: {} });
    expect(toCli).toEqual([{ jsonrpc: '2.0', method: 'notifications/tools/list_changed' }]);
    await transport.close();
    await expect(transport.send({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' })).rejects.toThrow(/ended/);
  });

  it('a message that is not JSON-RPC is refused with a typed error, and the runtime answers it with a control error', async () => {
    const transport = new ControlChannelTransport();
    await expect(transport.deliver({ hello: 'world' })).rejects.toBeInstanceOf(InvalidMcpMessageError);
    const server = createToolServer<Caller>({ name: 'orchestrator', version: '1.0.0', tools: [whoAmI], context: { runId: 'run-A' } });
    const servers = new Map([['orchestrator', server]]);
    const bad = await answerMcpMessage(servers, 'r1', { subtype: 'mcp_message', server_name: 'orchestrator', message: { hello: 'world' } });
    expect(bad).toMatchObject({ type: 'control_response', response: { subtype: 'error', request_id: 'r1' } });
    expect((bad.response as JsonObject).error).toContain('not JSON-RPC');
    const unknown = await answerMcpMessage(servers, 'r2', { subtype: 'mcp_message', server_name: 'elsewhere', message: { jsonrpc: '2.0', id: 1, method: 'tools/list' } });
    expect(unknown).toEqual({ type: 'control_response', response: { subtype: 'error', request_id: 'r2', error: 'no SDK MCP server named "elsewhere" in this session (it has: orchestrator)' } });
    await server.close();
  });

  it('two tools of one name are refused when the server is made', () => {
    expect(() => createToolServer<Caller>({ name: 'orchestrator', version: '1.0.0', tools: [whoAmI, whoAmI], context: { runId: 'run-A' } })).toThrow(/two tools named who_am_i/);
  });
});
