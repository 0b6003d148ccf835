import { relative } from 'node:path';
import type { JsonObject, JsonValue } from '../events/index.js';
import { formatDuration } from '../lib/time.js';
import type { InvocationRecord, RunSummary, RunWorker } from '../store/index.js';

const useColor = (stream: NodeJS.WriteStream): boolean => stream.isTTY === true && !('NO_COLOR' in process.env);
export interface Paint {
  dim(text: string): string;
  bold(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}
export function painter(stream: NodeJS.WriteStream): Paint {
  const on = useColor(stream);
  const wrap = (open: number, close: number) => (text: string) => (on ? `\u001b[${open}m${text}\u001b[${close}m` : text);
  return { dim: wrap(2, 22), bold: wrap(1, 22), red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), cyan: wrap(36, 39) };
}

const oneLine = (text: string, max = 160): string => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

/** A JSON value as display text (objects as JSON, never "[object Object]"). */
function text(value: JsonValue | undefined): string {
  if (value === undefined || value === null) return '-';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function asObject(value: JsonValue | undefined): JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {};
}

/** A short description of a tool call's input: the path for file tools, the command for Bash. */
export function summarizeToolInput(name: string, input: JsonObject, cwd: string | null): string {
  const path = input.file_path ?? input.path ?? input.notebook_path;
  if (typeof path === 'string') return cwd && path.startsWith(cwd) ? relative(cwd, path) || '.' : path;
  if (typeof input.command === 'string') return oneLine(input.command, 120);
  if (typeof input.pattern === 'string') return oneLine(input.pattern, 120);
  if (typeof input.description === 'string') return oneLine(input.description, 120);
  return oneLine(JSON.stringify(input), 120);
}

function toolResultText(content: JsonValue | undefined): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((block) => {
        const item = asObject(block);
        return typeof item.text === 'string' ? item.text : '';
      })
      .join(' ');
  }
  return '';
}

/** Terminal lines for one recorded stream message (used live by the reporter and by `logs`). */
export function formatStreamMessage(payload: JsonObject, paint: Paint, cwd: string | null): string[] {
  const type = payload.type;
  if (type === 'system') {
    if (payload.subtype === 'init') return [paint.dim(`  session ${text(payload.session_id)} · model ${text(payload.model)} · claude ${text(payload.claude_code_version)}`)];
    if (payload.subtype === 'api_retry') return [paint.yellow(`  ↻ API retry ${text(payload.attempt)}/${text(payload.max_retries)} (HTTP ${text(payload.error_status)}) in ${text(payload.retry_delay_ms)} ms`)];
    return [paint.dim(`  · system/${text(payload.subtype)}`)];
  }
  if (type === 'assistant') {
    const message = asObject(payload.message);
    const content = Array.isArray(message.content) ? message.content : [];
    const lines: string[] = [];
    for (const raw of content) {
      const block = asObject(raw);
      if (block.type === 'text' && typeof block.text === 'string' && block.text.trim()) lines.push(`  ${paint.cyan('✎')} ${oneLine(block.text, 200)}`);
      if (block.type === 'tool_use') lines.push(`  ${paint.bold('⚙')} ${paint.bold(text(block.name))} ${summarizeToolInput(text(block.name), asObject(block.input), cwd)}`);
    }
    return lines;
  }
  if (type === 'user') {
    const message = asObject(payload.message);
    const content = Array.isArray(message.content) ? message.content : [];
    const lines: string[] = [];
    for (const raw of content) {
      const block = asObject(raw);
      if (block.type !== 'tool_result') continue;
      const text = oneLine(toolResultText(block.content), 140);
      lines.push(block.is_error === true ? paint.red(`    ✗ ${text}`) : paint.dim(`    ↳ ${text || '(no output)'}`));
    }
    return lines;
  }
  if (type === 'result') {
    const usage = asObject(payload.usage);
    const ok = payload.subtype === 'success' && payload.is_error !== true;
    const head = ok ? paint.green('✔ result') : paint.red(`✗ result ${text(payload.subtype)}${payload.is_error === true ? ' (error)' : ''}`);
    return [
      `  ${head}: ${oneLine(typeof payload.result === 'string' ? payload.result : Array.isArray(payload.errors) ? payload.errors.map(text).join('; ') : '', 200)}`,
      paint.dim(
        `    ${text(payload.num_turns)} turns · ${formatTokens(usage)} · $${Number(payload.total_cost_usd ?? 0).toFixed(4)} · ${formatDuration(Number(payload.duration_ms ?? 0))}`,
      ),
    ];
  }
  return [];
}

export function formatTokens(usage: JsonObject): string {
  const n = (value: JsonValue | undefined) => (typeof value === 'number' ? value : 0);
  const cache = n(usage.cache_read_input_tokens) + n(usage.cache_creation_input_tokens);
  return `${n(usage.input_tokens).toLocaleString('en-US')} in / ${n(usage.output_tokens).toLocaleString('en-US')} out tokens${cache ? ` (+${cache.toLocaleString('en-US')} cache)` : ''}`;
}

/** A fixed-width text table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  return [line(headers), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

/** Where a run ran: its host, and the worker's id (as `orchestrator workers` shortens it) when a worker took it. */
export function runPlace(run: Pick<RunSummary, 'host'>, worker: RunWorker | undefined): string {
  return worker ? `${run.host} (worker ${worker.workerId.slice(0, 12)})` : run.host;
}

export function runRow(run: RunSummary, worker?: RunWorker): string[] {
  const end = run.endedAt ? Date.parse(run.endedAt) : Date.now();
  const start = run.startedAt ? Date.parse(run.startedAt) : Date.parse(run.createdAt);
  return [
    run.id.slice(0, 12),
    run.agent,
    run.status,
    run.pid === null ? '-' : String(run.pid),
    runPlace(run, worker),
    run.createdAt.replace('T', ' ').slice(0, 19),
    formatDuration(Math.max(0, end - start)),
    (run.inputTokens + run.outputTokens).toLocaleString('en-US'),
    formatCost(run.costUsd, run.costEstimated, { digits: 4, short: true }),
    oneLine(run.errorMessage ?? run.prompt, 50),
  ];
}
export const RUN_HEADERS = ['RUN', 'AGENT', 'STATUS', 'PID', 'HOST', 'CREATED (UTC)', 'ELAPSED', 'TOKENS', 'COST', 'TASK / ERROR'];

export function sumInvocations(invocations: readonly InvocationRecord[]): { inputTokens: number; outputTokens: number; cacheTokens: number; costUsd: number; costEstimated: boolean } {
  let inputTokens = 0;
  let outputTokens = 0;
  let cacheTokens = 0;
  let costUsd = 0;
  let costEstimated = false;
  for (const invocation of invocations) {
    inputTokens += invocation.inputTokens;
    outputTokens += invocation.outputTokens;
    cacheTokens += invocation.cacheCreationInputTokens + invocation.cacheReadInputTokens;
    costUsd += invocation.costUsd;
    costEstimated ||= invocation.costEstimated;
  }
  return { inputTokens, outputTokens, cacheTokens, costUsd, costEstimated };
}

/**
 * A cost in USD; our estimate (a session that ended without the CLI's result) is marked `≈$0.0123 (estimated)`,
 * or just `≈$0.0123` in a table (`short`).
 */
export function formatCost(usd: number, estimated: boolean, options: { digits: number; short?: boolean }): string {
  const amount = `$${usd.toFixed(options.digits)}`;
  if (!estimated) return amount;
  return options.short ? `≈${amount}` : `≈${amount} (estimated)`;
}
