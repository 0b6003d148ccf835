import type { JsonObject, JsonValue, MessageRecord } from '../events/index.js';
import { apiMessageUsageOf, type ApiMessageUsage } from '../usage/index.js';

/** What the "Now" page and the global event stream show of one stream message: small, no full payload. */
export interface MessageDigest {
  runId: string;
  invocationId: string;
  seq: number;
  at: string;
  type: string;
  subtype: string | null;
  toolName: string | null;
  /** One line: the text, the tool call with its main argument, or the result. */
  summary: string;
  /**
   * Per-API-call usage of an assistant message, keyed by the API message id (repeated for each content block);
   * its output count is the CLI's mid-stream placeholder (notes, gotcha 5), see src/usage/message-usage.ts.
   */
  usage: ApiMessageUsage | null;
  /** The CLI's total cost of the invocation, on its result message. */
  costUsd: number | null;
}

const SUMMARY_LENGTH = 160;

function asObject(value: JsonValue | undefined): JsonObject | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : null;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > SUMMARY_LENGTH ? `${flat.slice(0, SUMMARY_LENGTH - 1)}…` : flat;
}

/** The argument a person would want to see first for a tool call: the file, the command, the pattern. */
export function mainToolArgument(input: JsonObject | null): string {
  if (!input) return '';
  for (const key of ['file_path', 'command', 'pattern', 'path', 'url', 'description', 'prompt']) {
    const value = input[key];
    if (typeof value === 'string') return value;
  }
  return '';
}

const digests = new WeakMap<MessageRecord, MessageDigest>();

/** The digest of a message, computed once however many listeners (live-run tracker, event log) ask. */
export function digestOf(record: MessageRecord): MessageDigest {
  let digest = digests.get(record);
  if (!digest) {
    digest = digestMessage(record);
    digests.set(record, digest);
  }
  return digest;
}

export function digestMessage(record: MessageRecord): MessageDigest {
  const payload = record.payload;
  let summary = '';
  let usage: MessageDigest['usage'] = null;
  let costUsd: number | null = null;
  const message = asObject(payload.message);
  const content = Array.isArray(message?.content) ? message.content : [];
  if (record.type === 'assistant' && message) {
    const parts: string[] = [];
    for (const block of content) {
      const item = asObject(block);
      if (item?.type === 'text' && typeof item.text === 'string') parts.push(item.text);
      if (item?.type === 'tool_use' && typeof item.name === 'string') parts.push(`${item.name} ${mainToolArgument(asObject(item.input))}`);
      if (item?.type === 'thinking') parts.push('(thinking)');
    }
    summary = parts.join(' · ');
    usage = apiMessageUsageOf(record.type, payload);
  } else if (record.type === 'user') {
    const results = content.map(asObject).filter((item) => item?.type === 'tool_result');
    summary = results.length > 0 ? `tool result${results.some((item) => item?.is_error === true) ? ' (error)' : ''}` : 'user message';
  } else if (record.type === 'result') {
    summary = typeof payload.result === 'string' ? payload.result : (record.subtype ?? 'result');
    costUsd = typeof payload.total_cost_usd === 'number' ? payload.total_cost_usd : null;
  } else if (record.type === 'system') {
    summary = record.subtype === 'init' && typeof payload.model === 'string' ? `session started (${payload.model})` : (record.subtype ?? 'system');
  } else {
    summary = record.subtype ?? record.type;
  }
  return {
    runId: record.runId,
    invocationId: record.invocationId,
    seq: record.seq,
    at: record.at,
    type: record.type,
    subtype: record.subtype,
    toolName: record.toolName,
    summary: oneLine(summary),
    usage,
    costUsd,
  };
}
