import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  eachMatch,
  isDropTurn,
  isErrorTurn,
  isHangTurn,
  parseScenarios,
  type ReplyTurn,
  type Scenario,
  type ScenarioInput,
  type ScenarioTurn,
} from './scenario.js';
import { buildContentBlocks, streamMessage, jsonMessage, type ContentBlock } from './sse.js';

/** One request the scripted model received, kept so tests can assert on what the real CLI sent. */
export interface RecordedRequest {
  at: string;
  /** Epoch ms (performance.timeOrigin + now(), sub-ms) when the request's body had been read in full. */
  receivedAtMs: number;
  /** Epoch ms when the answer had been handed to the socket in full (the response's 'finish'); null until then. */
  respondedAtMs: number | null;
  method: string;
  path: string;
  sessionId: string | null;
  scenario: string | null;
  turnIndex: number | null;
  kind: 'turn' | 'compaction' | 'title' | 'unmatched' | 'exhausted' | 'other';
  headers: Record<string, string>;
  body: MessagesRequestBody | null;
}

export interface MessagesRequestBody {
  model?: string;
  stream?: boolean;
  system?: string | { type: string; text?: string }[];
  messages?: { role: string; content: string | { type: string; text?: string; [key: string]: unknown }[] }[];
  tools?: { name: string }[];
  [key: string]: unknown;
}

interface SessionBinding {
  scenario: Scenario;
  vars: Record<string, string>;
  nextTurn: number;
}

export interface ScriptedModelServerOptions {
  scenarios?: readonly (Scenario | ScenarioInput)[];
  port?: number;
  /** Only loopback addresses are accepted: the scripted model is a test and demo tool. */
  host?: '127.0.0.1' | 'localhost' | '::1';
  /** Extra wait before every scripted turn, so that a person can watch a demo unfold (0 in tests). */
  paceMs?: number;
}

const HEADER_ALLOWLIST = ['anthropic-version', 'anthropic-beta', 'user-agent', 'x-app', 'x-claude-code-session-id', 'content-type'];

/**
 * An Anthropic-Messages-API-compatible HTTP server that replays scenario turns to the real Claude Code CLI
 * (pointed at it with ANTHROPIC_BASE_URL). See scenario.ts for the scenario format and
 * ../shared/notes/claude-code-cli.md §3 for what the CLI requires of it.
 */
export class ScriptedModelServer {
  readonly requests: RecordedRequest[] = [];
  #scenarios: Scenario[] = [];
  readonly #sessions = new Map<string, SessionBinding>();
  readonly #bindCounts = new Map<Scenario, number>();
  readonly #sockets = new Set<Socket>();
  /** Connections held open by `hang` turns; reset() ends them (idle keep-alive sockets are left alone). */
  readonly #hanging = new Set<Socket>();
  readonly #waiters = new Set<{ predicate: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }>();
  #server: Server | null = null;
  #messageCounter = 0;
  #url: string | null = null;

  constructor(private readonly options: ScriptedModelServerOptions = {}) {
    if (options.scenarios) this.addScenarios(options.scenarios);
  }

  get url(): string {
    if (!this.#url) throw new Error('scripted model server is not listening; call start() first');
    return this.#url;
  }

  addScenarios(scenarios: readonly (Scenario | ScenarioInput)[]): void {
    this.#scenarios.push(...parseScenarios({ scenarios }, 'addScenarios'));
  }

  /** Forgets scenarios, sessions and recorded requests, and closes hanging connections. */
  reset(scenarios: readonly (Scenario | ScenarioInput)[] = []): void {
    this.#scenarios = [];
    this.#sessions.clear();
    this.#bindCounts.clear();
    this.requests.length = 0;
    for (const socket of this.#hanging) socket.destroy();
    this.#hanging.clear();
    if (scenarios.length > 0) this.addScenarios(scenarios);
  }

  /** Resolves with the first recorded request (past or future) that satisfies the predicate. */
  waitForRequest(predicate: (request: RecordedRequest) => boolean, signal?: AbortSignal): Promise<RecordedRequest> {
    const existing = this.requests.find(predicate);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const waiter = { predicate, resolve };
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', () => {
        this.#waiters.delete(waiter);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      });
    });
  }

