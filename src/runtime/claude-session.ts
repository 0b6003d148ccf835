import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { JsonObject } from '../events/index.js';
import { BudgetExceededError, SessionInputClosedError, SessionTimeoutError, StoppedError, errorMessage } from '../lib/errors.js';
import { LineSplitter, RingBuffer } from '../lib/ring-buffer.js';
import { answerMcpMessage, mcpServerToolRules, type ControlChannelMcpServer } from './control-channel-mcp.js';
import { InactivityWatchdog } from './inactivity-watchdog.js';
import { WallClockLimit } from './wall-clock-limit.js';
import { RUN_MARKER_ENV, killRunProcesses } from './process-group.js';
import { combineResults } from './session-results.js';
import { markSteeringText, userMessageLine, type SendUserMessageOptions, type SentUserMessage } from './steering.js';
import { StreamParseError, parseStreamLine, type ResultMessage, type StreamMessage } from './stream-events.js';

/** How long a stopped session gets to write its result after the interrupt, before its stdin is closed. */
export const INTERRUPT_GRACE_MS = 3_000;
/** After stdin is closed, how long before SIGTERM, and again before SIGKILL, goes to the process group. */
export const STOP_GRACE_MS = 5_000;
const STDERR_TAIL_LINES = 40;

export const PermissionMode = {
  default: 'default',
  acceptEdits: 'acceptEdits',
  plan: 'plan',
  dontAsk: 'dontAsk',
} as const;
export type PermissionMode = (typeof PermissionMode)[keyof typeof PermissionMode];

export interface ToolPermissionRequest {
  toolName: string;
  input: JsonObject;
  toolUseId: string | null;
  /** `pre_tool_use`: our hook, asked before every tool call; `can_use_tool`: the CLI's own permission ask. */
  source: 'pre_tool_use' | 'can_use_tool';
}
export type ToolPermissionDecision = { behavior: 'allow' } | { behavior: 'deny'; message: string };

export interface ClaudeSessionOptions {
  /** Used to mark the session's processes (env ORCHESTRATOR_RUN_ID), so none can outlive it unnoticed. */
  runId: string;
  cliPath: string;
  /** The session's working directory. The orchestrator never changes its own. */
  cwd: string;
  prompt: string;
  /** The role's instructions, appended to Claude Code's own system prompt (see docs/architecture.md). */
  appendSystemPrompt?: string;
  /** Replaces Claude Code's own system prompt (`--system-prompt`); takes precedence over appendSystemPrompt. */
  systemPrompt?: string;
  model?: string;
  /** The base tool set (`--tools`); the model sees only these. */
  tools?: readonly string[];
  /** Tools approved without asking (`--allowedTools`), e.g. `Bash(git *)`. */
  allowedTools?: readonly string[];
  disallowedTools?: readonly string[];
  permissionMode?: PermissionMode;
  maxTurns?: number;
  /** Continue the conversation of this session id (must be run from the same repository, notes §2.3). */
  resumeSessionId?: string;
  /** The child's complete environment (not merged with ours). */
  env: Record<string, string>;
  /**
   * Wall-clock limit in ms; the session is stopped and recorded as timed_out. Time spent in calls to `mcpServers`'
   * tools (waiting for us, e.g. for a person's answer) does not count.
   */
  timeoutMs?: number;
  /** Inactivity limit in ms: no stream line for this long stops the session as timed_out. */
  idleTimeoutMs?: number;
  interruptGraceMs?: number;
  stopGraceMs?: number;
  /**
   * MCP servers served in this process over the control channel (SDK-type servers; see control-channel-mcp.ts). Their
   * tools are approved without asking (`mcp__<name>` joins --allowedTools); the permission hook still sees each call.
   * The session owns them: it closes them when it ends. While one of their calls runs, the inactivity watchdog
   * waits (the session is silent because it waits for us).
   */
  mcpServers?: readonly ControlChannelMcpServer[];
  /** Asked before every tool call (a PreToolUse hook over the control channel). Omit to rely on tool lists. */
  toolPermission?: (request: ToolPermissionRequest) => ToolPermissionDecision | Promise<ToolPermissionDecision>;
  onSpawn?: (pid: number) => void;
  /** Every stream message except control-protocol traffic, in order. */
  /** Every stream message but the control protocol, with the JSON line it came in (callers can store it as is). */
  onMessage?: (message: StreamMessage, receivedAt: number, line: string) => void;
  /** Every raw stdout line, control traffic included (used to record test fixtures). */
  onStdoutLine?: (line: string) => void;
  onPermissionDecision?: (request: ToolPermissionRequest, decision: ToolPermissionDecision) => void;
  extraArgs?: readonly string[];
  signal?: AbortSignal;
}

