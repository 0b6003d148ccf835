import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { loadConfig, type ResolvedConfig } from '../../config/index.js';
import { RepoOps, formatRoadmapProblem, readRoadmapSnapshot, uncommittedRoadmapEdits } from '../../orchestrator/index.js';
import { errorMessage } from '../../lib/errors.js';
import { locateClaudeCli } from '../../runtime/index.js';
import { openStore } from '../../store/index.js';
import { findRepoRoot, overridesFromGlobal, type GlobalOptions } from '../context.js';
import { dashboardUiDir } from './dashboard.js';
import { agentsCheck, type DoctorCheck } from './doctor-agents.js';
import { painter } from '../format.js';

const run = promisify(execFile);

type Check = DoctorCheck;

const DOCTOR_ROADMAP_PROBLEMS = 20;

/** The roadmap as `start` reads it: unreadable at all fails; problems and uncommitted edits are warnings. */
/** The webhooks, by name and host only (their URLs are secrets), and any whose URL variable is not set. */
function notificationsCheck(config: ResolvedConfig): Check {
  const unresolved = config.webhooks.filter((hook) => hook.url === null);
  const shown = config.webhooks.map((hook) => `${hook.name} → ${hook.url === null ? 'no URL' : hook.target} (${hook.events.join(', ')})`);
  return {
    name: 'notifications',
    ok: true,
    warning: unresolved.length > 0,
    detail: `${config.webhooks.length} webhook(s)`,
    lines: [...shown, ...unresolved.map((hook) => `error: ${hook.name}: ${hook.problem ?? 'no URL'}`)],
    fix: 'Export the variable named by urlEnv in the environment `orchestrator start` runs in (the webhook is skipped until then).',
  };
}

async function roadmapCheck(config: ResolvedConfig): Promise<Check> {
  const repo = new RepoOps(config.repoRoot);
  let branch: string;
  try {
    branch = config.integrationBranch ?? (await repo.currentBranch());
    // Not committed yet (a fresh `init`) is a step still to take, not a broken roadmap.
    if ((await repo.showFile(await repo.headSha(branch), config.roadmapPath)) === null) {
      return { name: 'roadmap', ok: true, warning: true, detail: `${config.roadmapPath} is not committed on ${branch}`, fix: `Commit it (git add ${config.roadmapPath} && git commit): the pipeline reads the committed file.` };
    }
  } catch (error) {
    return { name: 'roadmap', ok: true, warning: true, detail: `cannot read the roadmap from git yet: ${errorMessage(error)}`, fix: (error as { hint?: string }).hint ?? 'Make a first commit on a branch.' };
  }
  const uncommitted = await uncommittedRoadmapEdits(repo, branch, config.roadmapPath).catch(() => null);
  try {
    const { parsed, tipSha } = await readRoadmapSnapshot(repo, branch, config.roadmapPath);
    const errors = parsed.problems.filter((problem) => problem.severity === 'error').length;
    const lines = parsed.problems.slice(0, DOCTOR_ROADMAP_PROBLEMS).map((problem) => `${problem.severity === 'error' ? 'error:' : 'warning:'} ${formatRoadmapProblem(problem)}`);
    if (parsed.problems.length > DOCTOR_ROADMAP_PROBLEMS) lines.push(`… ${parsed.problems.length - DOCTOR_ROADMAP_PROBLEMS} more: \`orchestrator plan\` lists them all`);
    if (uncommitted) lines.push(uncommitted);
    const detail = `${config.roadmapPath} on ${branch} (${tipSha.slice(0, 7)}): ${parsed.items.length + parsed.duplicates.length} item(s), ${parsed.problems.length} problem(s) (${errors} hold an item back)`;
    const warning = parsed.problems.length > 0 || uncommitted !== null;
    return { name: 'roadmap', ok: true, warning, detail, lines, ...(warning ? { fix: 'Nothing stops `start`; fix the lines named above for the items to be worked on (`orchestrator plan` shows what start will do).' } : {}) };
  } catch (error) {
    return { name: 'roadmap', ok: false, detail: errorMessage(error), fix: (error as { hint?: string }).hint ?? `Fix ${config.roadmapPath}.`, lines: uncommitted ? [uncommitted] : [] };
  }
}

