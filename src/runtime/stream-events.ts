import type { JsonObject } from '../events/index.js';

/**
 * Typed view of the Claude Code CLI's stream-json output (`-p --output-format stream-json --verbose`), as the
 * real CLI emits it (fixtures in test/fixtures/streams were recorded from it; facts in
 * ../shared/notes/claude-code-cli.md §1.3 and §2.1). Unknown types and subtypes are kept as `unknown` and
 * never rejected: the CLI adds new ones often.
 */

export interface ContentText {
  type: 'text';
  text: string;
}
export interface ContentToolUse {
  type: 'tool_use';
  id: string;
  name: string;
  input: JsonObject;
}
export interface ContentToolResult {
  type: 'tool_result';
  tool_use_id: string;
  content: string | JsonObject[];
  is_error?: boolean;
}
export type ContentBlock = ContentText | ContentToolUse | ContentToolResult | { type: string; [key: string]: unknown };

export interface ResultUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface PermissionDenial {
  tool_name: string;
  tool_use_id: string;
  tool_input: JsonObject;
}

export type StreamMessage =
  | { kind: 'system_init'; sessionId: string; model: string; cwd: string; tools: string[]; cliVersion: string | null; permissionMode: string | null; raw: JsonObject }
  | { kind: 'system'; subtype: string; sessionId: string | null; raw: JsonObject }
  | { kind: 'assistant'; messageId: string | null; sessionId: string | null; content: ContentBlock[]; error: string | null; parentToolUseId: string | null; raw: JsonObject }
  | {
      kind: 'user';
      sessionId: string | null;
      content: ContentBlock[] | string;
      parentToolUseId: string | null;
      /** The line's uuid; for a replay it is the uuid of the user line written on stdin. */
      uuid: string | null;
      /** An echo of a user message from stdin (`--replay-user-messages`): the CLI has taken it into the conversation. */
      isReplay: boolean;
      raw: JsonObject;
    }
  | {
      kind: 'result';
      subtype: string;
      isError: boolean;
      sessionId: string | null;
      result: string | null;
      errors: string[];
      durationMs: number | null;
      durationApiMs: number | null;
      numTurns: number | null;
      totalCostUsd: number;
      usage: ResultUsage;
      permissionDenials: PermissionDenial[];
      terminalReason: string | null;
      apiErrorStatus: number | null;
      stopReason: string | null;
      raw: JsonObject;
    }
  | { kind: 'stream_event'; raw: JsonObject }
  | { kind: 'control_request'; requestId: string; subtype: string; request: JsonObject; raw: JsonObject }
  | { kind: 'control_response'; requestId: string | null; subtype: string; raw: JsonObject }
  | { kind: 'unknown'; type: string; raw: JsonObject };

export class StreamParseError extends Error {
  constructor(readonly line: string, cause: unknown) {
    super(`not a JSON line: ${line.slice(0, 200)}`, { cause });
    this.name = 'StreamParseError';
  }
}

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);
const obj = (value: unknown): JsonObject => (value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as JsonObject) : {});

function parseUsage(value: unknown): ResultUsage {
  const usage = obj(value);
  return {
    input_tokens: num(usage.input_tokens) ?? 0,
    output_tokens: num(usage.output_tokens) ?? 0,
    cache_creation_input_tokens: num(usage.cache_creation_input_tokens) ?? 0,
    cache_read_input_tokens: num(usage.cache_read_input_tokens) ?? 0,
  };
}

/** Parses one stdout line; throws StreamParseError for a line that is not a JSON object. */
export function parseStreamLine(line: string): StreamMessage {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new StreamParseError(line, error);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new StreamParseError(line, 'not an object');
  return classifyStreamMessage(value as JsonObject);
}

