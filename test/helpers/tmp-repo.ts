import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface TmpRepo extends AsyncDisposable {
  path: string;
  git(...args: string[]): string;
  write(relativePath: string, content: string): Promise<void>;
  commitAll(message: string): string;
}

/**
 * A disposable git repository: pinned branch, local identity, no signing, no background maintenance.
 * `await using repo = await tmpRepo({ files })` removes it at the end of the scope.
 */
export async function tmpRepo(options: { files?: Record<string, string>; branch?: string } = {}): Promise<TmpRepo> {
  const path = await mkdtemp(join(tmpdir(), 'orch-repo-'));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: path, encoding: 'utf8', env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
  git('init', '-q', '-b', options.branch ?? 'main');
  git('config', 'user.name', 'Test');
  git('config', 'user.email', 'test@example.invalid');
  git('config', 'commit.gpgsign', 'false');
  git('config', 'gc.auto', '0');
  git('config', 'maintenance.auto', 'false');
  const write = async (relativePath: string, content: string) => {
    await mkdir(dirname(join(path, relativePath)), { recursive: true });
    await writeFile(join(path, relativePath), content);
  };
  const commitAll = (message: string) => {
    git('add', '-A');
    git('commit', '-q', '--allow-empty', '-m', message);
    return git('rev-parse', 'HEAD').trim();
  };
  for (const [file, content] of Object.entries(options.files ?? { 'README.md': '# test\n' })) await write(file, content);
  commitAll('initial');
  return {
    path,
    git,
    write,
    commitAll,
    async [Symbol.asyncDispose]() {
      await rm(path, { recursive: true, force: true });
    },
  };
}
