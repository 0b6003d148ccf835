import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AGENTS } from '../../src/agents/index.js';
import { PostgresStore } from '../../src/store/index.js';
import { runCli, startCli, waitCli } from '../helpers/cli.js';
import { pipelineRepo, roadmapOf } from '../helpers/pipeline.js';
import { sessionEnv, useScriptedModel } from '../helpers/model.js';
import { tmpRepo } from '../helpers/tmp-repo.js';
import { PG_TEST_URL, pgAdmin, pgUrlForSchema } from '../helpers/databases.js';

const model = useScriptedModel();

describe('the CLI on PostgreSQL (--db postgres://…)', () => {
  it('records a real session in PostgreSQL, and ps, show and usage read it back', async () => {
    const schema = `orch_cli_${randomBytes(5).toString('hex')}`;
    await pgAdmin(`CREATE SCHEMA ${schema}`);
    const url = pgUrlForSchema(schema);
    const files: Record<string, string> = { 'README.md': '# sample\n' };
    for (const [name, text] of Object.entries(DEFAULT_AGENTS)) files[`.claude/agents/${name}.md`] = text;
    await using repo = await tmpRepo({ files });
    try {
      model.addScenarios([
        {
          name: 'developer',
          turns: [
            { tools: [{ name: 'Write', input: { file_path: '{{cwd}}/src/pg.js', content: 'export const pg = true;\n' } }], usage: { input_tokens: 1200, output_tokens: 80 } },
            { text: 'IMPLEMENTED: pg', usage: { input_tokens: 1300, output_tokens: 20 } },
          ],
        },
      ]);
      const env = sessionEnv(model);
      const result = await runCli(['--db', url, 'run', 'code-developer', 'Write src/pg.js'], { cwd: repo.path, env });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(await readFile(join(repo.path, 'src/pg.js'), 'utf8')).toBe('export const pg = true;\n');

      const store = await PostgresStore.open(PG_TEST_URL, { schema });
      try {
        const [run] = await store.listRuns();
        expect(run).toMatchObject({ agent: 'code-developer', status: 'succeeded', inputTokens: 2500, outputTokens: 100 });
        expect(run!.costUsd).toBeGreaterThan(0);
        const messages = await store.listMessages({ runId: run!.id, limit: 1000 });
        expect(messages.map((message) => message.type)).toContain('result');
        const ps = await runCli(['--db', url, 'ps', '--all', '--json'], { cwd: repo.path, env });
        expect((JSON.parse(ps.stdout) as { recent: { id: string }[] }).recent.map((row) => row.id)).toEqual([run!.id]);
        const show = await runCli(['--db', url, 'show', run!.id.slice(0, 10)], { cwd: repo.path, env });
        expect(show.exitCode).toBe(0);
        expect(show.stdout).toContain('IMPLEMENTED: pg');
        const usage = await runCli(['--db', url, 'usage', '--by', 'agent', '--json'], { cwd: repo.path, env });
        expect(JSON.parse(usage.stdout)).toMatchObject([{ key: 'code-developer', runs: 1, inputTokens: 2500 }]);
        // No database file was made in the repository.
        await expect(readFile(join(repo.path, '.orchestrator', 'orchestrator.db'))).rejects.toThrow();
      } finally {
        await store.close();
      }
    } finally {
      await pgAdmin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });
  it('lets one coordinator run per repository: a start in another clone of the same remote is refused, naming the first', async () => {
    const schema = `orch_coord_${randomBytes(5).toString('hex')}`;
    await pgAdmin(`CREATE SCHEMA ${schema}`);
    const url = pgUrlForSchema(schema);
    const scratch = await mkdtemp(join(tmpdir(), 'orch-two-coordinators-'));
    await using repo = await pipelineRepo(roadmapOf([{ number: '1', title: 'Waiting' }]));
    try {
      // One shared remote, and a second clone of it (another machine, or another directory of this one).
      const remote = join(scratch, 'shared.git');
      execFileSync('git', ['clone', '-q', '--bare', repo.path, remote]);
      repo.git('remote', 'add', 'origin', remote);
      const otherClone = join(scratch, 'other-clone');
      execFileSync('git', ['clone', '-q', remote, otherClone]);
      model.addScenarios([{ name: 'slow-architect', match: { prompt: '^ROLE: architect' }, turns: [{ delayMs: 30_000, text: 'thinking' }] }]);
      const env = sessionEnv(model);
      const first = startCli(['--db', url, 'start', '--no-dashboard'], { cwd: repo.path, env });
      const store = await PostgresStore.open(PG_TEST_URL, { schema });
      try {
        const deadline = Date.now() + 60_000;
        while (!(await store.listRuns({ agent: 'architect' })).some((run) => run.status === 'running')) {
          if (Date.now() > deadline || first.exitCode !== null) throw new Error(`the first coordinator did not start its architect:\n${first.output.stdout}\n${first.output.stderr}`);
          await sleep(100);
        }
        const second = await runCli(['--db', url, 'start', '--until-idle', '--no-dashboard'], { cwd: otherClone, env });
        expect(second.exitCode).toBe(1);
        expect(second.stderr).toContain(`another coordinator already runs for this repository (remote:${'file://'}`);
        expect(second.stderr).toContain(`pid ${first.pid!} on `);
        expect(second.stderr).toContain(`fix: Stop it first (kill -INT ${first.pid!}`);
        expect(second.stderr).not.toContain(PG_TEST_URL);
        // It spawned nothing and touched no item.
        expect((await store.listRuns()).map((run) => run.agent)).toEqual(['architect']);
        first.kill('SIGINT');
        expect((await waitCli(first, 60_000)).exitCode).toBe(130);
      } finally {
        first.kill('SIGKILL');
        await store.close();
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
      await pgAdmin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });
});
