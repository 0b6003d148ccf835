import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReplyTurn } from './scenario.js';

export type ContentBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

interface MessageParts {
  id: string;
  model: string;
  blocks: ContentBlock[];
  usage: Usage;
}

/**
 * Expands a reply turn into API content blocks, substituting placeholders in every string. `fill` takes extra
 * placeholder values (an `each` match's named groups, which win over the scenario's); `eachMatches` gives those
 * values for every match of a `tools[].each` regex in the task prompt.
 */
export function buildContentBlocks(
  turn: ReplyTurn,
  messageId: string,
  fill: (text: string, extra?: Record<string, string>) => string,
  eachMatches: (pattern: string) => Record<string, string>[] = () => [],
): ContentBlock[] {
  const blocks: ContentBlock[] = [];
  const fillDeep = (value: unknown, extra?: Record<string, string>): unknown => {
    if (typeof value === 'string') return fill(value, extra);
    if (Array.isArray(value)) return value.map((item) => fillDeep(item, extra));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fillDeep(item, extra)]));
    }
    return value;
  };
  const toolId = () => `toolu_${messageId.replace(/^msg_/, '')}_${blocks.length}`;
  const toolUse = (name: string, input: Record<string, unknown>, extra?: Record<string, string>): ContentBlock => ({
    type: 'tool_use',
    id: toolId(),
    name,
    input: fillDeep(input, extra) as Record<string, unknown>,
  });
  if (turn.text !== undefined) blocks.push({ type: 'text', text: fill(turn.text) });
  for (const block of turn.content ?? []) {
    if (block.type === 'text') blocks.push({ type: 'text', text: fill(block.text) });
    else blocks.push(toolUse(block.name, block.input));
  }
  for (const tool of turn.tools ?? []) {
    if (tool.each === undefined) blocks.push(toolUse(tool.name, tool.input));
    else for (const groups of eachMatches(tool.each)) blocks.push(toolUse(tool.name, tool.input, groups));
  }
  if (blocks.length === 0) blocks.push({ type: 'text', text: '' });
  return blocks;
}

function stopReason(blocks: ContentBlock[]): 'tool_use' | 'end_turn' {
  return blocks.some((block) => block.type === 'tool_use') ? 'tool_use' : 'end_turn';
}

function writeEvent(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Splits text into pieces of about `size` characters, so a slow stream shows progress. */
function chunks(text: string, size: number): string[] {
  if (text.length <= size) return [text];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** Streams one message as the Messages API does (message_start … message_stop), see notes §3.3. */
export async function streamMessage(res: ServerResponse, parts: MessageParts & { chunkDelayMs: number }): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const pause = async () => {
    if (parts.chunkDelayMs > 0) await sleep(parts.chunkDelayMs);
  };
  writeEvent(res, 'message_start', {
    type: 'message_start',
    message: {
      id: parts.id,
      type: 'message',
      role: 'assistant',
      model: parts.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...parts.usage, output_tokens: 1 },
    },
  });
  for (const [index, block] of parts.blocks.entries()) {
    if (res.destroyed) return;
    if (block.type === 'text') {
      writeEvent(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      for (const piece of chunks(block.text, parts.chunkDelayMs > 0 ? 8 : 4096)) {
        await pause();
        if (res.destroyed) return;
        writeEvent(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } });
      }
    } else {
      writeEvent(res, 'content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
      });
      await pause();
      writeEvent(res, 'content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) },
      });
    }
    writeEvent(res, 'content_block_stop', { type: 'content_block_stop', index });
  }
  writeEvent(res, 'message_delta', {
    type: 'message_delta',
    delta: { stop_reason: stopReason(parts.blocks), stop_sequence: null },
    usage: { output_tokens: parts.usage.output_tokens },
  });
  writeEvent(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

/** The non-streaming answer: the CLI falls back to stream:false after a mid-stream SSE error. */
export function jsonMessage(res: ServerResponse, parts: MessageParts): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      id: parts.id,
      type: 'message',
      role: 'assistant',
      model: parts.model,
      content: parts.blocks,
      stop_reason: stopReason(parts.blocks),
      stop_sequence: null,
      usage: parts.usage,
    }),
  );
}
