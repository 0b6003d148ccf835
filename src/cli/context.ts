import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadConfig, type ConfigOverrides, type ResolvedConfig } from '../config/index.js';
import { EventBus } from '../events/index.js';
import { redactText } from '../lib/redact.js';
import { DEFAULT_MAX_BUFFERED, MessageWriter, openStore, type Store } from '../store/index.js';

export interface GlobalOptions {
  cwd?: string;
  config?: string;
  db?: string;
}

export interface CommandContext {
  config: ResolvedConfig;
  store: Store;
  bus: EventBus;
  writer: MessageWriter;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  close(): Promise<void>;
}

/** The git repository containing `dir` (walking up to a `.git` entry), or `dir` itself if none. */
export function findRepoRoot(dir: string): string {
  let current = resolve(dir);
  for (;;) {
    if (existsSync(join(current, '.git'))) return current;
    const parent = dirname(current);
    if (parent === current) return resolve(dir);
    current = parent;
  }
}

export function overridesFromGlobal(options: GlobalOptions, extra: ConfigOverrides = {}): ConfigOverrides {
  const overrides: ConfigOverrides = { ...extra };
  if (options.db) {
    if (/^postgres(ql)?:\/\//.test(options.db)) overrides.databaseUrl = options.db;
    else overrides.databasePath = resolve(options.db);
  }
  return overrides;
}

/**
 * The config of a command. Outside any git repository (a worker machine has no checkout) the directory itself
 * stands for the repository: its orchestrator.config.json is read when present, else the defaults, env and flags.
 */
export async function loadCommandConfig(options: GlobalOptions, extra: ConfigOverrides = {}, env: Record<string, string | undefined> = process.env): Promise<ResolvedConfig> {
  const start = resolve(options.cwd ?? process.cwd());
  return loadConfig({ repoRoot: findRepoRoot(start), configFile: options.config, env, overrides: overridesFromGlobal(options, extra) });
}

/** Loads config, opens the store and wires the bus to the message writer. The only place commands get state from. */
export async function openContext(options: GlobalOptions, extra: ConfigOverrides = {}, env: Record<string, string | undefined> = process.env): Promise<CommandContext> {
  return openContextFor(await loadCommandConfig(options, extra, env));
}

/** openContext over a config already loaded (a command that checks the config before opening any database). */
export async function openContextFor(config: ResolvedConfig): Promise<CommandContext> {
  const store = await openStore({
    url: config.database.url,
    sqlitePath: config.databasePath,
    // The listener reconnects by itself; say so once per failure, never with the URL.
    onListenerError: (error) => process.stderr.write(`orchestrator: live updates from the database paused (reconnecting): ${redactText(error.message)}\n`),
  });
  const bus = new EventBus((error) => process.stderr.write(`orchestrator: event listener failed: ${redactText(String(error))}\n`));
  const writer = new MessageWriter(store, {
    onError: (error: unknown) => process.stderr.write(`orchestrator: writing messages failed (will retry): ${redactText(String(error))}\n`),
    onOverflow: () => process.stderr.write(`orchestrator: the database has been out of reach for too long: ${DEFAULT_MAX_BUFFERED} messages are kept for it, later ones are dropped and counted until it is back\n`),
  });
  return {
    config,
    store,
    bus,
    writer,
    stdout: process.stdout,
    stderr: process.stderr,
    async close() {
      await writer.close();
      if (writer.dropped > 0 || writer.pending > 0) {
        process.stderr.write(`orchestrator: ${writer.dropped} message(s) were dropped while the database was out of reach, and ${writer.pending} could not be written at exit\n`);
      }
      await store.close();
    },
  };
}
