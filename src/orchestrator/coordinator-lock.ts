import { hostname } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { OrchestratorError } from '../lib/errors.js';
import { PostgresStore, SCHEMA_VERSION, type CoordinatorRecord, type RepositoryRecord, type Store } from '../store/index.js';
import { acquireInstanceLock } from './instance-lock.js';
import { coordinatorLockKey, ensureRepositoryIdentity } from './repository-identity.js';

/** A second coordinator for a repository whose coordinator lock is held: names the holder and the way out. */
export class CoordinatorLockedError extends OrchestratorError {
  constructor(repository: RepositoryRecord, holder: CoordinatorRecord | null) {
    const who = holder ? `pid ${holder.pid} on ${holder.host}, since ${holder.startedAt}` : 'a process that has not recorded itself yet';
    super('ORCH_ALREADY_RUNNING', `another coordinator already runs for this repository (${repository.key}): ${who}`, {
      hint: holder
        ? `Stop it first (kill -INT ${holder.pid} on ${holder.host}), or run this machine as a worker instead. Its lock ends the moment that process or its database connection does.`
        : 'Wait a moment and try again, or run this machine as a worker instead.',
      data: { repositoryId: repository.id, repositoryKey: repository.key, ...(holder ? { host: holder.host, pid: holder.pid, startedAt: holder.startedAt } : {}) },
    });
  }
}

/** The abort reason of a coordinator whose lock connection dropped: another coordinator may now hold the lock, so this one stops. */
export class CoordinatorLockLostError extends OrchestratorError {
  constructor(detail: string, cause?: unknown) {
    super('ORCH_COORDINATOR_LOCK_LOST', `the coordinator lock was lost: ${detail}`, {
      hint: 'This coordinator stopped so that two never run at once. Check the database connection, then start again.',
      ...(cause === undefined ? {} : { cause }),
    });
  }
}

/** One coordinator per repository, on either store. `signal` aborts (with CoordinatorLockLostError) if the lock is lost. */
export interface CoordinatorLock extends AsyncDisposable {
  readonly kind: 'file' | 'advisory';
  /** The repository's identity (PostgreSQL only: SQLite keeps today's lock file in the clone). */
  readonly repository: RepositoryRecord | null;
  readonly signal: AbortSignal;
  release(): Promise<void>;
}

export interface CoordinatorLockOptions {
  store: Store;
  repoRoot: string;
  /** The git remote whose URL identifies the repository (default `origin`). */
  remote?: string;
  /** This coordinator's package version, recorded with the holder so workers can check they match. */
  version?: string;
  /** How often the lock's connection is checked (a silently dead network is noticed at the next check). Default 5 s. */
  probeIntervalMs?: number;
  /** How long a check may take before the connection counts as dead. Default 10 s. */
  probeTimeoutMs?: number;
}

/**
 * Takes the repository's coordinator lock. SQLite: the lock file in `.orchestrator/` (as before). PostgreSQL: a
 * session advisory lock (`pg_try_advisory_lock`) keyed by a 64-bit hash of the repository's id, on a connection of
 * its own, plus a `coordinators` row naming the holder for the refusal message. The lock lives exactly as long as
 * that connection: when it drops (server restart, pg_terminate_backend, network), `signal` aborts at once.
 */
export async function acquireCoordinatorLock(options: CoordinatorLockOptions): Promise<CoordinatorLock> {
  if (options.store instanceof PostgresStore) return acquireAdvisoryLock(options.store, options);
  const lock = await acquireInstanceLock(join(options.repoRoot, '.orchestrator', 'orchestrator.lock'));
  return { kind: 'file', repository: null, signal: new AbortController().signal, release: () => lock.release(), [Symbol.asyncDispose]: () => lock.release() };
}

async function acquireAdvisoryLock(store: PostgresStore, options: CoordinatorLockOptions): Promise<CoordinatorLock> {
  const repository = await ensureRepositoryIdentity(store, options.repoRoot, options.remote === undefined ? {} : { remote: options.remote });
  const key = coordinatorLockKey(repository.id);
  const me = { host: hostname(), pid: process.pid };
  const client = await store.connectDedicated();
  const controller = new AbortController();
  let released = false;
  const lose = (detail: string, cause?: unknown) => {
    if (released || controller.signal.aborted) return;
    controller.abort(new CoordinatorLockLostError(detail, cause));
    void client.end().catch(() => undefined);
  };
  client.on('error', (error) => lose(`its database connection failed (${error.message})`, error));
  client.on('end', () => lose('its database connection closed'));

  let connectionPid: number;
  try {
    const { rows } = await client.query<{ locked: boolean; pid: number }>('SELECT pg_try_advisory_lock($1::bigint) AS locked, pg_backend_pid() AS pid', [key]);
    if (!rows[0]?.locked) throw new CoordinatorLockedError(repository, await currentHolder(store, repository.id));
    connectionPid = Number(rows[0].pid);
    await store.recordCoordinator({ repositoryId: repository.id, host: me.host, pid: me.pid, connectionPid, version: options.version ?? null, schemaVersion: SCHEMA_VERSION });
  } catch (error) {
    released = true;
    await client.end().catch(() => undefined);
    throw error;
  }

  const probe = startProbe(client, options.probeIntervalMs ?? 5_000, options.probeTimeoutMs ?? 10_000, lose);
  const release = async () => {
    if (released) return;
    released = true;
    clearInterval(probe);
    // A lost lock's connection is already being ended, and the database may be out of reach: nothing to wait for
    // (its row stays; the next holder replaces it).
    if (controller.signal.aborted) return;
    // The holder row first: once unlocked, a new coordinator writes its own row (ours would be deleted by host and pid only).
    await store.clearCoordinator(repository.id, me).catch(() => undefined);
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]).catch(() => undefined);
    await client.end().catch(() => undefined);
  };
  return { kind: 'advisory', repository, signal: controller.signal, release, [Symbol.asyncDispose]: release };
}

/** The holder's row; a holder that took the lock a moment ago may not have written it yet, so look a few times. */
async function currentHolder(store: Store, repositoryId: string): Promise<CoordinatorRecord | null> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const holder = await store.getCoordinator(repositoryId);
    if (holder) return holder;
    await new Promise((done) => setTimeout(done, 100));
  }
  return null;
}

/** A `SELECT 1` on the lock's connection every interval: a dead network sends no FIN, so only a check notices it. */
function startProbe(client: pg.Client, intervalMs: number, timeoutMs: number, lose: (detail: string, cause?: unknown) => void): NodeJS.Timeout {
  let inFlight = false;
  const timer = setInterval(() => {
    if (inFlight) return;
    inFlight = true;
    let timeout: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timeout = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    });
    Promise.race([client.query('SELECT 1'), expired])
      .catch((error: unknown) => lose(`its database connection stopped answering (${(error as Error).message})`, error))
      .finally(() => {
        clearTimeout(timeout);
        inFlight = false;
      });
  }, intervalMs);
  timer.unref();
  return timer;
}