  async start(): Promise<string> {
    const host = this.options.host ?? '127.0.0.1';
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: String(error) } }));
        } else {
          res.destroy();
        }
      });
    });
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, host, () => resolve());
    });
    this.#server = server;
    const address = server.address() as AddressInfo;
    const printableHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.#url = `http://${printableHost}:${address.port}`;
    return this.#url;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    const headers: Record<string, string> = {};
    for (const name of HEADER_ALLOWLIST) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    if (req.method !== 'POST' || !path.startsWith('/v1/messages') || path.startsWith('/v1/messages/count_tokens')) {
      // The CLI sends `HEAD /` as a connectivity pre-warm; 404 is fine for it and anything else unknown.
      this.#record({ method: req.method ?? '?', path, sessionId: null, scenario: null, turnIndex: null, kind: 'other', headers, body: null }, res);
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'not found' } }));
      return;
    }
    const body = JSON.parse(await readBody(req)) as MessagesRequestBody;
    const sessionId = readSessionId(req, body);
    const model = typeof body.model === 'string' ? body.model : 'claude-scripted';
    const stream = body.stream !== false;
    const base = { method: 'POST', path, sessionId, headers, body };

    if (isTitleRequest(body)) {
      this.#record({ ...base, scenario: null, turnIndex: null, kind: 'title' }, res);
      await this.#reply(res, { text: '{"title":"Scripted session"}' }, model, stream, {});
      return;
    }
    if (isCompactionRequest(body)) {
      this.#record({ ...base, scenario: null, turnIndex: null, kind: 'compaction' }, res);
      await this.#reply(res, { text: '<summary>Scripted summary of the conversation so far.</summary>' }, model, stream, {});
      return;
    }

    const binding = this.#bind(sessionId ?? 'anonymous', body);
    if (!binding) {
      this.#record({ ...base, scenario: null, turnIndex: null, kind: 'unmatched' }, res);
      // 400 is not retried by the CLI, so a test with a missing scenario fails at once and loudly.
      sendError(res, 400, 'invalid_request_error', `scripted model: no scenario matches this request (session ${sessionId ?? '?'}): ${firstUserText(body).slice(0, 200)}`);
      return;
    }
    const turnIndex = binding.nextTurn;
    const turn = binding.scenario.turns[turnIndex];
    if (!turn) {
      this.#record({ ...base, scenario: binding.scenario.name, turnIndex, kind: 'exhausted' }, res);
      sendError(res, 400, 'invalid_request_error', `scripted model: scenario "${binding.scenario.name}" has no turn ${turnIndex + 1} (it has ${binding.scenario.turns.length})`);
      return;
    }
    binding.nextTurn += 1;
    this.#record({ ...base, scenario: binding.scenario.name, turnIndex, kind: 'turn' }, res);
    const vars = { ...binding.vars, cwd: findCwd(body) ?? binding.vars.cwd ?? '', session_id: sessionId ?? '' };
    const prompt = firstUserText(body);
    const request: ReplyContext = {
      eachMatches: (pattern) => eachMatch(pattern, prompt),
      inputTokens: binding.scenario.estimateInputTokens ? estimateInputTokens(body) : null,
    };
    await this.#play(req, res, turn, model, stream, vars, request);
  }

  #bind(sessionId: string, body: MessagesRequestBody): SessionBinding | null {
    const existing = this.#sessions.get(sessionId);
    if (existing) return existing;
    const prompt = firstUserText(body);
    const system = systemText(body);
    for (const scenario of this.#scenarios) {
      const bound = this.#bindCounts.get(scenario) ?? 0;
      if (scenario.maxSessions !== undefined && bound >= scenario.maxSessions) continue;
      const vars: Record<string, string> = {};
      if (!matches(scenario.match?.prompt, prompt, vars) || !matches(scenario.match?.system, system, vars)) continue;
      const cwd = findCwd(body);
      if (cwd) vars.cwd = cwd;
      const binding: SessionBinding = { scenario, vars, nextTurn: 0 };
      this.#sessions.set(sessionId, binding);
      this.#bindCounts.set(scenario, bound + 1);
      return binding;
    }
    return null;
  }

  async #play(
    req: IncomingMessage,
    res: ServerResponse,
    turn: ScenarioTurn,
    model: string,
    stream: boolean,
    vars: Record<string, string>,
    request: ReplyContext,
  ): Promise<void> {
    if (isHangTurn(turn)) {
      // Keep the socket open and answer nothing; reset() or close() destroys it.
      req.socket.setTimeout(0);
      this.#hanging.add(req.socket);
      req.socket.once('close', () => this.#hanging.delete(req.socket));
      return;
    }
    if (this.options.paceMs) await sleep(this.options.paceMs);
    if ('delayMs' in turn && turn.delayMs) await sleep(turn.delayMs);
    if (isDropTurn(turn)) {
      req.socket.destroy();
      return;
    }
    if (isErrorTurn(turn)) {
      const extra: Record<string, string> = {};
      if (turn.error.retryAfterSeconds !== undefined) extra['retry-after'] = String(turn.error.retryAfterSeconds);
      sendError(res, turn.error.status, turn.error.type, turn.error.message, extra);
      return;
    }
    await this.#reply(res, turn, model, stream, vars, request);
  }

  async #reply(res: ServerResponse, turn: ReplyTurn, model: string, stream: boolean, vars: Record<string, string>, request: ReplyContext = NO_CONTEXT): Promise<void> {
    this.#messageCounter += 1;
    const messageId = `msg_scripted_${this.#messageCounter}`;
    const blocks: ContentBlock[] = buildContentBlocks(turn, messageId, (text, extra) => substitute(text, extra ? { ...vars, ...extra } : vars), request.eachMatches);
    const usage = {
      input_tokens: turn.usage?.input_tokens ?? request.inputTokens ?? 100,
      output_tokens: turn.usage?.output_tokens ?? 20,
      cache_creation_input_tokens: turn.usage?.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: turn.usage?.cache_read_input_tokens ?? 0,
    };
    if (stream) {
      await streamMessage(res, { id: messageId, model, blocks, usage, chunkDelayMs: turn.chunkDelayMs ?? 0 });
    } else {
      jsonMessage(res, { id: messageId, model, blocks, usage });
    }
  }

  #record(entry: Omit<RecordedRequest, 'at' | 'receivedAtMs' | 'respondedAtMs'>, res: ServerResponse): void {
    const receivedAtMs = epochMs();
    const request: RecordedRequest = { at: new Date().toISOString(), receivedAtMs, respondedAtMs: null, ...entry };
    res.once('finish', () => {
      request.respondedAtMs = epochMs();
    });
    this.requests.push(request);
    for (const waiter of this.#waiters) {
      if (waiter.predicate(request)) {
        this.#waiters.delete(waiter);
        waiter.resolve(request);
      }
    }
  }
}

