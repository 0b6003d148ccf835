import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RingBuffer, LineSplitter } from '../lib/ring-buffer.js';
import { signalProcessGroup } from '../runtime/index.js';

/**
 * Checks of what an agent delivered, made on disk and in git — never from the agent's own words.
 */

/** The spec file exists and has content. */
export async function checkFileDelivered(root: string, relativePath: string): Promise<{ ok: true; text: string } | { ok: false; reason: string }> {
  let text: string;
  try {
    text = await readFile(join(root, relativePath), 'utf8');
  } catch {
    return { ok: false, reason: `${relativePath} was not written` };
  }
  if (text.trim().length === 0) return { ok: false, reason: `${relativePath} is empty` };
  return { ok: true, text };
}

export type ReviewVerdict = 'approved' | 'changes_requested';

/** Reads the verdict line of a review: "Verdict: APPROVED" or "Verdict: CHANGES REQUESTED" (first one wins). */
export function parseReviewVerdict(text: string): ReviewVerdict | null {
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:\*\*)?verdict(?:\*\*)?\s*:\s*(?:\*\*)?\s*(approved|changes[ _-]requested)\b/i.exec(line);
    if (match?.[1]) return match[1].toLowerCase().startsWith('approved') ? 'approved' : 'changes_requested';
  }
  return null;
}

export interface TestRunResult {
  passed: boolean;
  exitCode: number | null;
  timedOut: boolean;
  outputTail: string[];
  durationMs: number;
}

/**
 * Runs the project's test command in a worktree (a shell command line from the config), in its own process
 * group so a timeout kills the whole test tree. The orchestrator runs this itself after a developer says it is
 * done: an agent's "tests pass" is not evidence.
 */
export async function runTestCommand(command: string, cwd: string, options: { timeoutMs: number; env: Record<string, string>; signal?: AbortSignal }): Promise<TestRunResult> {
  const started = Date.now();
  const tail = new RingBuffer<string>(30);
  const child = spawn('/bin/sh', ['-c', command], { cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const splitter = new LineSplitter((line) => tail.push(line));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => splitter.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => splitter.push(chunk));
  let timedOut = false;
  const kill = () => {
    if (child.pid !== undefined) signalProcessGroup(child.pid, 'SIGKILL');
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, options.timeoutMs);
  options.signal?.addEventListener('abort', kill, { once: true });
  const exitCode = await new Promise<number | null>((resolve) => {
    child.on('error', (error) => {
      tail.push(`failed to start: ${error.message}`);
      resolve(null);
    });
    child.on('close', (code) => resolve(code));
  });
  clearTimeout(timer);
  options.signal?.removeEventListener('abort', kill);
  splitter.end();
  return { passed: exitCode === 0 && !timedOut, exitCode, timedOut, outputTail: tail.toArray(), durationMs: Date.now() - started };
}
