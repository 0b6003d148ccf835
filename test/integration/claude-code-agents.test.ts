import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkItemId } from '../../src/events/index.js';
import type { RecordedRequest } from '../../src/scripted-model/index.js';
import { SESSION_TOOLS } from '../../src/orchestrator/index.js';
import { runCli } from '../helpers/cli.js';
import { agentFixtures } from '../helpers/fixtures.js';
import { sessionEnv, useScriptedModel } from '../helpers/model.js';
import { pipelineRepo, roadmapOf, runPipeline } from '../helpers/pipeline.js';
import { developerWriting, standardRoles } from '../helpers/role-scenarios.js';

const model = useScriptedModel();
const CLAUDE_CODE_STYLE = agentFixtures('claude-code-style');
const INHERITED_MODEL = 'claude-sonnet-4-5-20250929';

const temps: string[] = [];
/** A Claude config folder of the test's own (CLAUDE_CONFIG_DIR), so that the real ~/.claude is never read or written. */
async function claudeConfigDir(agents: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'claude-config-'));
  temps.push(dir);
  await mkdir(join(dir, 'agents'));
  for (const [name, text] of Object.entries(agents)) await writeFile(join(dir, 'agents', name), text);
  return dir;
}
afterEach(async () => {
  for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true });
});

const systemOf = (request: RecordedRequest): string => JSON.stringify(request.body?.system ?? '');
const firstTurn = (scenario: string): RecordedRequest => {
  const request = model.requests.find((candidate) => candidate.scenario === scenario && candidate.turnIndex === 0);
  if (!request) throw new Error(`no request of scenario ${scenario}`);
  return request;
};

