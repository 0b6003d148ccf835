import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_NAME } from '../../src/cli/invocation.js';
import { sessionEnv, useScriptedModel } from '../helpers/model.js';
import { tmpRepo } from '../helpers/tmp-repo.js';

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');
const model = useScriptedModel();

/**
 * What a new user gets from the registry: the packed tarball installed globally into a fresh prefix, then the
 * README's own-repository commands and the demo run from that install, not from this checkout. It proves the
 * package ships what it needs (the built CLI, the dashboard UI, the templates, the Claude Code dependency).
 */
describe('the packed package, installed into a fresh prefix', () => {
  const scratch: string[] = [];
  afterAll(async () => {
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
  });

  it('installs, and init, doctor, run and demo work from the install', async () => {
    const work = await mkdtemp(join(tmpdir(), 'orchestrator-pack-'));
    scratch.push(work);
    // `npm test` has just built dist/; --ignore-scripts keeps prepack from rebuilding under the other tests' feet.
    const packed = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    const [manifest] = JSON.parse(packed.stdout) as { filename: string; name: string; files: { path: string }[] }[];
    expect(manifest?.name).toBe(PACKAGE_NAME);
    const shipped = new Set(manifest!.files.map((file) => file.path));
    expect(shipped.has('dist/cli/main.js')).toBe(true);
    expect(shipped.has('dist/dashboard-ui/index.html')).toBe(true);
    expect([...shipped].filter((path) => path.startsWith('src/') || path.startsWith('test/') || path.startsWith('dist/bench/'))).toEqual([]);

    const prefix = join(work, 'prefix');
    await mkdir(prefix);
    await exec('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', join(work, manifest!.filename)], { cwd: work, maxBuffer: 64 * 1024 * 1024 });
    const bin = join(prefix, 'bin');
    expect((await readdir(bin)).sort()).toEqual(['orchestrator', PACKAGE_NAME].sort());
    const installed = join(prefix, 'lib', 'node_modules', PACKAGE_NAME);

    // The installed command, found on PATH as a user's shell finds it; nothing of this checkout on the way.
    const env = { ...sessionEnv(model), PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    const orchestrator = (args: string[], cwd: string) => exec('orchestrator', args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }).catch((error: { code?: number; stdout?: string; stderr?: string }) => ({ failed: true as const, code: error.code, stdout: error.stdout ?? '', stderr: error.stderr ?? '' }));

    const version = await exec(PACKAGE_NAME, ['--version'], { cwd: work, env });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);

    await using repo = await tmpRepo({ files: { 'README.md': '# my project\n' } });
    const init = await orchestrator(['init'], repo.path);
    expect(init).not.toHaveProperty('failed');
    expect(init.stdout).toContain('.claude/agents/code-developer.md');
    expect(init.stdout).toContain('then run `orchestrator start`');
    repo.commitAll('orchestrator init');

    const doctor = await orchestrator(['doctor'], repo.path);
    expect(doctor, `doctor failed:\n${doctor.stdout}\n${doctor.stderr}`).not.toHaveProperty('failed');
    expect(doctor.stdout).toMatch(/✔ claude cli\s+2\.1\.\d+/);
    expect(doctor.stdout).toContain(`web UI in ${join(installed, 'dist', 'dashboard-ui')}`);
    expect(doctor.stdout).toMatch(/✔ agents\s+architect \(\.claude\/agents\/architect\.md\), code-developer \(\.claude\/agents\/code-developer\.md\)/);

    model.addScenarios([{ name: 'installed run', turns: [{ tools: [{ name: 'Write', input: { file_path: '{{cwd}}/NOTES.md', content: 'written by the installed CLI\n' } }] }, { text: 'Done.' }] }]);
    const run = await orchestrator(['run', 'code-developer', 'Write NOTES.md'], repo.path);
    expect(run, `run failed:\n${run.stdout}\n${run.stderr}`).not.toHaveProperty('failed');
    expect(existsSync(join(repo.path, 'NOTES.md'))).toBe(true);
    expect(model.requests.length).toBeGreaterThanOrEqual(2);

    const demoDir = join(work, 'demo');
    const demo = await orchestrator(['demo', '--dir', demoDir, '--no-keep-open', '--no-dashboard', '--pace', '0'], work);
    expect(demo, `demo failed:\n${demo.stdout}\n${demo.stderr}`).not.toHaveProperty('failed');
    expect(demo.stdout.match(/✅/g)?.length ?? 0).toBeGreaterThanOrEqual(3);
    expect(demo.stdout).toContain(`Explore:  orchestrator --cwd ${demoDir} status`);
  }, 900_000);
});
