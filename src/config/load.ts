import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigError } from '../lib/errors.js';
import { registerSecret, registerSecretsFromEnv } from '../lib/redact.js';
import { CONFIG_FILE_NAME, NOTIFICATION_KINDS, configSchema, type Config, type ConfigInput, type ResolvedConfig, type ResolvedWebhook } from './schema.js';

/** Flags given on the command line; undefined values are stripped so they never mask the file. */
export type ConfigOverrides = {
  integrationBranch?: string | undefined;
  testCommand?: string | undefined;
  databaseUrl?: string | undefined;
  databasePath?: string | undefined;
  claudeBin?: string | undefined;
  model?: string | undefined;
  timeoutSeconds?: number | undefined;
  idleTimeoutSeconds?: number | undefined;
  dashboardPort?: number | undefined;
  dashboardHost?: string | undefined;
  /** `workers.queueSchema` (a worker's `--queue-schema`). */
  queueSchema?: string | undefined;
};

export interface LoadConfigOptions {
  repoRoot: string;
  /** Explicit config file; default `<repoRoot>/orchestrator.config.json` if it exists. */
  configFile?: string | undefined;
  env: Record<string, string | undefined>;
  overrides?: ConfigOverrides;
}

/** Loads defaults < file < env < flags into one frozen, validated object. */
export async function loadConfig(options: LoadConfigOptions): Promise<ResolvedConfig> {
  const repoRoot = resolve(options.repoRoot);
  const explicit = options.configFile !== undefined;
  const configFile = options.configFile ? resolve(options.configFile) : join(repoRoot, CONFIG_FILE_NAME);
  let fileInput: Record<string, unknown> = {};
  let usedFile: string | null = null;
  try {
    const text = await readFile(configFile, 'utf8');
    usedFile = configFile;
    try {
      fileInput = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(`${configFile} is not valid JSON: ${(error as Error).message}`, {
        hint: 'Fix the JSON syntax (e.g. a trailing comma), or run `orchestrator init --force` to write a fresh config.',
      });
    }
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if (explicit) throw new ConfigError(`cannot read config file ${configFile}`, { cause: error, hint: 'Check the --config path.' });
  }

  const merged = mergeLayers(fileInput, envLayer(options.env), flagLayer(options.overrides ?? {}));
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw configErrorFrom(parsed.error, usedFile ?? 'configuration');
  const config = parsed.data;
  const databasePath = isAbsolute(config.database.path) ? config.database.path : join(repoRoot, config.database.path);
  const webhooks = resolveWebhooks(config.notifications.webhooks, options.env);
  // A webhook URL is a secret of the orchestrator's, not the agents': sessions do not get its variable.
  const webhookVariables = new Set(config.notifications.webhooks.flatMap((hook) => (hook.urlEnv === undefined ? [] : [hook.urlEnv])));
  const sessionEnv = buildSessionEnv(options.env, config.runtime.env, webhookVariables);
  registerSecretsFromEnv(options.env);
  return Object.freeze({ ...config, repoRoot, configFile: usedFile, databasePath, sessionEnv: Object.freeze(sessionEnv), webhooks: Object.freeze(webhooks) });
}

function envLayer(env: Record<string, string | undefined>): ConfigInput {
  const layer: ConfigInput = {};
  if (env.ORCHESTRATOR_DATABASE_URL) layer.database = { url: env.ORCHESTRATOR_DATABASE_URL };
  if (env.CLAUDE_BIN) layer.runtime = { claudeBin: env.CLAUDE_BIN };
  return layer;
}

function flagLayer(flags: ConfigOverrides): ConfigInput {
  const layer: ConfigInput = {};
  if (flags.integrationBranch !== undefined) layer.integrationBranch = flags.integrationBranch;
  if (flags.testCommand !== undefined) layer.testCommand = flags.testCommand;
  const database: Record<string, string> = {};
  if (flags.databaseUrl !== undefined) database.url = flags.databaseUrl;
  if (flags.databasePath !== undefined) database.path = flags.databasePath;
  if (Object.keys(database).length > 0) layer.database = database;
  const runtime: Record<string, string | number> = {};
  if (flags.claudeBin !== undefined) runtime.claudeBin = flags.claudeBin;
  if (flags.model !== undefined) runtime.model = flags.model;
  if (flags.timeoutSeconds !== undefined) runtime.timeoutSeconds = flags.timeoutSeconds;
  if (flags.idleTimeoutSeconds !== undefined) runtime.idleTimeoutSeconds = flags.idleTimeoutSeconds;
  if (Object.keys(runtime).length > 0) layer.runtime = runtime;
  const dashboard: Record<string, string | number> = {};
  if (flags.dashboardPort !== undefined) dashboard.port = flags.dashboardPort;
  if (flags.dashboardHost !== undefined) dashboard.host = flags.dashboardHost;
  if (Object.keys(dashboard).length > 0) layer.dashboard = dashboard;
  if (flags.queueSchema !== undefined) layer.workers = { queueSchema: flags.queueSchema };
  return layer;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Deep-merges plain objects; later layers win key by key. */
export function mergeLayers(...layers: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    if (!isPlainObject(layer)) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      const existing = out[key];
      out[key] = isPlainObject(existing) && isPlainObject(value) ? mergeLayers(existing, value) : value;
    }
  }
  return out;
}

