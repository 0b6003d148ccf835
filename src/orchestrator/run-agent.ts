import { hostname } from 'node:os';
import type { AgentDefinition } from '../agents/index.js';
import { rememberPayloadJson, type EventBus, type InvocationId, type JsonObject, type MessageRecord, type RunErrorKind, type RunId, type RunStatus, type WorkItemId } from '../events/index.js';
import { newSortableId } from '../lib/ids.js';
import { mayContainSecret, redactText, redactValue } from '../lib/redact.js';
import { registerLocalSession } from './local-stops.js';
import { deliverLive, withWaitingMessages, type SessionInbox } from './message-delivery.js';
import { nowIso, isoFromMs } from '../lib/time.js';
import {
  startClaudeSession,
  subtypeOf,
  toolNameOf,
  typeOf,
  type PermissionMode,
  type ControlChannelMcpServer,
  type SessionResult,
  type ToolPermissionDecision,
  type ToolPermissionRequest,
} from '../runtime/index.js';
import type { FinishInvocation, RunRecord, Store } from '../store/index.js';
import { UsageTally, priceTable, type PriceTable } from '../usage/index.js';
import { estimatedUsage } from './usage-estimate.js';

/** Anything that accepts message records in order and can flush them (the store's MessageWriter). */
export interface MessageSink {
  write(record: MessageRecord): void;
  flush(): Promise<void>;
}

export interface RunAgentOptions {
  store: Store;
  bus: EventBus;
  messages: MessageSink;
  cliPath: string;
  agent: AgentDefinition;
  prompt: string;
  cwd: string;
  env: Record<string, string>;
  /** Model when the agent definition names none. */
  defaultModel?: string | undefined;
  taskKind?: string;
  workItemId?: WorkItemId | null;
  attempt?: number;
  worktree?: string | null;
  branch?: string | null;
  resumeSessionId?: string | undefined;
  /** Reuse an existing run row (a resume or retry of the same run) instead of creating one. */
  existingRunId?: RunId;
  /** The id of the new run row, when the caller chose it (a coordinator following a session it queued for a worker). */
  runId?: RunId;
  permissionMode?: PermissionMode;
  /** Extra tool rules approved without asking, added to the agent's own tools (e.g. `Bash(git *)`). */
  extraAllowedTools?: readonly string[];
  toolPermission?: (request: ToolPermissionRequest) => ToolPermissionDecision | Promise<ToolPermissionDecision>;
  /** MCP servers served to the session over its control channel (the session tools), made once the run id is known. */
  mcpServers?: (runId: RunId) => readonly ControlChannelMcpServer[];
  timeoutMs?: number | undefined;
  idleTimeoutMs?: number | undefined;
  stopGraceMs?: number | undefined;
  maxTurns?: number | undefined;
  /** Prices for the estimate of a session that ends without a result (built-in table + config `pricing`). */
  prices?: PriceTable;
  /** Per-run cost cap in USD, enforced by the CLI after each turn (`--max-budget-usd`). */
  maxBudgetUsd?: number | undefined;
  /**
   * Run with the agent's instructions as the whole system prompt (`--system-prompt`), as Claude Code runs an agent
   * file, instead of appended to Claude Code's own (`--append-system-prompt`, the default).
   */
  agentPromptOnly?: boolean | undefined;
  signal?: AbortSignal;
  /** Called with the run id as soon as the row exists (before spawning). */
  onRunCreated?: (runId: RunId) => void;
}

export interface RunAgentResult {
  run: RunRecord;
  invocationId: InvocationId;
  session: SessionResult;
}

/**
 * Runs one role agent as one recorded Claude Code session: the run row is written before the process is
 * spawned, the real pid once known, every stream message through the bus to the batched writer, and the
 * invocation's tokens and cost from the CLI's own result message, or, when the session ended without one (killed
 * by a signal, the OOM killer, a crash), estimated from its API messages and marked so. Never trusts the session
 * for success: the outcome comes from the result message, the exit code and why it was stopped.
 */