export type SessionOutcome = 'succeeded' | 'failed' | 'timed_out' | 'stopped';

export interface SessionResult {
  outcome: SessionOutcome;
  errorKind: 'api_error' | 'cli_exit' | 'missing_result' | 'error_result' | 'spawn_failed' | 'inactivity' | 'wall_clock' | 'stop_requested' | 'budget' | null;
  errorMessage: string | null;
  pid: number | null;
  exitCode: number | null;
  signal: string | null;
  sessionId: string | null;
  model: string | null;
  cliVersion: string | null;
  /**
   * The CLI's `result`, the source of truth for usage and cost. A session that got several (a steering message ran
   * as a turn of its own) gets them combined: usage, turns and duration summed, cost the CLI's cumulative figure
   * (see combineResults). `resultCount` says how many there were.
   */
  result: ResultMessage | null;
  resultCount: number;
  /** Assistant `error` field of the last assistant message (e.g. `rate_limit`, `server_error`). */
  assistantError: string | null;
  lastAssistantText: string | null;
  stderrTail: string[];
  messageCount: number;
  deniedTools: { toolName: string; input: JsonObject; message: string }[];
}

/** Builds the CLI arguments for a session (exported for tests and for the benchmark's bare-CLI baseline). */
export function buildCliArgs(options: ClaudeSessionOptions): string[] {
  // --replay-user-messages: the CLI echoes each stdin user line (with its uuid) when it takes it in, which is how a
  // steering message is seen delivered.
  const args = ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--replay-user-messages'];
  if (options.model) args.push('--model', options.model);
  if (options.tools) args.push('--tools', options.tools.join(','));
  const allowedTools = [...(options.allowedTools ?? []), ...mcpServerToolRules(options.mcpServers ?? [])];
  if (allowedTools.length > 0) args.push('--allowedTools', allowedTools.join(','));
  if (options.disallowedTools && options.disallowedTools.length > 0) args.push('--disallowedTools', options.disallowedTools.join(','));
  args.push('--permission-mode', options.permissionMode ?? 'default');
  if (options.maxTurns !== undefined) args.push('--max-turns', String(options.maxTurns));
  if (options.systemPrompt) args.push('--system-prompt', options.systemPrompt);
  else if (options.appendSystemPrompt) args.push('--append-system-prompt', options.appendSystemPrompt);
  if (options.resumeSessionId) args.push('--resume', options.resumeSessionId);
  if (options.toolPermission) args.push('--permission-prompt-tool', 'stdio');
  if (options.extraArgs) args.push(...options.extraArgs);
  return args;
}

/** A running session: its process, its end, and live steering. */
export interface ClaudeSession {
  /** The CLI's pid; null when it could not be started. */
  readonly pid: number | null;
  /** Resolves with the outcome when the session has ended (never rejects because the session failed). */
  readonly done: Promise<SessionResult>;
  /**
   * Writes a user message into the running session at once, marked with its origin (untrusted; it grants nothing).
   * The CLI takes it in before its next model request when the turn goes on, or as a turn of its own when the turn
   * ends first. Resolves when the line is written; rejects with SessionInputClosedError when the session takes no
   * more input (not started, being stopped, its task finished: stdin is closed after its result, or ended).
   */
  sendUserMessage(text: string, options: SendUserMessageOptions): Promise<SentUserMessage>;
}

/** Runs one session to its end (startClaudeSession without steering). */
export async function runClaudeSession(options: ClaudeSessionOptions): Promise<SessionResult> {
  return startClaudeSession(options).done;
}

