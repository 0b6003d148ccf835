import type { RunId } from '../../events/index.js';
import { StoppedError, errorMessage } from '../../lib/errors.js';
import { formatDuration } from '../../lib/time.js';
import { LostWorkerSweeper, RepoOps, Supervisor, acquireCoordinatorLock, hasTerminal, formatRoadmapProblem, reconcileOrphanedRuns, uncommittedRoadmapEdits } from '../../orchestrator/index.js';
import { locateClaudeCli, signalProcessGroup } from '../../runtime/index.js';
import type { Store, WorkItemRecord } from '../../store/index.js';
import type { RunningDashboard } from '../../dashboard/index.js';
import { openContext, type CommandContext, type GlobalOptions } from '../context.js';
import { openDashboard, packageVersion } from './dashboard.js';
import { openCoordinatorQueue } from '../coordinator-queue.js';
import { NOTIFY_EXIT_GRACE_MS, openNotifications } from '../notifications.js';
import { serveSessionJobs, workerCacheDir } from './worker.js';
import { redactText } from '../../lib/redact.js';
import { homedir } from 'node:os';
import { redactRemoteUrl } from '../../git/index.js';
import { formatCost, painter, table } from '../format.js';
import { attachTerminalReporter } from '../reporter.js';
import { describeWait } from '../waits.js';
import { priceTable } from '../../usage/index.js';

export interface StartOptions extends GlobalOptions {
  untilIdle?: boolean;
  quiet?: boolean;
  /** false: no web dashboard (`--no-dashboard`). */
  dashboard?: boolean;
  port?: number;
  host?: string;
}

/**
 * `orchestrator start`: the long-running orchestrator. One per repository (a lock file); the first SIGINT or
 * SIGTERM stops new work and stops running sessions with their grace; a second one kills them at once.
 */
export async function startCommand(options: StartOptions): Promise<number> {
  const ctx = await openContext(options);
  try {
    return await runOrchestrator(ctx, options);
  } finally {
    await ctx.close();
  }
}

export interface RunOrchestratorHooks {
  onReady?: (supervisor: Supervisor, dashboard: RunningDashboard | null) => void;
  /** Called after the work is done and before the dashboard closes (the demo keeps it open for a look). */
  keepDashboardOpen?: (dashboard: RunningDashboard) => Promise<void>;
}

