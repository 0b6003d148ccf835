import { createHash } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OrchestratorError } from '../lib/errors.js';
import { newSortableId } from '../lib/ids.js';
import { normalizeRemoteUrl } from '../git/index.js';
import type { RepositoryRecord, Store } from '../store/index.js';
import { git } from './repo-ops.js';

/**
 * A repository's identity across machines. With a remote, the key is the remote's normalized URL
 * (`remote:github.com/team/app`: every clone of it, on any machine, is the same repository); without one, an id
 * generated once and kept in the clone's `.orchestrator/repository-id` (`local:<id>`: only that clone). The store
 * gives each key a generated id the first time it sees it; the coordinator lock is keyed on that id, never on a path.
 */
export interface RepositoryKey {
  key: string;
  /** The normalized remote URL, or null without a remote. */
  remoteUrl: string | null;
}

/** The repository's key: its remote's normalized URL, or the id kept in `.orchestrator/repository-id` (created if missing). */
export async function resolveRepositoryKey(repoRoot: string, options: { remote?: string; signal?: AbortSignal } = {}): Promise<RepositoryKey> {
  const remote = options.remote ?? 'origin';
  // Exit 2: no such remote; 128: not a git repository. Both mean "no remote".
  const result = await git(['remote', 'get-url', remote], repoRoot, { allowedExitCodes: [0, 2, 128], ...(options.signal ? { signal: options.signal } : {}) });
  const url = result.exitCode === 0 ? result.stdout.trim() : '';
  if (url) {
    const remoteUrl = normalizeRemoteUrl(url, { relativeTo: repoRoot });
    return { key: `remote:${remoteUrl}`, remoteUrl };
  }
  return { key: `local:${await localRepositoryId(repoRoot)}`, remoteUrl: null };
}

/** The id in `<repoRoot>/.orchestrator/repository-id`, written once (exclusive create, so two processes agree). */
export async function localRepositoryId(repoRoot: string): Promise<string> {
  const file = join(repoRoot, '.orchestrator', 'repository-id');
  await mkdir(join(repoRoot, '.orchestrator'), { recursive: true });
  try {
    const handle = await open(file, 'wx');
    const id = newSortableId();
    await handle.writeFile(`${id}\n`);
    await handle.close();
    return id;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  for (let attempt = 0; attempt < 20; attempt++) {
    const id = (await readFile(file, 'utf8')).trim();
    if (id) return id;
    // Being written by another process right now.
    await new Promise((done) => setTimeout(done, 25));
  }
  throw new OrchestratorError('ORCH_REPOSITORY_ID', `${file} is empty`, { hint: `Delete ${file} and start again (a new id is written), or add a git remote: with one, the remote's URL is the identity.` });
}

/** The repository's row in the database (created with a new id the first time any clone of it asks). */
export async function ensureRepositoryIdentity(store: Store, repoRoot: string, options: { remote?: string; signal?: AbortSignal } = {}): Promise<RepositoryRecord> {
  const { key, remoteUrl } = await resolveRepositoryKey(repoRoot, options);
  return store.ensureRepository({ id: newSortableId(), key, remoteUrl });
}

/** The signed 64-bit advisory-lock key of a repository id (as text: node-postgres passes it as a bigint). */
export function coordinatorLockKey(repositoryId: string): string {
  const digest = createHash('sha256').update(`orchestrator coordinator\0${repositoryId}`).digest();
  return digest.readBigInt64BE(0).toString();
}