/**
 * Starts one Claude Code session: the real CLI in print mode with stream-json on both stdin (the control
 * channel: initialize, the prompt, interrupts, permission answers) and stdout (typed events). Spawned with
 * `cwd` as the leader of its own process group. Resolves with the outcome; it rejects only on programming
 * errors, never because the session failed.
 *
 * Stop (signal aborted, wall-clock timeout, inactivity): the interrupt control request first, so the CLI
 * writes its result; then stdin EOF; then SIGTERM and SIGKILL to the whole group. The abort reason decides
 * the outcome: SessionTimeoutError → timed_out, anything else → stopped.
 */
export function startClaudeSession(options: ClaudeSessionOptions): ClaudeSession {
  const mcpServers = new Map((options.mcpServers ?? []).map((server) => [server.name, server]));
  if (options.signal?.aborted) {
    void closeMcpServers(mcpServers);
    options.signal.throwIfAborted();
  }
  const stderrTail = new RingBuffer<string>(STDERR_TAIL_LINES);
  const deniedTools: SessionResult['deniedTools'] = [];
  let sessionId: string | null = options.resumeSessionId ?? null;
  let model: string | null = null;
  let cliVersion: string | null = null;
  const results: ResultMessage[] = [];
  let assistantError: string | null = null;
  let lastAssistantText: string | null = null;
  let messageCount = 0;
  let stopReason: unknown = null;
  let controlCounter = 0;

  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn(options.cliPath, buildCliArgs(options), {
      cwd: options.cwd,
      env: { ...options.env, [RUN_MARKER_ENV]: options.runId },
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (error) {
    return notStarted(Promise.resolve(failedToSpawn(errorMessage(error))));
  }

  const exited = new Promise<{ exitCode: number | null; signal: string | null; spawnError: Error | null }>((resolve) => {
    let spawnError: Error | null = null;
    // ENOENT and EACCES arrive as an 'error' event, not a throw: listen at once.
    child.on('error', (error) => {
      spawnError = error;
      if (child.pid === undefined) resolve({ exitCode: null, signal: null, spawnError });
    });
    // 'close' (not 'exit'): the stdio streams are drained, so no message is lost.
    child.on('close', (exitCode, signal) => resolve({ exitCode, signal, spawnError }));
  });
  const pid = child.pid ?? null;
  if (pid === null) {
    return notStarted(exited.then(({ spawnError }) => failedToSpawn(spawnError ? errorMessage(spawnError) : 'spawn returned no pid')));
  }
  let hasExited = false;
  /** Whether steering messages can still be written: stdin closes after the result, on stop and at exit. */
  let input: 'open' | 'finished' | 'stopping' | 'ended' = 'open';
  /** Steering messages written but not yet taken in by the CLI (no replay seen), by uuid. */
  const unconsumed = new Map<string, (at: number | null) => void>();
  void exited.then(() => {
    hasExited = true;
    input = 'ended';
    for (const resolve of unconsumed.values()) resolve(null);
    unconsumed.clear();
  });
  options.onSpawn?.(pid);

  child.stdin.on('error', () => {
    // EPIPE after the CLI exited: nothing to do, the exit is handled by 'close'.
  });
  const send = (value: JsonObject) => {
    if (!child.stdin.writable) return;
    child.stdin.write(`${JSON.stringify(value)}\n`);
  };
  const sendControlRequest = (request: JsonObject) => {
    controlCounter += 1;
    send({ type: 'control_request', request_id: `orch_${controlCounter}`, request });
  };

  let resultSeenResolve: () => void = () => {};
  const resultSeen = new Promise<void>((resolve) => {
    resultSeenResolve = resolve;
  });

  const watchdog =
    options.idleTimeoutMs !== undefined
      ? new InactivityWatchdog(options.idleTimeoutMs, () => void stop(new SessionTimeoutError('inactivity', options.idleTimeoutMs ?? 0)))
      : null;

  // The wall-clock limit counts the session's own time: a call to one of our tools (ask_human waiting for a person)
  // stops it, as it holds the inactivity watchdog.
  const wallClock = options.timeoutMs !== undefined ? new WallClockLimit(options.timeoutMs, () => void stop(new SessionTimeoutError('wall_clock', options.timeoutMs ?? 0))) : null;

  const answerMcp = async (requestId: string, request: JsonObject) => {
    const release = watchdog?.hold();
    const releaseClock = wallClock?.hold();
    try {
      send(await answerMcpMessage(mcpServers, requestId, request));
    } finally {
      releaseClock?.();
      release?.();
    }
  };
  for (const server of mcpServers.values()) {
    server.connect((message) => sendControlRequest({ subtype: 'mcp_message', server_name: server.name, message }));
  }

  const answerPermission = async (requestId: string, subtype: string, request: JsonObject) => {
    const permissionRequest = permissionRequestFrom(subtype, request);
    let decision: ToolPermissionDecision;
    try {
      decision = options.toolPermission ? await options.toolPermission(permissionRequest) : { behavior: 'allow' };
    } catch (error) {
      decision = { behavior: 'deny', message: `permission check failed: ${errorMessage(error)}` };
    }
    options.onPermissionDecision?.(permissionRequest, decision);
    if (decision.behavior === 'deny') deniedTools.push({ toolName: permissionRequest.toolName, input: permissionRequest.input, message: decision.message });
    const response: JsonObject =
      subtype === 'hook_callback'
        ? {
            hookSpecificOutput: {
              hookEventName: 'PreToolUse',
              permissionDecision: decision.behavior === 'allow' ? 'allow' : 'deny',
              ...(decision.behavior === 'deny' ? { permissionDecisionReason: decision.message } : {}),
            },
          }
        : decision.behavior === 'allow'
          ? { behavior: 'allow', updatedInput: permissionRequest.input }
          : { behavior: 'deny', message: decision.message };
    send({ type: 'control_response', response: { subtype: 'success', request_id: requestId, response } });
  };

  const handleLine = (line: string) => {
    watchdog?.touch();
    options.onStdoutLine?.(line);
    let message: StreamMessage;
    try {
      message = parseStreamLine(line);
    } catch (error) {
      if (error instanceof StreamParseError) {
        stderrTail.push(`[stdout] ${line.slice(0, 500)}`);
        return;
      }
      throw error;
    }
    switch (message.kind) {
      case 'control_request':
        if (message.subtype === 'hook_callback' || message.subtype === 'can_use_tool') {
          void answerPermission(message.requestId, message.subtype, message.request);
        } else if (message.subtype === 'mcp_message') {
          void answerMcp(message.requestId, message.request);
        } else {
          send({ type: 'control_response', response: { subtype: 'error', request_id: message.requestId, error: `unsupported control request: ${message.subtype}` } });
        }
        return;
      case 'control_response':
        return;
      case 'system_init':
        sessionId = message.sessionId || sessionId;
        model = message.model || model;
        cliVersion = message.cliVersion ?? cliVersion;
        break;
      case 'assistant':
        sessionId = message.sessionId ?? sessionId;
        assistantError = message.error;
        for (const block of message.content) if (block.type === 'text' && typeof block.text === 'string') lastAssistantText = block.text;
        break;
      case 'user':
        if (message.isReplay && message.uuid !== null) {
          // The initial prompt's echo is not a new event: the run already records its prompt.
          if (message.uuid === promptId) return;
          const resolve = unconsumed.get(message.uuid);
          if (resolve) {
            unconsumed.delete(message.uuid);
            resolve(Date.now());
          }
        }
        break;
      case 'result':
        results.push(message);
        sessionId = message.sessionId ?? sessionId;
        resultSeenResolve();
        // One task per session: end of input lets the CLI exit 0 once the turn is done (notes §2.2). A steering
        // message already written still runs (as a turn of its own, with a result of its own): the CLI drains stdin.
        if (input === 'open') input = 'finished';
        child.stdin.end();
        break;
      default:
        break;
    }
    messageCount += 1;
    options.onMessage?.(message, Date.now(), line);
  };

  const splitter = new LineSplitter(handleLine);
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => splitter.push(chunk));
  child.stdout.on('end', () => splitter.end());
  const stderrSplitter = new LineSplitter((line) => stderrTail.push(line));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => stderrSplitter.push(chunk));
  child.stderr.on('end', () => stderrSplitter.end());

  // Held in an object so the type checker sees it can change inside the callbacks.
  const stopState: { promise: Promise<void> | null } = { promise: null };
  const stop = (reason: unknown): Promise<void> => {
    if (stopState.promise) return stopState.promise;
    stopReason = reason;
    if (input !== 'ended') input = 'stopping';
    stopState.promise = (async () => {
      watchdog?.stop();
      if (hasExited) return;
      sendControlRequest({ subtype: 'interrupt' });
      await Promise.race([resultSeen, exited, delay(options.interruptGraceMs ?? INTERRUPT_GRACE_MS)]);
      child.stdin.end();
      const graceMs = options.stopGraceMs ?? STOP_GRACE_MS;
      // A steering message the CLI has not taken in yet would run as a new turn after the interrupt (measured):
      // no grace for that, straight to the signals.
      if (unconsumed.size === 0) await Promise.race([exited, delay(Math.min(2_000, graceMs))]);
      if (!hasExited) await killRunProcesses(options.runId, pid, graceMs);
    })();
    return stopState.promise;
  };

  const onAbort = (source: AbortSignal) => () => {
    void stop(source.reason);
  };
  const abortListeners: [AbortSignal, () => void][] = [];
  for (const source of [options.signal]) {
    if (!source) continue;
    const listener = onAbort(source);
    source.addEventListener('abort', listener, { once: true });
    abortListeners.push([source, listener]);
  }

  // Start: the initialize control request (registers our PreToolUse hook and names our SDK MCP servers, which the
  // CLI then connects to over this channel before its first model request), then the task prompt.
  sendControlRequest({
    subtype: 'initialize',
    ...(options.toolPermission ? { hooks: { PreToolUse: [{ hookCallbackIds: ['orch_pre_tool_use'] }] } } : {}),
    ...(mcpServers.size > 0 ? { sdkMcpServers: [...mcpServers.keys()] } : {}),
  });
  const { id: promptId, line: promptLine } = userMessageLine(options.prompt);
  send(promptLine);
  watchdog?.start();
  wallClock?.start();

  const sendUserMessage = (text: string, sendOptions: SendUserMessageOptions): Promise<SentUserMessage> => {
    if (input !== 'open' || !child.stdin.writable) {
      return Promise.reject(new SessionInputClosedError(input === 'open' ? 'ended' : input));
    }
    const marked = markSteeringText(text, sendOptions.origin);
    const { id, line } = userMessageLine(marked);
    const consumed = new Promise<number | null>((resolve) => unconsumed.set(id, resolve));
    return new Promise((resolve, reject) => {
      child.stdin.write(`${JSON.stringify(line)}\n`, (error) => {
        if (error) {
          unconsumed.get(id)?.(null);
          unconsumed.delete(id);
          reject(new SessionInputClosedError('ended'));
          return;
        }
        resolve({ id, text: marked, writtenAt: Date.now(), consumed });
      });
    });
  };

  const done = finish();
  return { pid, done, sendUserMessage };

  async function finish(): Promise<SessionResult> {
    const { exitCode, signal } = await exited;
    watchdog?.stop();
    wallClock?.stop();
    for (const [source, listener] of abortListeners) source.removeEventListener('abort', listener);
    if (stopState.promise) await stopState.promise;
    // No tool subprocess may outlive its session: clean the group (and any escaped marker-carrying process).
    await killRunProcesses(options.runId, pid, 1_000);
    await closeMcpServers(mcpServers);

    const base = {
      pid,
      exitCode,
      signal,
      sessionId,
      model,
      cliVersion,
      result: combineResults(results),
      resultCount: results.length,
      assistantError,
      lastAssistantText,
      stderrTail: stderrTail.toArray(),
      messageCount,
      deniedTools,
    };
    return { ...base, ...decideOutcome(base, stopReason) };
  }

  function notStarted(done: Promise<SessionResult>): ClaudeSession {
    const closed = done.then(async (result) => {
      await closeMcpServers(mcpServers);
      return result;
    });
    return { pid: null, done: closed, sendUserMessage: () => Promise.reject(new SessionInputClosedError('not_started')) };
  }

  function failedToSpawn(message: string): SessionResult {
    return {
      outcome: 'failed',
      errorKind: 'spawn_failed',
      errorMessage: `could not start the Claude Code CLI (${options.cliPath}): ${message}`,
      pid: null,
      exitCode: null,
      signal: null,
      sessionId: null,
      model: null,
      cliVersion: null,
      result: null,
      resultCount: 0,
      assistantError: null,
      lastAssistantText: null,
      stderrTail: stderrTail.toArray(),
      messageCount: 0,
      deniedTools,
    };
  }
}