export async function runOrchestrator(ctx: CommandContext, options: StartOptions & RunOrchestratorHooks): Promise<number> {
  const { config, store, bus, writer, stdout } = ctx;
  const paint = painter(stdout);
  // One coordinator per repository: a lock file with SQLite; with PostgreSQL, an advisory lock keyed on the
  // repository's identity (its remote), held on a connection of its own, whose loss stops this process at once.
  await using lock = await acquireCoordinatorLock({ store, repoRoot: config.repoRoot, version: packageVersion() });
  const orphaned = await reconcileOrphanedRuns(store, { graceMs: config.runtime.stopGraceSeconds * 1000, prices: priceTable(config.pricing) });
  if (orphaned.length > 0) stdout.write(paint.yellow(`recovered ${orphaned.length} run(s) left by a previous orchestrator (now orphaned; their work items resume)\n`));
  const controller = new AbortController();
  const onLockLost = () => {
    ctx.stderr.write(`\n${errorMessage(lock.signal.reason)}: stopping now, so that two coordinators never work on this repository at once\n`);
    controller.abort(lock.signal.reason);
  };
  if (lock.signal.aborted) onLockLost();
  lock.signal.addEventListener('abort', onLockLost, { once: true });
  // With workers: sessions are jobs in the queue, for `orchestrator worker` processes on any machine.
  await using queue = await openCoordinatorQueue(ctx, packageVersion());
  const supervisor = new Supervisor({
    config,
    store,
    bus,
    messages: writer,
    cliPath: locateClaudeCli({ claudeBin: config.runtime.claudeBin, pathEnv: process.env.PATH }),
    untilIdle: options.untilIdle ?? false,
    unattended: options.dashboard === false && !hasTerminal(),
    signal: controller.signal,
    ...(queue ? { workers: queue.workers } : {}),
  });
  await supervisor.prepare();
  if (queue) stdout.write(`${paint.bold('workers')}: sessions go to the job queue (schema ${config.workers.queueSchema}); workers clone ${redactRemoteUrl(queue.workers.remoteUrl)}\n`);
  // A worker whose heartbeat stops past the lease is lost: its jobs go back to the queue, its runs are orphaned.
  const sweeper = queue
    ? new LostWorkerSweeper({
        store,
        queue: queue.queue,
        leaseSeconds: config.workers.leaseSeconds,
        signal: controller.signal,
        prices: priceTable(config.pricing),
        onLost: (report) => stdout.write(paint.yellow(`worker ${report.worker.id} on ${report.worker.host} lost: ${report.releasedJobIds.length} job(s) back in the queue, ${report.orphanedRuns.length} run(s) orphaned\n`)),
        onError: (error) => ctx.stderr.write(`orchestrator: looking for lost workers failed (will retry): ${redactText(errorMessage(error))}\n`),
      }).start()
    : null;
  // Local slots: this process takes sessions from the queue too, as a worker of its own.
  const localDrain = new AbortController();
  const localStop = new AbortController();
  controller.signal.addEventListener('abort', () => {
    localDrain.abort();
    localStop.abort(controller.signal.reason);
  });
  const localWorker =
    queue && config.workers.localSlots > 0 && config.database.url
      ? serveSessionJobs(ctx, {
          location: { connectionString: config.database.url, schema: config.workers.queueSchema },
          slots: config.workers.localSlots,
          cacheDir: workerCacheDir({ configured: config.git.cacheDir, home: process.env.HOME ?? homedir() }),
          version: packageVersion(),
          drain: localDrain,
          stopSessions: localStop,
          say: (line) => stdout.write(`${paint.dim('local worker:')} ${redactText(line)}\n`),
          warn: (line) => ctx.stderr.write(`local worker: ${redactText(line)}\n`),
        }).catch((error: unknown) => {
          ctx.stderr.write(`local worker stopped: ${redactText(errorMessage(error))}\n`);
        })
      : null;
  // Webhooks hear the bus from here on; delivery runs in the background and never holds the pipeline up.
  const notifications = await openNotifications(ctx);
  if (notifications) stdout.write(`${paint.bold('notifications')}: ${config.webhooks.filter((hook) => hook.url !== null).map((hook) => `${hook.name} (${hook.target})`).join(', ')}\n`);
  const running = new Map<RunId, number>();
  const detach = [
    options.quiet ? () => {} : attachTerminalReporter(bus, stdout, { cwdOf: () => null, prefixAgent: true }),
    bus.on('run.started', (event) => running.set(event.runId, event.pid)),
    bus.on('run.ended', (event) => running.delete(event.runId)),
    bus.on('work_item.transitioned', (event) => stdout.write(`${paint.bold('◆')} ${event.workItemId}: ${event.from} → ${paint.bold(event.to)} (${event.reason})\n`)),
    bus.on('orchestrator.notice', (event) => stdout.write(`${event.level === 'info' ? paint.dim('•') : paint.yellow('!')} ${event.message}\n`)),
  ];
  let signals = 0;
  const onSignal = () => {
    signals += 1;
    if (signals === 1) {
      ctx.stderr.write('\nstopping: no new work; running sessions get their grace period (signal again to kill them now)…\n');
      controller.abort(new StoppedError('orchestrator shutting down'));
    } else {
      for (const pid of running.values()) signalProcessGroup(pid, 'SIGKILL');
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  stdout.write(`${paint.bold('orchestrator')} on ${config.repoRoot} · integration branch ${supervisor.integrationBranch} · database ${store.location}\n`);
  await writeRoadmapBanner(ctx, supervisor);
  const dashboard = options.dashboard === false ? null : await openDashboard(ctx, { host: options.host, port: options.port, strictPort: options.port !== undefined });
  if (dashboard) stdout.write(`${paint.bold('dashboard')}: ${dashboard.url}\n`);
  options.onReady?.(supervisor, dashboard);
  try {
    const report = await supervisor.run();
    await writer.flush();
    stdout.write(`\n${await summaryTable(store, report.items)}\n`);
    if (report.stoppedBy === 'budget') stdout.write(paint.yellow('stopped: the daily budget is spent\n'));
    if (lock.signal.aborted) return 1;
    if (signals > 0) return 130;
    return report.items.some((item) => item.state === 'blocked') ? 1 : 0;
  } finally {
    localDrain.abort();
    await localWorker;
    await sweeper?.stop();
    lock.signal.removeEventListener('abort', onLockLost);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const off of detach) off();
    // Interrupted by a person: they are here, and waiting for a dead receiver would only delay the exit.
    await notifications?.close({ graceMs: signals > 0 ? NOTIFY_EXIT_GRACE_MS / 5 : NOTIFY_EXIT_GRACE_MS });
    if (dashboard) await options.keepDashboardOpen?.(dashboard);
    await dashboard?.close();
  }
}

const BANNER_PROBLEMS = 10;

/** The roadmap as start read it: counts, every problem (up to BANNER_PROBLEMS), and edits the pipeline cannot see. */
async function writeRoadmapBanner(ctx: CommandContext, supervisor: Supervisor): Promise<void> {
  const { config, stdout } = ctx;
  const paint = painter(stdout);
  const roadmap = supervisor.roadmap;
  if (roadmap) {
    const { items, duplicates, problems } = roadmap.parsed;
    const heldBack = items.filter((item) => item.heldBack !== null).length + duplicates.length;
    stdout.write(`${paint.bold('roadmap')}: ${roadmap.path} at ${roadmap.tipSha.slice(0, 7)} · ${items.length + duplicates.length} item(s), ${heldBack} held back · ${problems.length} problem(s)\n`);
    for (const problem of problems.slice(0, BANNER_PROBLEMS)) stdout.write(`${problem.severity === 'error' ? paint.yellow('!') : paint.dim('•')} ${formatRoadmapProblem(problem)}\n`);
    if (problems.length > BANNER_PROBLEMS) stdout.write(paint.yellow(`! ${problems.length - BANNER_PROBLEMS} more problem(s): \`orchestrator plan\` lists them all\n`));
  }
  const uncommitted = await uncommittedRoadmapEdits(new RepoOps(config.repoRoot), supervisor.integrationBranch, config.roadmapPath).catch(() => null);
  if (uncommitted) stdout.write(paint.yellow(`! ${uncommitted}\n`));
}

const SHORT_AGENT: Record<string, string> = { architect: 'arch', 'code-developer': 'dev', 'code-reviewer': 'review', 'project-manager': 'pm', 'bug-fixer': 'fix' };

/** Each work item with its state, runs, tokens, cost and time; and why it waits, when any item does. */
export async function summaryTable(store: Store, items: readonly WorkItemRecord[], nowMs = Date.now()): Promise<string> {
  const showWaits = items.some((item) => item.waitingFor !== null);
  const rows: string[][] = [];
  for (const item of items) {
    const runs = await store.listRuns({ workItemId: item.id, limit: 1000 });
    const cost = runs.reduce((sum, run) => sum + run.costUsd, 0);
    const tokens = runs.reduce((sum, run) => sum + run.inputTokens + run.outputTokens, 0);
    const ms = runs.reduce((sum, run) => sum + (run.durationMs ?? 0), 0);
    rows.push([
      item.kind === 'bug' ? `BUG ${item.number}` : `PRIORITY ${item.number}`,
      item.title.slice(0, 32),
      item.state,
      ...(showWaits ? [describeWait(item, nowMs) ?? ''] : []),
      String(runs.length),
      runs.map((run) => SHORT_AGENT[run.agent] ?? run.agent).reverse().join(' '),
      tokens.toLocaleString('en-US'),
      formatCost(cost, runs.some((run) => run.costEstimated), { digits: 4, short: true }),
      formatDuration(ms),
      item.blockedReason ? item.blockedReason.slice(0, 60) : '',
    ]);
  }
  return table(['ITEM', 'TITLE', 'STATE', ...(showWaits ? ['WAITING FOR'] : []), 'RUNS', 'AGENTS', 'TOKENS', 'COST', 'SESSION TIME', 'BLOCKED REASON'], rows);
}
