import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StoreFeed, startDashboard, type DashboardControls, type DocumentReader, type RunningDashboard } from '../../dashboard/index.js';
import { isTerminalRunStatus } from '../../events/index.js';
import { OrchestratorError } from '../../lib/errors.js';
import { redactText } from '../../lib/redact.js';
import { waitForTerminationSignal } from '../../lib/termination.js';
import { nowIso } from '../../lib/time.js';
import { git, readCommittedDocument, stopLocalSession, stopRun } from '../../orchestrator/index.js';
import { openContext, type CommandContext, type GlobalOptions } from '../context.js';
import { painter } from '../format.js';
import { priceTable } from '../../usage/index.js';

export interface DashboardCommandOptions extends GlobalOptions {
  port?: number;
  host?: string;
  token?: string;
}

const HERE = import.meta.dirname;

/** The built web UI: dist/dashboard-ui next to the compiled CLI (or, when run from the sources, the built one). */
export function dashboardUiDir(): string | null {
  for (const candidate of [join(HERE, '..', '..', 'dashboard-ui'), join(HERE, '..', '..', '..', 'dist', 'dashboard-ui')]) {
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  return null;
}

export function packageVersion(): string {
  for (const candidate of [join(HERE, '..', '..', '..', 'package.json'), join(HERE, '..', '..', 'package.json')]) {
    try {
      const parsed = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if ((parsed.name === 'roadmap-orchestrator' || parsed.name === 'orchestrator') && parsed.version) return parsed.version;
    } catch {
      // try the next place
    }
  }
  return 'unknown';
}

/**
 * Stop from the dashboard: a session of this process is interrupted through its control channel (the CLI writes
 * its result); one of another process goes the way of `orchestrator stop` (SIGINT, grace, then the process group).
 */
export function stopControls(ctx: CommandContext, onError: (error: unknown) => void): DashboardControls {
  return {
    async stopRun(run) {
      if (isTerminalRunStatus(run.status)) return 'already_ended';
      if (await stopLocalSession(ctx.store, run.id)) return 'stopping';
      if (run.host !== hostname()) {
        await ctx.store.requestRunStop(run.id, nowIso());
        return 'other_host';
      }
      stopRun(ctx.store, run, { graceMs: ctx.config.runtime.stopGraceSeconds * 1000 }).catch(onError);
      return 'stopping';
    },
  };
}

/** Specs and reviews from git: the item's branch, then the integration branch. */
export function documentReader(ctx: CommandContext): DocumentReader {
  return {
    async read(item, kind) {
      const integration = ctx.config.integrationBranch ?? (await git(['symbolic-ref', '--quiet', '--short', 'HEAD'], ctx.config.repoRoot, { allowedExitCodes: [0, 1] })).stdout.trim();
      return readCommittedDocument(ctx.config.repoRoot, [item.branch, integration || null], kind === 'spec' ? item.specPath : item.reviewPath);
    },
  };
}

/**
 * Starts the dashboard for a command context. A busy configured port falls back to a free one (with a note):
 * the orchestrator's work matters more than its port number.
 */
export async function openDashboard(
  ctx: CommandContext,
  options: { host?: string | undefined; port?: number | undefined; token?: string | undefined; strictPort?: boolean },
): Promise<RunningDashboard> {
  const paint = painter(ctx.stderr);
  const onError = (error: unknown) => ctx.stderr.write(paint.yellow(`dashboard: ${redactText(error instanceof Error ? error.message : String(error))}\n`));
  const base = {
    store: ctx.store,
    bus: ctx.bus,
    controls: stopControls(ctx, onError),
    documents: documentReader(ctx),
    host: options.host ?? ctx.config.dashboard.host,
    token: options.token ?? ctx.config.dashboard.token ?? null,
    staticDir: dashboardUiDir(),
    repoRoot: ctx.config.repoRoot,
    version: packageVersion(),
    prices: priceTable(ctx.config.pricing),
    workerLeaseSeconds: ctx.config.workers.leaseSeconds,
    onError,
  };
  const port = options.port ?? ctx.config.dashboard.port;
  if (base.staticDir === null) ctx.stderr.write(paint.yellow('dashboard: the web UI is not built (run `npm run build`); serving the API only\n'));
  try {
    return await startDashboard({ ...base, port });
  } catch (error) {
    if (options.strictPort || port === 0 || !(error instanceof OrchestratorError)) throw error;
    ctx.stderr.write(paint.yellow(`dashboard: port ${port} is in use; using a free port instead\n`));
    return startDashboard({ ...base, port: 0 });
  }
}

/** `orchestrator dashboard`: the dashboard alone, over the store (live when an orchestrator runs in this process). */
export async function dashboardCommand(options: DashboardCommandOptions): Promise<number> {
  const ctx = await openContext(options);
  const paint = painter(ctx.stdout);
  try {
    const dashboard = await openDashboard(ctx, { host: options.host, port: options.port, token: options.token, strictPort: options.port !== undefined });
    // No orchestrator in this process: follow what orchestrators elsewhere write to the store.
    const feed = new StoreFeed(ctx.store, ctx.bus);
    await feed.start((error) => ctx.stderr.write(`dashboard: reading the store failed: ${redactText(String(error))}\n`));
    ctx.stdout.write(`${paint.bold('dashboard')}: ${dashboard.url}  (Ctrl-C to stop)\n`);
    if (dashboard.token !== null && options.token === undefined && ctx.config.dashboard.token === undefined) {
      ctx.stdout.write(`  a token was generated for this non-loopback address; it is in the URL above and needed by every request\n`);
    }
    await waitForTerminationSignal();
    await feed.stop();
    await dashboard.close();
    return 0;
  } finally {
    await ctx.close();
  }
}
