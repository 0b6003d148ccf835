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
}

export const DEFAULT_SESSION_TOOL_SETTINGS: SessionToolSettings = { bugsPerRun: 3, messagesPerRun: 20, messagesPerItem: 100, toolTimeoutMs: 86_400_000 };

/** The settings as configured (`sessionTools` in orchestrator.config.json). */
export function sessionToolSettingsOf(config: Pick<ResolvedConfig, 'sessionTools'>): SessionToolSettings {
  return {
    bugsPerRun: config.sessionTools.bugsPerRun,
    messagesPerRun: config.sessionTools.messagesPerRun,
    messagesPerItem: config.sessionTools.messagesPerItem,
    toolTimeoutMs: config.sessionTools.toolTimeoutSeconds * 1000,
  };
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
