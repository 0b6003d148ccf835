import { z } from 'zod';

/**
 * The single source of the configuration's types and defaults. Layering: defaults < file
 * (`orchestrator.config.json` at the repository root) < environment < command-line flags.
 * Every object is strict: an unknown key is an error that names the closest valid key.
 */
const runtimeSchema = z
  .object({
    /** Path of the `claude` executable; default: the @anthropic-ai/claude-code dependency, then PATH. */
    claudeBin: z.string().min(1).optional(),
    /** Model for sessions whose agent definition names none (or says `inherit`). */
    model: z.string().min(1).optional(),
    /** Wall-clock limit of one session. */
    timeoutSeconds: z.number().positive().default(1800),
    /** A session that emits no stream line for this long is stopped (a long silent Bash counts). */
    idleTimeoutSeconds: z.number().positive().default(600),
    /** Time a stopping session gets between SIGTERM and SIGKILL. */
    stopGraceSeconds: z.number().positive().default(5),
    /** Limit on agentic turns of one session (`--max-turns`). */
    maxTurns: z.number().int().positive().default(200),
    /**
     * Roles whose sessions get their agent file's body as their whole system prompt, the way Claude Code runs an
     * agent, instead of appended to Claude Code's own (about 6.7 kB per request). For small, mechanical roles:
     * the project manager's status edit needs only Read and Edit, and their descriptions come with the tools.
     */
    agentPromptOnly: z.array(z.string().min(1)).default(['project-manager']),
    /** Extra environment variables for sessions (not secrets: put API keys in the environment). */
    env: z.record(z.string(), z.string()).default({}),
  })
  .strict();

const concurrencySchema = z
  .object({
    maxRuns: z.number().int().positive().default(4),
    perRole: z.record(z.string(), z.number().int().positive()).default({ 'code-developer': 3 }),
  })
  .strict();

const budgetsSchema = z
  .object({
    perRunUsd: z.number().positive().optional(),
    perDayUsd: z.number().positive().optional(),
  })
  .strict();

const retriesSchema = z
  .object({
    /** Runs of one role for one work item before it is blocked (task failures). */
    maxAttempts: z.number().int().positive().default(3),
    /** Transient failures (API overloaded, network) are retried with exponential backoff from this delay. */
    baseDelayMs: z.number().int().nonnegative().default(5_000),
    maxDelayMs: z.number().int().positive().default(120_000),
    maxTransientRetries: z.number().int().nonnegative().default(5),
  })
  .strict();

const dashboardSchema = z
  .object({
    port: z.number().int().min(0).max(65_535).default(4600),
    host: z.string().default('127.0.0.1'),
    /** Required to bind any non-loopback address; generated and printed when absent. */
    token: z.string().min(16).optional(),
  })
  .strict();

/**
 * Several machines (PostgreSQL): how often a worker heartbeats, how long a silent worker keeps its jobs before the
 * coordinator marks it lost and hands them back, and how many sessions a worker runs at once.
 */
const workersSchema = z
  .object({
    /**
     * Sessions go through the job queue (graphile-worker, in PostgreSQL) to `orchestrator worker` processes on any
     * machine that reaches the database and the git remote, instead of running in this process. Needs PostgreSQL.
     */
    enabled: z.boolean().default(false),
    /** With `enabled`: sessions `start` itself takes from the queue (0: only workers run them). */
    localSlots: z.number().int().nonnegative().default(0),
    /** The PostgreSQL schema of the job queue. */
    queueSchema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case PostgreSQL identifier')
      .default('orchestrator_queue'),
    /** Starts of one session's job before its item is blocked: restarts after a lost worker or a crash, counted apart from task failures. */
    maxRestarts: z.number().int().positive().default(3),
    /** A worker whose last heartbeat is older than this is lost: its jobs go back to the queue, its runs are orphaned. */
    leaseSeconds: z.number().positive().max(600).default(30),
    /** How often a worker writes its heartbeat; must leave room for a few missed ones within the lease. */
    heartbeatSeconds: z.number().positive().default(5),
    /** Sessions one worker runs at once. */
    slots: z.number().int().positive().default(2),
  })
  .strict()
  .refine((workers) => workers.heartbeatSeconds * 2 <= workers.leaseSeconds, {
    message: 'heartbeatSeconds must be at most half of leaseSeconds, so one late heartbeat does not lose a worker',
    path: ['heartbeatSeconds'],
  });