export function classifyStreamMessage(raw: JsonObject): StreamMessage {
  const type = str(raw.type) ?? '';
  const sessionId = str(raw.session_id);
  switch (type) {
    case 'system': {
      const subtype = str(raw.subtype) ?? '';
      if (subtype === 'init') {
        return {
          kind: 'system_init',
          sessionId: sessionId ?? '',
          model: str(raw.model) ?? '',
          cwd: str(raw.cwd) ?? '',
          tools: Array.isArray(raw.tools) ? raw.tools.filter((tool): tool is string => typeof tool === 'string') : [],
          cliVersion: str(raw.claude_code_version),
          permissionMode: str(raw.permissionMode),
          raw,
        };
      }
      return { kind: 'system', subtype, sessionId, raw };
    }
    case 'assistant': {
      const message = obj(raw.message);
      return {
        kind: 'assistant',
        messageId: str(message.id),
        sessionId,
        content: Array.isArray(message.content) ? (message.content as ContentBlock[]) : [],
        error: str(raw.error),
        parentToolUseId: str(raw.parent_tool_use_id),
        raw,
      };
    }
    case 'user': {
      const message = obj(raw.message);
      const content = message.content;
      return {
        kind: 'user',
        sessionId,
        content: typeof content === 'string' ? content : Array.isArray(content) ? (content as ContentBlock[]) : [],
        parentToolUseId: str(raw.parent_tool_use_id),
        uuid: str(raw.uuid),
        isReplay: raw.isReplay === true,
        raw,
      };
    }
    case 'result':
      return {
        kind: 'result',
        subtype: str(raw.subtype) ?? '',
        isError: raw.is_error === true,
        sessionId,
        result: str(raw.result),
        errors: Array.isArray(raw.errors) ? raw.errors.map((error) => (typeof error === 'string' ? error : JSON.stringify(error))) : [],
        durationMs: num(raw.duration_ms),
        durationApiMs: num(raw.duration_api_ms),
        numTurns: num(raw.num_turns),
        totalCostUsd: num(raw.total_cost_usd) ?? 0,
        usage: parseUsage(raw.usage),
        permissionDenials: Array.isArray(raw.permission_denials) ? (raw.permission_denials as unknown as PermissionDenial[]) : [],
        terminalReason: str(raw.terminal_reason),
        apiErrorStatus: num(raw.api_error_status),
        stopReason: str(raw.stop_reason),
        raw,
      };
    case 'stream_event':
      return { kind: 'stream_event', raw };
    case 'control_request': {
      const request = obj(raw.request);
      return { kind: 'control_request', requestId: str(raw.request_id) ?? '', subtype: str(request.subtype) ?? '', request, raw };
    }
    case 'control_response': {
      const response = obj(raw.response);
      return { kind: 'control_response', requestId: str(response.request_id), subtype: str(response.subtype) ?? '', raw };
    }
    default:
      return { kind: 'unknown', type, raw };
  }
}

export type ResultMessage = Extract<StreamMessage, { kind: 'result' }>;

/** The name of the tool a message is about (tool_use in assistant messages), for indexing and display. */
export function toolNameOf(message: StreamMessage): string | null {
  if (message.kind !== 'assistant') return null;
  for (const block of message.content) {
    if (block.type === 'tool_use' && typeof (block as ContentToolUse).name === 'string') return (block as ContentToolUse).name;
  }
  return null;
}

/** `subtype` as stored: system/result subtypes, or the assistant error kind. */
export function subtypeOf(message: StreamMessage): string | null {
  switch (message.kind) {
    case 'system':
      return message.subtype;
    case 'system_init':
      return 'init';
    case 'result':
      return message.subtype;
    case 'control_request':
    case 'control_response':
      return message.subtype;
    case 'assistant':
      return message.error;
    default:
      return null;
  }
}

/** The CLI's raw type string ("system", "assistant", …) of a message. */
export function typeOf(message: StreamMessage): string {
  switch (message.kind) {
    case 'system_init':
      return 'system';
    case 'unknown':
      return message.type;
    default:
      return message.kind;
  }
}
