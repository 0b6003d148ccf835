import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Process-group helpers. Sessions are spawned `detached: true`, so the CLI leads its own process group
 * (pgid = pid) and every tool subprocess it starts joins it. Signalling `-pgid` reaches all of them; the CLI
 * alone leaves Bash children running on SIGTERM (notes §4), which is why we never signal only the pid.
 */

/** True if a process with this pid exists (signal 0 probes without sending anything). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True if any process of the group still exists. */
export function isProcessGroupAlive(pgid: number): boolean {
  return isProcessAlive(-pgid);
}

/** Sends a signal to the whole group; returns false if the group no longer exists. */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Waits until the group is gone or `timeoutMs` passes; returns true if it is gone. */
export async function waitForGroupExit(pgid: number, timeoutMs: number, pollMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isProcessGroupAlive(pgid)) return true;
    await sleep(pollMs);
  }
  return !isProcessGroupAlive(pgid);
}

/** SIGTERM the group, wait `graceMs`, then SIGKILL whatever is left. Resolves when the group is gone. */
export async function terminateProcessGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalProcessGroup(pgid, 'SIGTERM')) return;
  if (await waitForGroupExit(pgid, graceMs)) return;
  signalProcessGroup(pgid, 'SIGKILL');
  await waitForGroupExit(pgid, 2_000);
}

/** Environment variable set on every session; it lets us find a run's processes even if one left the group. */
export const RUN_MARKER_ENV = 'ORCHESTRATOR_RUN_ID';

/**
 * Pids of live processes whose environment carries `ORCHESTRATOR_RUN_ID=<runId>` (Linux /proc; empty elsewhere).
 * Catches tool subprocesses that called setsid() and so escaped the process group.
 */
export function findProcessesOfRun(runId: string): number[] {
  const needle = `${RUN_MARKER_ENV}=${runId}\0`;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
      if (environ.includes(needle) && !isZombie(pid)) pids.push(pid);
    } catch {
      // The process ended while we looked, or is not ours to read.
    }
  }
  return pids;
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z';
  } catch {
    return true;
  }
}

/** True if `pid` is alive and is a process of run `runId` (guards against pid reuse before signalling). */
export function isProcessOfRun(pid: number, runId: string): boolean {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    return environ.includes(`${RUN_MARKER_ENV}=${runId}\0`) && !isZombie(pid);
  } catch {
    return false;
  }
}

/** Kills every process of the run that is still alive (group first, then stragglers found by marker). */
export async function killRunProcesses(runId: string, pgid: number | null, graceMs: number): Promise<void> {
  if (pgid !== null) await terminateProcessGroup(pgid, graceMs);
  // Tool subprocesses can leave the group (the Bash tool may start jobs in their own session): find them by marker.
  const stragglers = findProcessesOfRun(runId);
  for (const pid of stragglers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  // SIGKILL is asynchronous: wait until they are really gone, so "stopped" means nothing is left running.
  const deadline = Date.now() + 2_000;
  while (stragglers.some((pid) => isProcessAlive(pid) && !isZombie(pid)) && Date.now() < deadline) await sleep(20);
}