/** Epoch milliseconds with sub-millisecond resolution, on the clock benchmarks in this process read too. */
function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** What a scripted turn's reply needs of the request it answers. */
interface ReplyContext {
  /** Placeholder values for every match of a `tools[].each` regex in the task prompt. */
  eachMatches: (pattern: string) => Record<string, string>[];
  /** The estimate to report when the turn's usage gives no input_tokens; null: the fixed default (100). */
  inputTokens: number | null;
}

const NO_CONTEXT: ReplyContext = { eachMatches: () => [], inputTokens: null };

/** Characters per token of the estimate: the usual rule of thumb for English text and code with Claude tokenizers. */
const CHARS_PER_TOKEN = 4;

/**
 * The input tokens of a request, estimated as characters / 4 (rounded up) of what the CLI really sent: the system
 * prompt, the tool definitions and the messages, each as the JSON of the request body (so tool schemas and
 * tool results count as sent). Not a tokenizer: it tracks what grows and shrinks (a longer system prompt, more
 * turns, bigger tool results) within some tens of percent of a real count, which is what a benchmark comparing two
 * pipelines needs. Used for scenarios with `estimateInputTokens: true`.
 */
export function estimateInputTokens(body: MessagesRequestBody): number {
  let characters = 0;
  for (const part of [body.system, body.tools, body.messages]) {
    if (part === undefined) continue;
    characters += typeof part === 'string' ? part.length : JSON.stringify(part).length;
  }
  return Math.ceil(characters / CHARS_PER_TOKEN);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendError(res: ServerResponse, status: number, type: string, message: string, extraHeaders: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...extraHeaders });
  res.end(JSON.stringify({ type: 'error', error: { type, message } }));
}

