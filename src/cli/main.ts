#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { OrchestratorError } from '../lib/errors.js';
import { redactText } from '../lib/redact.js';
import { doctorCommand } from './commands/doctor.js';
import { demoCommand } from './commands/demo.js';
import { logsCommand, psCommand, showCommand, stopCommand, usageCommand } from './commands/inspect.js';
import { runCommand } from './commands/run.js';
import { scriptedModelCommand } from './commands/scripted-model.js';
import { initCommand } from './commands/init.js';
import { dashboardCommand } from './commands/dashboard.js';
import { startCommand } from './commands/start.js';
import { planCommand } from './commands/plan.js';
import { bugCommand, statusCommand, unblockCommand } from './commands/work-items.js';
import { workersCommand } from './commands/workers.js';
import { workerCommand } from './commands/worker.js';
import { answerCommand, messagesCommand, sayCommand } from './commands/messages.js';

function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError('must be a positive number');
  return parsed;
}
function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}
function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return parsed;
}

function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('orchestrator')
    .description('Runs a team of AI coding agents as real Claude Code sessions over a repository roadmap, and records everything.')
    .version('0.1.0')
    .option('-C, --cwd <dir>', 'repository (or directory) to work in; default: the current directory')
    .option('--config <file>', 'config file; default: <repo>/orchestrator.config.json')
    .option('--db <path|url>', 'database: a SQLite file path or a postgres:// URL; default: <repo>/.orchestrator/orchestrator.db')
    .showHelpAfterError()
    .exitOverride();
  const globals = () => program.opts<{ cwd?: string; config?: string; db?: string }>();
  const act =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) => {
      setExitCode(await fn(...args));
    };

  program
    .command('init')
    .description('write the default role agents, a roadmap template, a config file and .gitignore entries')
    .option('--force', 'overwrite existing files')
    .action(act((options: { force?: boolean }) => initCommand({ ...globals(), ...options })));

  program
    .command('start')
    .description('run the agent team over the roadmap: spec, implement, review, merge, mark done')
    .option('--until-idle', 'exit when every work item is done or blocked, instead of waiting for new work')
    .option('--no-dashboard', 'do not start the web dashboard')
    .option('--port <n>', 'dashboard port (default: dashboard.port of the config, 4600)', port)
    .option('--host <address>', 'dashboard address (default 127.0.0.1; any other address needs a token)')
    .option('--quiet', 'only state changes, not every session line')
    .action(act((options: { untilIdle?: boolean; quiet?: boolean; dashboard: boolean; port?: number; host?: string }) => startCommand({ ...globals(), ...options })));

  program
    .command('dashboard')
    .description('serve the web dashboard over the database (live runs, timelines and replays, work items, usage)')
    .option('--port <n>', 'port (default: dashboard.port of the config, 4600; 0 picks a free one)', port)
    .option('--host <address>', 'address to bind (default 127.0.0.1; any other address needs a token)')
    .option('--token <token>', 'access token (default: dashboard.token of the config; generated for non-loopback addresses)')
    .action(act((options: { port?: number; host?: string; token?: string }) => dashboardCommand({ ...globals(), ...options })));

  program
    .command('status')
    .description('the roadmap read as start reads it (every item, its note, its problems), then work items with their states, runs and cost')
    .option('--json', 'JSON output')
    .action(act((options: { json?: boolean }) => statusCommand({ ...globals(), ...options })));

  program
    .command('plan')
    .description('what `start` would do, spawning nothing: the roadmap items it takes in order, what it skips and why, and the problems in the roadmap')
    .option('--json', 'JSON output')
    .action(act((options: { json?: boolean }) => planCommand({ ...globals(), ...options })));

  program
    .command('bug')
    .description('file a bug for the bug-fixer (critical and high bugs go before roadmap priorities)')
    .argument('<title>', 'one-line summary')
    .option('--body <text>', 'the full report: what happens, what should happen, steps')
    .option('--severity <level>', 'critical | high | medium | low', 'medium')
    .action(act((title: string, options: { body?: string; severity?: string }) => bugCommand(title, { ...globals(), ...options })));

  program
    .command('unblock')
    .description('put a blocked work item back in the queue (its branch and commits are kept)')
    .argument('<item>', 'work item id, e.g. P-2 or B-1')
    .action(act((item: string) => unblockCommand(item, globals())));

  program
    .command('run')
    .description('run one agent session on a task, live; exit code 0 only on success')
    .argument('<agent>', 'agent name (.claude/agents/<agent>.md)')
    .argument('<task>', 'the task prompt')
    .option('--timeout <seconds>', 'wall-clock limit of the session', positiveNumber)
    .option('--idle-timeout <seconds>', 'stop the session after this long without a stream event', positiveNumber)
    .option('--model <model>', 'model, when the agent definition names none')
    .option('--resume <session-or-run>', 'continue a previous session (session id or run id)')
    .option('--json', 'print stream messages as JSON lines instead of the live view')
    .action(act((agent: string, task: string, options: { timeout?: number; idleTimeout?: number; model?: string; resume?: string; json?: boolean }) => runCommand(agent, task, { ...globals(), ...options })));

  program
    .command('ps')
    .description('active and recent runs')
    .option('-a, --all', 'all runs, not only the recent ones')
    .option('-n, --limit <n>', 'how many recent runs', positiveNumber)
    .option('--status <list>', 'only runs with these statuses (comma-separated)')
    .option('--json', 'JSON output')
    .action(act((options: { all?: boolean; limit?: number; status?: string; json?: boolean }) => psCommand({ ...globals(), ...options })));

  program
    .command('workers')
    .description('the workers on this database (several machines): host, slots, running jobs, last heartbeat, state; lost ones flagged')
    .option('-a, --all', 'also workers that stopped')
    .option('--json', 'JSON output')
    .action(act((options: { all?: boolean; json?: boolean }) => workersCommand({ ...globals(), ...options })));

  program
    .command('worker')
    .description('take role sessions from the job queue (PostgreSQL, --db) and run them in this machine\'s clones of the shared remote; SIGTERM drains')
    .option('--slots <n>', 'sessions at once (default: workers.slots of the config, 2)', positiveInteger)
    .option('--cache-dir <dir>', 'where the clones of the shared remote live (default: git.cacheDir, else ~/.cache/orchestrator/clones)')
    .option('--queue-schema <name>', 'PostgreSQL schema of the job queue (default: workers.queueSchema, orchestrator_queue)')
    .action(act((options: { slots?: number; cacheDir?: string; queueSchema?: string }) => workerCommand({ ...globals(), ...options })));

  program
    .command('logs')
    .description('the stream of a run (live with --follow)')
    .argument('<run>', 'run id or unique prefix')
    .option('-f, --follow', 'keep printing until the run ends')
    .option('--json', 'print stored message records as JSON lines')
    .action(act((run: string, options: { follow?: boolean; json?: boolean }) => logsCommand(run, { ...globals(), ...options })));

  program
    .command('show')
    .description('a run with its invocations, tokens, cost, errors and permission denials')
    .argument('<run>', 'run id or unique prefix')
    .option('--json', 'JSON output')
    .action(act((run: string, options: { json?: boolean }) => showCommand(run, { ...globals(), ...options })));

  program
    .command('stop')
    .description('stop a running session (from any terminal): interrupt, then terminate its process group')
    .argument('<run>', 'run id or unique prefix')
    .action(act((run: string) => stopCommand(run, globals())));

  program
    .command('say')
    .description('send a message into a running session: it reads it at its next turn boundary (not from inside a session)')
    .argument('<run>', 'run id or unique prefix')
    .argument('<text>', 'the message, in quotes')
    .action(act((run: string, text: string) => sayCommand(run, text, globals())));

  program
    .command('answer')
    .description('answer a question an agent asked (the first answer wins; not from inside a session)')
    .argument('<question>', 'the question number (dashboard, `orchestrator messages`)')
    .argument('<text>', 'the answer, in quotes')
    .action(act((question: string, text: string) => answerCommand(question, text, globals())));

  program
    .command('messages')
    .description('messages between agents and people, oldest first, and the questions waiting for an answer')
    .option('--run <run>', 'only messages sent by, to or delivered to this run')
    .option('--item <item>', 'only the thread of this work item, e.g. P-3')
    .option('--limit <n>', 'the newest n messages (default 50)', positiveInteger)
    .option('--json', 'JSON output')
    .action(act((options: { run?: string; item?: string; limit?: number; json?: boolean }) => messagesCommand({ ...globals(), ...options })));

  program
    .command('usage')
    .description('tokens and cost, by agent, day, model or work item')
    .option('--by <key>', 'agent | day | model | work_item', 'agent')
    .option('--since <date>', 'only runs created at or after this date (UTC)')
    .option('--until <date>', 'only runs created before this date (UTC)')
    .option('--json', 'JSON output')
    .action(act((options: { by?: string; since?: string; until?: string; json?: boolean }) => usageCommand({ ...globals(), ...options })));

  program
    .command('doctor')
    .description('check the CLI, database, git and model access; each problem with its fix')
    .action(act(() => doctorCommand(globals())));

  program
    .command('scripted-model')
    .description('serve a scripted Anthropic Messages API on 127.0.0.1 from a scenario file (tests and demos)')
    .option('--scenario <file>', 'scenario JSON file')
    .option('--port <n>', 'port (default: a free one)', port)
    .action(act((options: { scenario?: string; port?: number }) => scriptedModelCommand(options)));

  program
    .command('demo')
    .description('build a sample repository and run agents on it offline against the scripted model (no API key needed)')
    .option('--dir <dir>', 'where to create the sample repository (default: a new temporary directory)')
    .option('--live', 'use the real model (needs ANTHROPIC_API_KEY) instead of the scripted one')
    .option('--pace <ms>', 'wait before each scripted model reply, to watch it unfold (default 1000 on a terminal, else 0)', (value: string) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0 || n > 60_000) throw new InvalidArgumentError('--pace takes milliseconds between 0 and 60000');
      return n;
    })
    .option('--keep-open', 'keep the dashboard open after the demo until Ctrl-C (default on a terminal)')
    .option('--no-keep-open', 'exit when the demo is done')
    .option('--no-dashboard', 'do not start the web dashboard')
    .action(act((options: { dir?: string; live?: boolean; pace?: number; keepOpen?: boolean; dashboard?: boolean }) => demoCommand(options)));

  return program;
}

/** The one top-level handler: known errors print message and hint; anything else is a bug (exit 70). */
async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version "errors" are successful exits; usage problems exit 2.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof OrchestratorError) {
      process.stderr.write(`orchestrator: ${redactText(error.message)}\n`);
      if (error.hint) process.stderr.write(`  fix: ${error.hint}\n`);
      return error.exitCode;
    }
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`orchestrator: unexpected error (a bug: please report it with this output):\n${redactText(text)}\n`);
    return 70;
  }
}

// `orchestrator logs … | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

main(process.argv).then(
  (code) => {
    process.exitCode = code;
    // Everything should be closed by now; if a handle still holds the event loop, say so and exit anyway.
    setTimeout(() => {
      const handles = (process as unknown as { getActiveResourcesInfo?: () => string[] }).getActiveResourcesInfo?.() ?? [];
      if (process.env.DEBUG?.includes('orch')) process.stderr.write(`orchestrator: exiting with open handles: ${handles.join(', ')}\n`);
      process.exit(code);
    }, 2_000).unref();
  },
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(70);
  },
);
