import { open, readFile, rm, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { hostname } from 'node:os';
import { OrchestratorError } from '../lib/errors.js';
import { isProcessAlive } from '../runtime/index.js';

export class InstanceLockedError extends OrchestratorError {
  constructor(lockFile: string, holder: LockHolder) {
    super('ORCH_ALREADY_RUNNING', `another orchestrator is already running in this repository (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt})`, {
      hint: `Stop it first (kill -INT ${holder.pid}), or if that process is gone on another machine, delete ${lockFile}.`,
      data: { ...holder },
    });
  }
}

interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
}

/**
 * One `orchestrator start` per repository: an exclusive lock file holding the owner's pid. A lock whose pid is
 * dead on this host is stale and taken over (a crashed orchestrator must not block the next start).
 */
export async function acquireInstanceLock(lockFile: string): Promise<AsyncDisposable & { release(): Promise<void> }> {
  await mkdir(dirname(lockFile), { recursive: true });
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(JSON.stringify(me));
      await handle.close();
      let released = false;
      const release = async () => {
        if (released) return;
        released = true;
        const holder = await readHolder(lockFile);
        if (holder?.pid === me.pid && holder.host === me.host) await rm(lockFile, { force: true });
      };
      return { release, [Symbol.asyncDispose]: release };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await readHolder(lockFile);
      if (holder && holder.host === me.host && !isProcessAlive(holder.pid)) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (holder) throw new InstanceLockedError(lockFile, holder);
      // Unreadable (being written right now): try again.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const holder = await readHolder(lockFile);
  throw new InstanceLockedError(lockFile, holder ?? { pid: -1, host: 'unknown', startedAt: 'unknown' });
}

async function readHolder(lockFile: string): Promise<LockHolder | null> {
  try {
    const parsed = JSON.parse(await readFile(lockFile, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') return { pid: parsed.pid, host: parsed.host, startedAt: String(parsed.startedAt) };
    return null;
  } catch {
    return null;
  }
}