/** The shared git remote of several machines: workers clone it, push item branches to it; the coordinator pushes the integration branch. */
const gitSchema = z
  .object({
    /** The remote's name in this clone (its URL is what workers clone), or a URL. */
    remote: z.string().min(1).default('origin'),
    /** Where a worker keeps its clones, one per repository; default: ~/.cache/orchestrator/clones. */
    cacheDir: z.string().min(1).optional(),
  })
  .strict();

/** The orchestrator's own tools, served to every session (`mcp__orchestrator__…`; see src/orchestrator/session-tools). */
const sessionToolsSchema = z
  .object({
    /** Bugs one run may file with `file_bug`; past it the tool refuses and says so. */
    bugsPerRun: z.number().int().nonnegative().default(3),
    /** Messages one run may send with `send_message` (to agents or a person); past it the tool refuses and says so. */
    messagesPerRun: z.number().int().nonnegative().default(20),
    /** Messages agents may send in one work item's thread, all runs together (stops two agents talking in circles). */
    messagesPerItem: z.number().int().nonnegative().default(100),
    /**
     * How long the CLI lets one call of these tools run (its MCP_TOOL_TIMEOUT). A call that waits for a person
     * (`ask_human`) waits at most its own limit, which must stay below this one.
     */
    toolTimeoutSeconds: z.number().positive().default(86_400),
    /** How long `ask_human` waits for a person's answer before it gives the fallback (the question expires). */
    askHumanTimeoutSeconds: z.number().positive().default(1_800),
    /**
     * What `ask_human` does when nobody can answer (`--until-idle`, or neither a dashboard nor a terminal): `fallback`
     * returns the fallback at once (the question is recorded, as expired); `wait` waits as usual.
     */
    askHumanUnattended: z.enum(['fallback', 'wait']).default('fallback'),
  })
  .strict()
  .refine((tools) => tools.askHumanTimeoutSeconds < tools.toolTimeoutSeconds, {
    message: 'sessionTools.askHumanTimeoutSeconds must be below sessionTools.toolTimeoutSeconds (the CLI would cut the wait first); raise toolTimeoutSeconds or lower askHumanTimeoutSeconds',
  });

const perMTok = z.number().nonnegative();
/** USD per million tokens of one model (or of every model a `*` prefix matches). */
const modelPriceSchema = z
  .object({
    inputPerMTok: perMTok,
    outputPerMTok: perMTok,
    /** 5-minute prompt-cache writes. */
    cacheWritePerMTok: perMTok,
    cacheReadPerMTok: perMTok,
    /** 1-hour prompt-cache writes; the 5-minute price when absent. */
    cacheWrite1hPerMTok: perMTok.optional(),
  })
  .strict();

/**
 * Prices for the cost we estimate when a session ends without the CLI's result (see docs/architecture.md), merged
 * over the built-in table: a model id (`claude-opus-4-8`; a snapshot date or `[1m]` is ignored), or a prefix ending
 * in `*` (`claude-opus-*`) for every model it starts, the longest prefix winning.
 */
const pricingSchema = z.record(
  z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@[\]-]*\*?$/, 'must be a model id (claude-opus-4-8) or a prefix ending in * (claude-opus-*)'),
  modelPriceSchema,
);