function readSessionId(req: IncomingMessage, body: MessagesRequestBody): string | null {
  const header = req.headers['x-claude-code-session-id'];
  if (typeof header === 'string' && header.length > 0) return header;
  const metadata = body.metadata as { user_id?: string } | undefined;
  if (typeof metadata?.user_id === 'string') {
    try {
      const parsed = JSON.parse(metadata.user_id) as { session_id?: string };
      if (typeof parsed.session_id === 'string') return parsed.session_id;
    } catch {
      // user_id is not always JSON; fall through.
    }
  }
  return null;
}

function blockTexts(content: unknown): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) return [];
  const texts: string[] = [];
  for (const block of content as { type?: string; text?: unknown }[]) {
    if (block.type === 'text' && typeof block.text === 'string') texts.push(block.text);
  }
  return texts;
}

/** The text of the first user message: the CLI sends a system-reminder block, then the task prompt. */
export function firstUserText(body: MessagesRequestBody): string {
  const first = body.messages?.find((message) => message.role === 'user');
  return first ? blockTexts(first.content).join('\n') : '';
}

function systemText(body: MessagesRequestBody): string {
  return blockTexts(body.system).join('\n');
}

function lastUserText(body: MessagesRequestBody): string {
  const users = (body.messages ?? []).filter((message) => message.role === 'user');
  const last = users[users.length - 1];
  return last ? blockTexts(last.content).join('\n') : '';
}

function isTitleRequest(body: MessagesRequestBody): boolean {
  return systemText(body).includes('Generate a concise, sentence-case title');
}

function isCompactionRequest(body: MessagesRequestBody): boolean {
  return lastUserText(body).includes('create a detailed summary of the conversation');
}

const CWD_PATTERNS = [/Primary working directory: ([^\n]+)/, /Working directory: ([^\n]+)/, /<cwd>([^<\n]+)<\/cwd>/];

/** The session's working directory, from the CLI's environment block (system prompt or system messages). */
export function findCwd(body: MessagesRequestBody): string | null {
  const texts = [systemText(body), ...(body.messages ?? []).flatMap((message) => blockTexts(message.content))];
  for (const pattern of CWD_PATTERNS) {
    for (const text of texts) {
      const match = pattern.exec(text);
      if (match?.[1]) return match[1].trim();
    }
  }
  return null;
}

function matches(pattern: string | undefined, text: string, vars: Record<string, string>): boolean {
  if (pattern === undefined) return true;
  const match = new RegExp(pattern, 'm').exec(text);
  if (!match) return false;
  for (const [name, value] of Object.entries(match.groups ?? {})) if (value !== undefined) vars[name] = value;
  return true;
}

export function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (whole, name: string) => vars[name] ?? whole);
}
