import type { ResolvedConfig } from '../../config/index.js';
import type { EventBus, RunId, WorkItemId } from '../../events/index.js';
import type { Store } from '../../store/index.js';

/** Limits of the session tools (config `sessionTools`). */
export interface SessionToolSettings {
  /** Bugs one run may file (`file_bug`). */
  bugsPerRun: number;
  /** Messages one run may send (`send_message`). */
  messagesPerRun: number;
  /** Messages agents may send in one work item's thread, all runs together (`send_message`). */
  messagesPerItem: number;
  /** How long the CLI lets one tool call run (MCP_TOOL_TIMEOUT), in ms. */
  toolTimeoutMs: number;
  /** How long `ask_human` waits for an answer before it gives the fallback, in ms (default 30 minutes). */
  askHumanTimeoutMs?: number;
  /**
   * `wait`: `ask_human` waits for a person; `fallback`: nobody can answer in this run (`--until-idle`, or neither a
   * dashboard nor a terminal), so it records the question as expired and gives the fallback at once. Default `wait`.
   */
  askHuman?: AskHumanMode;
}

export type AskHumanMode = 'wait' | 'fallback';

export const DEFAULT_SESSION_TOOL_SETTINGS: Required<SessionToolSettings> = { bugsPerRun: 3, messagesPerRun: 20, messagesPerItem: 100, toolTimeoutMs: 86_400_000, askHumanTimeoutMs: 1_800_000, askHuman: 'wait' };

/**
 * The settings as configured (`sessionTools` in orchestrator.config.json), for a process that runs sessions.
 * `unattended`: nobody can answer a question in this run (`--until-idle`, or neither a dashboard nor a terminal);
 * then `ask_human` does what `sessionTools.askHumanUnattended` says (default: the fallback at once).
 */
export function sessionToolSettingsOf(config: Pick<ResolvedConfig, 'sessionTools'>, options: { unattended?: boolean } = {}): SessionToolSettings {
  const tools = config.sessionTools;
  return {
    bugsPerRun: tools.bugsPerRun,
    messagesPerRun: tools.messagesPerRun,
    messagesPerItem: tools.messagesPerItem,
    toolTimeoutMs: tools.toolTimeoutSeconds * 1000,
    askHumanTimeoutMs: tools.askHumanTimeoutSeconds * 1000,
    askHuman: options.unattended === true && tools.askHumanUnattended === 'fallback' ? 'fallback' : 'wait',
  };
}

/** Whether this process has a person at hand: a terminal on stdin or stdout. */
export function hasTerminal(): boolean {
  return process.stdin.isTTY === true || process.stdout.isTTY === true;
}

/**
 * The session a tool server serves, bound when the session starts: every tool acts as this run, in this role, for
 * this work item, whatever its arguments say (the identity comes from the channel). Tools read and write through
 * the store, so they work the same for a session a worker runs on another machine.
 */
export interface SessionToolContext {
  runId: RunId;
  /** The role (agent) the session runs as. */
  role: string;
  /** The work item it works on; null for an ad-hoc run (`orchestrator run`). */
  workItemId: WorkItemId | null;
  store: Store;
  /** This process's bus (live events for its dashboard and terminal); what a tool records goes to the store too. */
  bus: EventBus | null;
  /** The session's working directory: its worktree. */
  cwd: string;
  /** The branch finished work is merged into, when known (documents not in the worktree are read from there). */
  integrationBranch: string | null;
  settings: SessionToolSettings;
}