describe('agent files written by Claude Code (/agents): snake_case files, a README, generator descriptions', () => {
  it('doctor is green on them and says what it skipped, what it read leniently and which role uses the default', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'One' }]), { agents: CLAUDE_CODE_STYLE });
    const env = sessionEnv(model, { CLAUDE_CONFIG_DIR: await claudeConfigDir() });
    const result = await runCli(['doctor'], { cwd: repo.path, env });
    expect(result.stderr).toBe('');
    const agentsLine = result.stdout.split('\n').find((line) => line.includes(' agents '));
    expect(agentsLine).toMatch(/^✔ agents/);
    expect(agentsLine).toContain('code-developer (.claude/agents/code_developer.md)');
    expect(agentsLine).toContain('bug-fixer (built-in)');
    expect(agentsLine).toContain('1 other agent(s)');
    expect(result.stdout).toContain('note: .claude/agents/README.md: skipped: no front matter');
    expect(result.stdout).toContain('note: .claude/agents/notes.md: skipped: no front matter');
    expect(result.stdout).toContain('note: .claude/agents/code_reviewer.md: line 3 is not valid YAML (Nested mappings are not allowed in compact mappings); read as Claude Code reads it, taking the value of description as text');
    expect(result.stdout).toContain('note: no agent file for bug-fixer: the built-in default is used');
    expect(result.stdout).not.toContain('error:');
    expect(result.exitCode).toBe(0);
  });

  it('doctor fails on two files with one name, naming both and the fix', async () => {
    const agents = { ...CLAUDE_CODE_STYLE, 'reviewer_copy.md': CLAUDE_CODE_STYLE['code_reviewer.md']! };
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'One' }]), { agents });
    const result = await runCli(['doctor'], { cwd: repo.path, env: sessionEnv(model, { CLAUDE_CONFIG_DIR: await claudeConfigDir() }) });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/^✗ agents\s+1 problem\(s\); .*code-reviewer \(broken, see below\)/m);
    expect(result.stdout).toContain('error: .claude/agents/code_reviewer.md: agent name "code-reviewer" is also used by .claude/agents/reviewer_copy.md');
    expect(result.stdout).toContain('fix: Claude Code would pick one of them arbitrarily. Rename the name: field of one file, or delete it.');
  });

  it("start runs each role with the user's agent: its body, its model alias, inherit as runtime.model, ~/.claude/agents for a role the project lacks, the default for a role nobody has", async () => {
    const { 'project_manager.md': _projectPm, ...projectAgents } = CLAUDE_CODE_STYLE;
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Greeting' }]), { agents: projectAgents, config: { runtime: { model: INHERITED_MODEL } } });
    // The user's own project-manager; no bug-fixer anywhere, so that role gets the built-in default.
    const userDir = await claudeConfigDir({ 'pm_from_home.md': agentFixtures('user-level')['pm_from_home.md']! });
    model.addScenarios([developerWriting({ number: '1', file: 'src/greeting.js', content: "export const greet = () => 'hi';\n" }), ...standardRoles]);
    const run = await runPipeline(repo, model, { env: { CLAUDE_CONFIG_DIR: userDir } });
    try {
      expect(await run.store.getWorkItem('P-1' as WorkItemId)).toMatchObject({ state: 'done', blockedReason: null });
      const runs = await run.store.listRuns({ workItemId: 'P-1' as WorkItemId });
      expect(runs.map((r) => [r.agent, r.status]).reverse()).toEqual([
        ['architect', 'succeeded'],
        ['code-developer', 'succeeded'],
        ['code-reviewer', 'succeeded'],
        ['project-manager', 'succeeded'],
      ]);
      // The body of each user's agent reached the model as part of the session's system prompt.
      const architect = firstTurn('demo-architect');
      const developer = firstTurn('developer-1');
      const reviewer = firstTurn('demo-code-reviewer');
      const projectManager = firstTurn('demo-project-manager');
      expect(systemOf(architect)).toContain('FIXTURE-ARCHITECT-BODY');
      expect(systemOf(developer)).toContain('FIXTURE-DEVELOPER-BODY');
      expect(systemOf(reviewer)).toContain('FIXTURE-REVIEWER-BODY');
      expect(systemOf(projectManager)).toContain('FIXTURE-USER-PM-BODY');
      expect(systemOf(developer)).not.toContain('You are the code developer of this repository');
      // Aliases go to --model as written and the CLI resolves them; inherit (and none) is runtime.model.
      expect(architect.body?.model).toMatch(/opus/);
      expect(reviewer.body?.model).toMatch(/haiku/);
      expect(developer.body?.model).toBe(INHERITED_MODEL);
      expect(projectManager.body?.model).toBe(INHERITED_MODEL);
      const notices = (await run.store.listEvents()).filter((event) => event.kind === 'orchestrator.notice').map((event) => event.message);
      expect(notices).toContain('no agent file for bug-fixer: using the built-in default (`orchestrator init` writes it to .claude/agents/ to edit)');
      // The tools of the front matter became the session's tools, beside the orchestrator's own that every session gets.
      expect((projectManager.body?.tools ?? []).map((tool) => tool.name).sort()).toEqual(['Edit', 'Read', ...SESSION_TOOLS.map((tool) => `mcp__orchestrator__${tool.name}`)].sort());
    } finally {
      await run.close();
    }
  });

  it('orchestrator run <agent> finds the agent by its name field (code_developer.md is the code-developer)', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'One' }]), { agents: CLAUDE_CODE_STYLE });
    model.addScenarios([{ name: 'adhoc', turns: [{ text: 'done' }] }]);
    const result = await runCli(['run', 'code-developer', 'Say done', '--json'], { cwd: repo.path, env: sessionEnv(model, { CLAUDE_CONFIG_DIR: await claudeConfigDir() }) });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(systemOf(firstTurn('adhoc'))).toContain('FIXTURE-DEVELOPER-BODY');
  });

  it('init keeps the agents the user has under other file names instead of writing duplicates', async () => {
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'One' }]), { agents: CLAUDE_CODE_STYLE });
    const result = await runCli(['init'], { cwd: repo.path, env: sessionEnv(model, { CLAUDE_CONFIG_DIR: await claudeConfigDir() }) });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('keep    your code-developer agent: .claude/agents/code_developer.md');
    expect(result.stdout).toContain('create  .claude/agents/bug-fixer.md');
    const files = (await readdir(join(repo.path, '.claude', 'agents'))).sort();
    expect(files).toEqual(['README.md', 'architect.md', 'bug-fixer.md', 'code_developer.md', 'code_reviewer.md', 'frontend_expert.md', 'notes.md', 'project_manager.md']);
    const doctor = await runCli(['doctor'], { cwd: repo.path, env: sessionEnv(model, { CLAUDE_CONFIG_DIR: await claudeConfigDir() }) });
    expect(doctor.stdout).toMatch(/^✔ agents .*bug-fixer \(\.claude\/agents\/bug-fixer\.md\)/m);
  });
});