/** Closes the session's MCP servers; one that fails to close does not keep the session from ending. */
async function closeMcpServers(servers: ReadonlyMap<string, ControlChannelMcpServer>): Promise<void> {
  await Promise.allSettled([...servers.values()].map((server) => server.close()));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function permissionRequestFrom(subtype: string, request: JsonObject): ToolPermissionRequest {
  if (subtype === 'hook_callback') {
    const input = (request.input ?? {}) as JsonObject;
    return {
      toolName: typeof input.tool_name === 'string' ? input.tool_name : '?',
      input: (input.tool_input ?? {}) as JsonObject,
      toolUseId: typeof input.tool_use_id === 'string' ? input.tool_use_id : typeof request.tool_use_id === 'string' ? request.tool_use_id : null,
      source: 'pre_tool_use',
    };
  }
  return {
    toolName: typeof request.tool_name === 'string' ? request.tool_name : '?',
    input: (request.input ?? {}) as JsonObject,
    toolUseId: typeof request.tool_use_id === 'string' ? request.tool_use_id : null,
    source: 'can_use_tool',
  };
}

type OutcomeFields = Pick<SessionResult, 'outcome' | 'errorKind' | 'errorMessage'>;

/** A session succeeds only with a success result, no error flag, and exit code 0. Everything else is explained. */
export function decideOutcome(
  session: Pick<SessionResult, 'result' | 'exitCode' | 'signal' | 'assistantError' | 'lastAssistantText' | 'stderrTail'>,
  stopReason: unknown,
): OutcomeFields {
  if (stopReason instanceof SessionTimeoutError) {
    return { outcome: 'timed_out', errorKind: stopReason.timeoutKind === 'inactivity' ? 'inactivity' : 'wall_clock', errorMessage: stopReason.message };
  }
  if (stopReason !== null) {
    const kind = stopReason instanceof BudgetExceededError ? 'budget' : 'stop_requested';
    const message = stopReason instanceof StoppedError || stopReason instanceof BudgetExceededError ? stopReason.message : `stopped: ${errorMessage(stopReason)}`;
    return { outcome: 'stopped', errorKind: kind, errorMessage: message };
  }
  const { result } = session;
  if (!result) {
    const how = session.signal ? `was killed by ${session.signal}` : `exited with code ${String(session.exitCode)}`;
    const tail = session.stderrTail.slice(-3).join(' | ');
    return { outcome: 'failed', errorKind: 'missing_result', errorMessage: `the CLI ${how} without a result message${tail ? `: ${tail}` : ''}` };
  }
  if (result.subtype === 'error_max_budget_usd') {
    // The CLI enforces --max-budget-usd after each turn: the session was stopped for its cost, like a budget stop of ours.
    return { outcome: 'stopped', errorKind: 'budget', errorMessage: `stopped by its cost budget: $${result.totalCostUsd.toFixed(4)} spent (${result.subtype})` };
  }
  if (result.isError || result.subtype !== 'success') {
    const isApi = result.apiErrorStatus !== null || (session.assistantError !== null && session.assistantError !== undefined);
    const detail = result.errors[0] ?? result.result ?? session.lastAssistantText ?? result.subtype;
    return {
      outcome: 'failed',
      errorKind: isApi ? 'api_error' : 'error_result',
      errorMessage: isApi
        ? `API error${result.apiErrorStatus ? ` (HTTP ${result.apiErrorStatus})` : ''}: ${detail}`
        : `${result.subtype}${result.terminalReason ? ` (${result.terminalReason})` : ''}: ${detail}`,
    };
  }
  if (session.exitCode !== 0) {
    return { outcome: 'failed', errorKind: 'cli_exit', errorMessage: `the CLI exited with code ${String(session.exitCode)}${session.signal ? ` (${session.signal})` : ''} after a success result` };
  }
  return { outcome: 'succeeded', errorKind: null, errorMessage: null };
}