/** `orchestrator doctor`: everything a session needs, each problem with its fix. Exit 1 if any check fails. */
export async function doctorCommand(options: GlobalOptions): Promise<number> {
  const out = process.stdout;
  const paint = painter(out);
  const checks: Check[] = [];
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  checks.push({
    name: 'node',
    ok: major > 20 || (major === 20 && minor >= 19),
    detail: `v${process.versions.node}`,
    fix: 'Install Node.js 20.19 or newer.',
  });

  const repoRoot = findRepoRoot(options.cwd ?? process.cwd());
  let config: Awaited<ReturnType<typeof loadConfig>> | null = null;
  try {
    config = await loadConfig({ repoRoot, configFile: options.config, env: process.env, overrides: overridesFromGlobal(options) });
    checks.push({ name: 'config', ok: true, detail: config.configFile ?? 'defaults (no orchestrator.config.json)' });
  } catch (error) {
    checks.push({ name: 'config', ok: false, detail: errorMessage(error), fix: (error as { hint?: string }).hint ?? 'Fix the config file.' });
  }

  try {
    const cli = locateClaudeCli({ claudeBin: config?.runtime.claudeBin ?? process.env.CLAUDE_BIN, pathEnv: process.env.PATH });
    const { stdout } = await run(cli, ['--version'], { timeout: 30_000, env: { ...process.env, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' } });
    checks.push({ name: 'claude cli', ok: true, detail: `${stdout.trim()} (${cli})` });
  } catch (error) {
    checks.push({ name: 'claude cli', ok: false, detail: errorMessage(error), fix: (error as { hint?: string }).hint ?? 'Run `npm install`, or set CLAUDE_BIN.' });
  }

  try {
    const { stdout } = await run('git', ['--version'], { timeout: 10_000 });
    checks.push({ name: 'git', ok: true, detail: stdout.trim() });
  } catch (error) {
    checks.push({ name: 'git', ok: false, detail: errorMessage(error), fix: 'Install git (e.g. `apt-get install git`).' });
  }

  if (config) {
    try {
      const store = await openStore({ url: config.database.url, sqlitePath: config.databasePath });
      const location = store.location;
      await store.countRuns();
      await store.close();
      checks.push({ name: 'database', ok: true, detail: `${location} (writable, migrations applied)` });
    } catch (error) {
      checks.push({ name: 'database', ok: false, detail: errorMessage(error), fix: 'Make the directory writable, or point --db / database.url at a reachable database.' });
    }
  }

  const env = process.env;
  const credential = env.ANTHROPIC_API_KEY ? 'ANTHROPIC_API_KEY' : env.ANTHROPIC_AUTH_TOKEN ? 'ANTHROPIC_AUTH_TOKEN' : null;
  checks.push({
    name: 'model access',
    ok: credential !== null || Boolean(env.ANTHROPIC_BASE_URL),
    detail: [credential ? `${credential} is set` : 'no API key in the environment', env.ANTHROPIC_BASE_URL ? `ANTHROPIC_BASE_URL=${env.ANTHROPIC_BASE_URL}` : 'default Anthropic API'].join('; '),
    fix: 'export ANTHROPIC_API_KEY=… (or run `orchestrator demo`, which needs no key: it starts the scripted model).',
  });

  if (config) checks.push(await agentsCheck(config));

  if (config) checks.push(await roadmapCheck(config));

  if (config && config.webhooks.length > 0) checks.push(notificationsCheck(config));

  const ui = dashboardUiDir();
  checks.push(
    ui === null
      ? { name: 'dashboard', ok: true, warning: true, detail: 'the web UI is not built (the API still works)', fix: 'Run `npm run build` in the orchestrator package.' }
      : { name: 'dashboard', ok: true, detail: `web UI in ${ui}` },
  );

  if (process.getuid?.() === 0) {
    checks.push({ name: 'user', ok: true, warning: true, detail: 'running as root: the CLI refuses --dangerously-skip-permissions', fix: 'Nothing to do: the orchestrator grants tools explicitly per role.' });
  }

  let failed = 0;
  for (const check of checks) {
    const mark = check.ok ? (check.warning ? paint.yellow('!') : paint.green('✔')) : paint.red('✗');
    out.write(`${mark} ${check.name.padEnd(13)} ${check.detail}\n`);
    for (const line of check.lines ?? []) out.write(`  ${line.startsWith('error:') ? paint.red(line) : paint.dim(line)}\n`);
    if ((!check.ok || check.warning) && check.fix) out.write(`  ${paint.dim(`fix: ${check.fix}`)}\n`);
    if (!check.ok) failed += 1;
  }
  out.write(failed === 0 ? paint.green('\nall checks passed\n') : paint.red(`\n${failed} check(s) failed\n`));
  return failed === 0 ? 0 : 1;
}
