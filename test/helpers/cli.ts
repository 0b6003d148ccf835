import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const CLI_MAIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

export interface CliResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `orchestrator` CLI (npm test builds first) as a real child process. */
export function runCli(args: string[], options: { cwd: string; env: Record<string, string>; timeoutMs?: number }): Promise<CliResult> {
  const child = startCli(args, options);
  return waitCli(child, options.timeoutMs ?? 90_000);
}

export type StartedCli = ChildProcess & { output: { stdout: string; stderr: string }; closed: Promise<number | null> };

/** `detached`: the CLI leads a process group of its own, so `process.kill(-pid)` takes its children with it (a machine crash). */
export function startCli(args: string[], options: { cwd: string; env: Record<string, string>; detached?: boolean }): StartedCli {
  const child = spawn(process.execPath, [CLI_MAIN, ...args], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  // Listen for the end at once: the process may finish before anyone waits for it.
  const closed = new Promise<number | null>((resolve) => child.on('close', (exitCode) => resolve(exitCode)));
  return Object.assign(child, { output, closed });
}

export async function waitCli(child: StartedCli, timeoutMs: number): Promise<CliResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI did not finish in ${timeoutMs} ms:\n${child.output.stdout}\n${child.output.stderr}`));
    }, timeoutMs);
  });
  try {
    const exitCode = await Promise.race([child.closed, timeout]);
    return { exitCode, stdout: child.output.stdout, stderr: child.output.stderr };
  } finally {
    clearTimeout(timer);
  }
}