/** The environment a session gets: ours (it needs HOME, PATH, ANTHROPIC_*) minus `withheld`, plus the config's extras. */
function buildSessionEnv(env: Record<string, string | undefined>, extra: Record<string, string>, withheld: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined && !withheld.has(key)) out[key] = value;
  // Keep sessions quiet on the network: no telemetry or update checks (notes §3.1).
  out.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC ??= '1';
  return { ...out, ...extra };
}

/**
 * Reads each webhook's URL and registers it as a secret, so that it is redacted wherever text is (logs, the
 * store, the dashboard). Besides the URL as written and as normalised, its path and query are registered when
 * long enough to be a token (Slack's `/services/T…/B…/…`): an error that quotes only the path is masked too.
 */
export function resolveWebhooks(hooks: Config['notifications']['webhooks'], env: Record<string, string | undefined>): ResolvedWebhook[] {
  return hooks.map((hook, index) => {
    const name = hook.name ?? `webhook-${index + 1}`;
    const events = hook.events ?? [...NOTIFICATION_KINDS];
    const raw = hook.url ?? (hook.urlEnv === undefined ? undefined : env[hook.urlEnv]);
    if (raw === undefined || raw === '') {
      return { name, url: null, target: `$${hook.urlEnv ?? '?'}`, events, problem: `the environment variable ${hook.urlEnv ?? '?'} is not set` };
    }
    registerSecret(raw);
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      return { name, url: null, target: `$${hook.urlEnv ?? '?'}`, events, problem: `${hook.urlEnv ?? 'url'} does not hold a valid URL` };
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      return { name, url: null, target: `$${hook.urlEnv ?? '?'}`, events, problem: `${hook.urlEnv ?? 'url'} does not hold an http:// or https:// URL` };
    }
    registerSecret(parsed.href);
    const pathAndQuery = `${parsed.pathname}${parsed.search}`;
    if (pathAndQuery.length >= MIN_SECRET_PATH_CHARS) registerSecret(pathAndQuery);
    if (parsed.password) registerSecret(decodeURIComponent(parsed.password));
    return { name, url: parsed.href, target: `${parsed.protocol}//${parsed.host}/…`, events, problem: null };
  });
}

/** A webhook path at least this long is treated as a secret of its own (shorter ones, like `/hook`, are common words). */
const MIN_SECRET_PATH_CHARS = 16;

function configErrorFrom(error: z.ZodError, source: string): ConfigError {
  const issue = error.issues[0];
  if (!issue) return new ConfigError(`${source}: invalid configuration`);
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '?';
    const parentPath = issue.path.map(String);
    const valid = validKeysAt(parentPath);
    const closest = closestKey(key, valid);
    const where = parentPath.length > 0 ? `${parentPath.join('.')}.${key}` : key;
    return new ConfigError(`${source}: unknown key "${where}"${closest ? ` (did you mean "${closest}"?)` : ''}`, {
      hint: `Valid keys here: ${valid.join(', ')}.`,
    });
  }
  // A bad key of a record (e.g. `pricing`): zod nests the reason the key was refused.
  const message = issue.code === 'invalid_key' ? `invalid key: ${issue.issues[0]?.message ?? issue.message}` : issue.message;
  return new ConfigError(`${source}: ${path || '(root)'}: ${message}`, {
    hint: 'See README.md, section Configuration, for every key and its type.',
  });
}

function validKeysAt(path: readonly string[]): string[] {
  let schema: unknown = configSchema;
  for (const segment of path) {
    schema = unwrap(schema);
    // A record (e.g. `pricing`): any key, each value of the record's value schema.
    const valueType = (schema as { def?: { type?: string; valueType?: unknown } } | undefined)?.def;
    if (valueType?.type === 'record') {
      schema = valueType.valueType;
      continue;
    }
    const shape = (schema as { shape?: Record<string, unknown> }).shape;
    if (!shape?.[segment]) return [];
    schema = shape[segment];
  }
  const shape = (unwrap(schema) as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(schema: unknown): unknown {
  type Wrapped = { def?: { innerType?: Wrapped; type?: string } } | undefined;
  let current = schema as Wrapped;
  while (current?.def?.innerType) current = current.def.innerType;
  return current;
}

/** The valid key with the smallest edit distance, if it is close enough to be a plausible typo. */
export function closestKey(key: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = levenshtein(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : null;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = a[i - 1] === b[j - 1] ? previous : 1 + Math.min(previous, row[j - 1]!, current);
      previous = current;
    }
  }
  return row[b.length]!;
}
