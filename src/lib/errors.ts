/**
 * One base class for every failure the user can act on. Each subclass names the problem in `message`
 * and the fix in `hint`; `code` is stable (shown in the CLI, stored on runs, sent to the dashboard).
 * Expected outcomes (a failed session, a merge conflict) are values, not throws: see the result types.
 */
export interface OrchestratorErrorOptions {
  hint?: string;
  retryable?: boolean;
  cause?: unknown;
  data?: Record<string, unknown>;
}

export interface SerializedError {
  name: string;
  code: string;
  message: string;
  hint?: string;
  data?: Record<string, unknown>;
}

export class OrchestratorError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly retryable: boolean;
  readonly data: Record<string, unknown> | undefined;
  /** Exit code the CLI uses for this error: 2 for usage and configuration problems, 1 otherwise. */
  readonly exitCode: number = 1;

  constructor(code: string, message: string, options: OrchestratorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.retryable = options.retryable ?? false;
    this.data = options.data;
  }

  /** The shape errors take when they cross to the dashboard or the store: never a stack. */
  toObject(): SerializedError {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.data === undefined ? {} : { data: this.data }),
    };
  }
}

export class UsageError extends OrchestratorError {
  override readonly exitCode = 2;
  constructor(message: string, options: OrchestratorErrorOptions = {}) {
    super('ORCH_USAGE', message, options);
  }
}

export class ConfigError extends OrchestratorError {
  override readonly exitCode = 2;
  constructor(message: string, options: OrchestratorErrorOptions = {}) {
    super('ORCH_CONFIG_INVALID', message, options);
  }
}

export class AgentDefinitionError extends OrchestratorError {
  constructor(
    readonly file: string,
    message: string,
    options: OrchestratorErrorOptions = {},
  ) {
    super('ORCH_AGENT_DEFINITION', `${file}: ${message}`, options);
  }
}

export class RoadmapParseError extends OrchestratorError {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
    options: OrchestratorErrorOptions = {},
  ) {
    super('ORCH_ROADMAP_PARSE', `${file}:${line}: ${message}`, options);
  }
}

export class ClaudeCliNotFoundError extends OrchestratorError {
  constructor(searched: readonly string[]) {
    super('ORCH_CLI_NOT_FOUND', `Claude Code CLI not found (looked in: ${searched.join(', ')})`, {
      hint: 'Run `npm install` in the orchestrator package (it depends on @anthropic-ai/claude-code), or set CLAUDE_BIN to the path of a `claude` executable.',
    });
  }
}

export class NotAGitRepoError extends OrchestratorError {
  constructor(dir: string) {
    super('ORCH_NOT_A_GIT_REPO', `${dir} is not a git repository`, {
      hint: `Run \`git init\` in ${dir} (and make a first commit), or pass --cwd with the path of a git repository.`,
    });
  }
}

export class DirtyWorktreeError extends OrchestratorError {
  constructor(dir: string, files: readonly string[]) {
    super('ORCH_DIRTY_WORKTREE', `${dir} has uncommitted changes: ${files.slice(0, 10).join(', ')}`, {
      hint: 'Commit or stash these changes first; the orchestrator never overwrites uncommitted work.',
      data: { files },
    });
  }
}

export class MergeConflictError extends OrchestratorError {
  constructor(branch: string, into: string, files: readonly string[]) {
    super('ORCH_MERGE_CONFLICT', `merging ${branch} into ${into} conflicts in: ${files.join(', ')}`, {
      hint: `The merge was aborted and nothing was lost; resolve by rebasing ${branch} onto ${into}.`,
      data: { branch, into, files },
    });
  }
}

export class StoreError extends OrchestratorError {
  constructor(message: string, options: OrchestratorErrorOptions = {}) {
    super('ORCH_STORE', message, options);
  }
}

export class RunNotFoundError extends OrchestratorError {
  constructor(ref: string) {
    super('ORCH_RUN_NOT_FOUND', `no run matches "${ref}"`, {
      hint: 'Run `orchestrator ps` to list runs; a run id prefix of 6 or more characters is enough.',
    });
  }
}

/** The reason passed to AbortController.abort() when a user (or shutdown) stops a session: status `stopped`. */
export class StoppedError extends OrchestratorError {
  constructor(message = 'stopped by request', options: OrchestratorErrorOptions = {}) {
    super('ORCH_STOPPED', message, options);
  }
}

/** The abort reason for a wall-clock deadline or an inactivity watchdog: status `timed_out`. */
export class SessionTimeoutError extends OrchestratorError {
  constructor(
    readonly timeoutKind: 'wall_clock' | 'inactivity',
    readonly afterMs: number,
  ) {
    super(
      'ORCH_SESSION_TIMEOUT',
      timeoutKind === 'wall_clock'
        ? `session exceeded its time limit of ${Math.round(afterMs / 1000)} s`
        : `session emitted no stream event for ${Math.round(afterMs / 1000)} s`,
      {
        hint:
          timeoutKind === 'wall_clock'
            ? 'Raise --timeout (or runtime.timeoutSeconds in the config) if the task needs longer.'
            : 'Raise --idle-timeout (or runtime.idleTimeoutSeconds) if tools legitimately run silent for longer.',
      },
    );
  }
}

/** The abort reason when a cost budget is exceeded while a session runs: status `stopped`. */
export class BudgetExceededError extends OrchestratorError {
  constructor(message: string, options: OrchestratorErrorOptions = {}) {
    super('ORCH_BUDGET_EXCEEDED', message, {
      hint: 'Raise budgets.perRunUsd / budgets.perDayUsd in the config, or wait for the next day.',
      ...options,
    });
  }
}

/**
 * A steering message could not be written into a session: it has ended, is being stopped, or has finished its task
 * (stdin is closed after its result). Nothing reached the CLI, so the message can go to the next session instead.
 */
export class SessionInputClosedError extends OrchestratorError {
  constructor(readonly reason: 'ended' | 'stopping' | 'finished' | 'not_started') {
    super('ORCH_SESSION_INPUT_CLOSED', `the session takes no more messages (${reason.replace('_', ' ')})`, {
      hint: 'Deliver the message into the prompt of the next session for the same role and work item.',
    });
  }
}

/** Wraps anything thrown into an Error, keeping the original as `cause`. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value), { cause: value });
}

export function errorMessage(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}