export async function runAgent(options: RunAgentOptions): Promise<RunAgentResult> {
  const { store, bus, agent } = options;
  const runId = options.existingRunId ?? options.runId ?? (newSortableId() as RunId);
  const inbox: SessionInbox = { runId, role: agent.name, workItemId: options.workItemId ?? null };
  // Messages sent to this role on this item (or to the item, or to a continued run) while no session of it ran.
  const { prompt } = await withWaitingMessages(store, inbox, options.prompt);
  const createdAt = nowIso();
  if (!options.existingRunId) {
    await store.createRun({
      id: runId,
      agent: agent.name,
      taskKind: options.taskKind ?? 'task',
      prompt: redactText(prompt),
      cwd: options.cwd,
      workItemId: options.workItemId ?? null,
      attempt: options.attempt ?? 1,
      worktree: options.worktree ?? null,
      branch: options.branch ?? null,
      ownerPid: process.pid,
      host: hostname(),
      createdAt,
    });
    bus.emit('run.queued', { runId, agent: agent.name, workItemId: options.workItemId ?? null, at: createdAt });
  }
  options.onRunCreated?.(runId);

  const invocationId = newSortableId() as InvocationId;
  const model = agent.model ?? options.defaultModel ?? null;
  await store.createInvocation({
    id: invocationId,
    runId,
    prompt: redactText(prompt),
    systemPrompt: redactText(agent.instructions),
    model,
    resumeSessionId: options.resumeSessionId ?? null,
    startedAt: nowIso(),
  });

  let seq = 0;
  const tally = new UsageTally();
  let markedRunning: Promise<void> = Promise.resolve();
  const tools = agent.tools ?? undefined;
  const extraArgs: string[] = [];
  if (options.maxBudgetUsd !== undefined) extraArgs.push('--max-budget-usd', String(options.maxBudgetUsd));

  const local = registerLocalSession(store, runId);
  const signal = options.signal ? AbortSignal.any([options.signal, local.signal]) : local.signal;
  let live: ReturnType<typeof startClaudeSession>;
  try {
    live = startClaudeSession({
      runId,
      cliPath: options.cliPath,
      cwd: options.cwd,
      prompt,
      ...(options.agentPromptOnly ? { systemPrompt: agent.instructions } : { appendSystemPrompt: agent.instructions }),
      ...(model ? { model } : {}),
      ...(tools ? { tools } : {}),
      allowedTools: [...(tools ?? []), ...(options.extraAllowedTools ?? [])],
      disallowedTools: agent.disallowedTools,
      permissionMode: options.permissionMode ?? 'default',
      ...(options.maxTurns !== undefined || agent.maxTurns !== null ? { maxTurns: agent.maxTurns ?? options.maxTurns } : {}),
      ...(options.resumeSessionId ? { resumeSessionId: options.resumeSessionId } : {}),
      env: options.env,
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
      ...(options.stopGraceMs !== undefined ? { stopGraceMs: options.stopGraceMs } : {}),
      ...(options.toolPermission ? { toolPermission: options.toolPermission } : {}),
      ...(options.mcpServers ? { mcpServers: options.mcpServers(runId) } : {}),
      signal,
      extraArgs,
      onSpawn: (pid) => {
        const at = nowIso();
        markedRunning = store.markRunRunning(runId, { pid, startedAt: at });
        // Awaited after the session; until then a failure (the database out of reach) must not count as unhandled.
        markedRunning.catch(() => undefined);
        bus.emit('run.started', { runId, invocationId, agent: agent.name, pid, at });
      },
      onMessage: (message, receivedAt, line) => {
        seq += 1;
        const { payload, json } = safePayload(message.raw, line);
        const record: MessageRecord = {
          invocationId,
          runId,
          seq,
          at: isoFromMs(receivedAt),
          type: typeOf(message),
          subtype: subtypeOf(message),
          toolName: toolNameOf(message),
          payload,
        };
        rememberPayloadJson(record, json);
        tally.addMessage(record.type, payload);
        bus.emit('run.message', record);
        options.messages.write(record);
      },
      onPermissionDecision: (request, decision) => {
        if (decision.behavior !== 'deny') return;
        const at = nowIso();
        const input = redactValue(request.input);
        bus.emit('run.permission_denied', { runId, invocationId, toolName: request.toolName, reason: decision.message, input, at });
        // The denial is also in the invocation's permission_denials; a lost audit row must not end the process.
        store.appendEvent({ at, kind: 'permission.denied', runId, workItemId: options.workItemId ?? null, message: `${request.toolName}: ${decision.message}`, data: { tool: request.toolName, input } }).catch(() => undefined);
      },
    });
  } catch (error) {
    local.unregister();
    throw error;
  }
  // Messages for this session that arrive while it runs go in at its next turn boundary (message-delivery.ts).
  const delivery = live.pid === null ? null : deliverLive(store, inbox, live);
  const session = await live.done.finally(() => {
    delivery?.stop();
    local.unregister();
  });

  await markedRunning;
  await options.messages.flush();
  const current = await store.getRun(runId);
  const { status, errorKind, errorMessage } = finalStatus(session, current?.stopRequestedAt ?? null);
  const endedAt = nowIso();
  const result = session.result;
  const usage: Pick<FinishInvocation, 'inputTokens' | 'outputTokens' | 'cacheCreationInputTokens' | 'cacheReadInputTokens' | 'costUsd' | 'costEstimated' | 'costNote'> =
    result === null && seq > 0
      ? estimatedUsage(tally, options.prices ?? priceTable())
      : {
          inputTokens: result?.usage.input_tokens ?? 0,
          outputTokens: result?.usage.output_tokens ?? 0,
          cacheCreationInputTokens: result?.usage.cache_creation_input_tokens ?? 0,
          cacheReadInputTokens: result?.usage.cache_read_input_tokens ?? 0,
          costUsd: result?.totalCostUsd ?? 0,
          costEstimated: false,
          costNote: null,
        };
  await store.finishInvocation(invocationId, {
    status,
    endedAt,
    sessionId: session.sessionId,
    model: session.model ?? model,
    cliVersion: session.cliVersion,
    durationMs: result?.durationMs ?? null,
    durationApiMs: result?.durationApiMs ?? null,
    numTurns: result?.numTurns ?? null,
    ...usage,
    resultSubtype: result?.subtype ?? null,
    resultText: result?.result !== null && result?.result !== undefined ? redactText(result.result) : null,
    isError: result?.isError ?? true,
    terminalReason: result?.terminalReason ?? null,
    apiErrorStatus: result?.apiErrorStatus ?? null,
    permissionDenials: redactValue([
      ...(result?.permissionDenials ?? []).map((denial): JsonObject => ({ tool_name: denial.tool_name, tool_use_id: denial.tool_use_id, tool_input: denial.tool_input, source: 'cli' })),
      ...session.deniedTools.map((denial): JsonObject => ({ tool_name: denial.toolName, tool_input: denial.input, message: denial.message, source: 'orchestrator' })),
    ]),
    exitCode: session.exitCode,
    signal: session.signal,
    stderrTail: redactText(session.stderrTail.join('\n')),
  });
  await store.finishRun(runId, { status, endedAt, exitCode: session.exitCode, errorKind, errorMessage: errorMessage === null ? null : redactText(errorMessage) });
  bus.emit('run.ended', { runId, invocationId, status, errorKind, errorMessage, costUsd: usage.costUsd, at: endedAt });
  const run = await store.getRun(runId);
  if (!run) throw new Error(`run ${runId} vanished from the store`);
  return { run, invocationId, session };
}

/** The payload to record and its JSON: the CLI's own line, unless it may hold a secret (then a redacted copy). */
function safePayload(raw: JsonObject, line: string): { payload: JsonObject; json: string } {
  if (!mayContainSecret(line)) return { payload: raw, json: line };
  const payload = redactValue(raw);
  return { payload, json: JSON.stringify(payload) };
}

/** The run's status: a stop requested from outside (orchestrator stop, dashboard) turns any ending into `stopped`. */
function finalStatus(session: SessionResult, stopRequestedAt: string | null): { status: RunStatus; errorKind: RunErrorKind | null; errorMessage: string | null } {
  if (stopRequestedAt !== null && session.outcome !== 'succeeded') {
    return { status: 'stopped', errorKind: 'stop_requested', errorMessage: `stopped on request at ${stopRequestedAt}` };
  }
  return { status: session.outcome, errorKind: session.errorKind, errorMessage: session.errorMessage };
}