/** What can notify: a question waiting for a person, an item blocked, an item done, a budget reached. */
export const NOTIFICATION_KINDS = ['question', 'blocked', 'done', 'budget'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

const webhookSchema = z
  .object({
    /** Shown in logs and `doctor` instead of the URL (a webhook URL is a secret). Default: webhook-<n>. */
    name: z.string().min(1).max(60).optional(),
    /** The URL (http or https). It is a secret: prefer `urlEnv`, so it stays out of the repository. */
    url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
    /** The environment variable that holds the URL (e.g. SLACK_WEBHOOK_URL). */
    urlEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name (e.g. SLACK_WEBHOOK_URL)').optional(),
    /** Which notifications this webhook gets; default: all. */
    events: z.array(z.enum(NOTIFICATION_KINDS)).min(1).optional(),
  })
  .strict()
  .refine((hook) => (hook.url === undefined) !== (hook.urlEnv === undefined), {
    message: 'give exactly one of url and urlEnv (urlEnv keeps the secret URL out of the config file)',
  });

/**
 * Webhooks: a JSON POST (`{"text": …}`, as Slack's incoming webhooks take it, plus structured fields) for each
 * notification. Delivery never holds up the pipeline: a failed POST is retried with exponential backoff and jitter
 * up to `maxAttempts`, then recorded as a `notify.failed` event.
 */
const notificationsSchema = z
  .object({
    webhooks: z.array(webhookSchema).default([]),
    /** POSTs of one notification to one webhook, the first included. */
    maxAttempts: z.number().int().min(1).max(20).default(5),
    /** Delay before the first retry; doubled per retry (±20 % jitter), up to retryMaxDelayMs. */
    retryBaseDelayMs: z.number().int().nonnegative().default(1_000),
    retryMaxDelayMs: z.number().int().positive().default(60_000),
    /** One POST's time limit. */
    timeoutMs: z.number().int().positive().default(10_000),
    /** Notifications waiting for delivery, per process; past it the oldest are dropped (and counted). */
    queueSize: z.number().int().positive().default(200),
  })
  .strict();

export const configSchema = z
  .object({
    /** Branch finished work is merged into; default: the repository's current branch. */
    integrationBranch: z.string().min(1).optional(),
    /** The project's test command, run by the orchestrator itself to verify a developer's work. */
    testCommand: z.string().min(1).optional(),
    /** Where agent definitions live, relative to the repository root. */
    agentsDir: z.string().default('.claude/agents'),
    roadmapPath: z.string().default('docs/roadmap/ROADMAP.md'),
    database: z
      .object({
        /** `postgres://…` for several machines; empty means SQLite at `path`. */
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// (or postgresql://) connection URL; leave it out for SQLite')
          .optional(),
        path: z.string().default('.orchestrator/orchestrator.db'),
      })
      .strict()
      .default({ path: '.orchestrator/orchestrator.db' }),
    runtime: runtimeSchema.default(runtimeSchema.parse({})),
    concurrency: concurrencySchema.default(concurrencySchema.parse({})),
    budgets: budgetsSchema.default({}),
    retries: retriesSchema.default(retriesSchema.parse({})),
    review: z
      .object({ maxRounds: z.number().int().positive().default(3) })
      .strict()
      .default({ maxRounds: 3 }),
    merge: z
      .object({
        /**
         * A merge is tested in the item's worktree while the integration branch may move; if it moved, the merge is
         * made and tested again. After this many re-tests the item holds the integration lock while it tests, so a
         * slow item is not starved by faster ones.
         */
        maxRetests: z.number().int().nonnegative().default(2),
      })
      .strict()
      .default({ maxRetests: 2 }),
    dashboard: dashboardSchema.default(dashboardSchema.parse({})),
    workers: workersSchema.default(workersSchema.parse({})),
    git: gitSchema.default(gitSchema.parse({})),
    pricing: pricingSchema.default({}),
    notifications: notificationsSchema.default(notificationsSchema.parse({})),
    sessionTools: sessionToolsSchema.default(sessionToolsSchema.parse({})),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;

/** The resolved configuration, frozen, plus where it came from. */
export type ResolvedConfig = Readonly<Config> & {
  readonly repoRoot: string;
  readonly configFile: string | null;
  /** Absolute path of the SQLite database (when no url is set). */
  readonly databasePath: string;
  /** Environment passed to sessions (the orchestrator's, minus nothing: the CLI needs HOME, PATH and the API settings). */
  readonly sessionEnv: Readonly<Record<string, string>>;
  /** `notifications.webhooks` with their URLs read (from `url` or the `urlEnv` variable); see ResolvedWebhook. */
  readonly webhooks: readonly ResolvedWebhook[];
};

/** A configured webhook, its URL resolved. The URL is registered as a secret (redacted wherever text is redacted). */
export interface ResolvedWebhook {
  /** The configured name, or webhook-<n> (1-based). */
  readonly name: string;
  /** Null when `urlEnv` names a variable that is not set: the webhook is skipped, and `doctor` says why. */
  readonly url: string | null;
  /** What messages show instead of the URL: scheme and host only (`https://hooks.slack.com/…`). */
  readonly target: string;
  readonly events: readonly NotificationKind[];
  /** Why `url` is null. */
  readonly problem: string | null;
}

export const CONFIG_FILE_NAME = 'orchestrator.config.json';
