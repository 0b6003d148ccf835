import { mkdtemp } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { StoppedError } from '../../src/lib/errors.js';
import { locateClaudeCli, runClaudeSession, type StreamMessage } from '../../src/runtime/index.js';
import { ClaudeCliNotFoundError } from '../../src/lib/errors.js';
import { cliPath, sessionEnv, useScriptedModel } from '../helpers/model.js';
import { liveProcessesOfRun } from '../helpers/processes.js';

const model = useScriptedModel();

/**
 * The watchdog's idle limit in the hang test: clearly longer than any legitimate silence in that scenario (the
 * CLI's start before its first event and the Bash call: each under 2.5 s on an idle 2-core machine, and several
 * times that beside a loaded one), while the hang itself lasts until the session is stopped.
 */
const IDLE_LIMIT_MS = 15_000;

/**
 * Run ids unique to this process: the run id marks a session's processes (and is how stray ones are found and
 * killed), so another suite running at the same time on the machine must never share one.
 */
const runIdFor = (name: string): string => `it-${name}-${process.pid}`;

async function gitDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'runtime-it-'));
  execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir });
  return dir;
}

describe('runClaudeSession against the real CLI', () => {
  it('runs a multi-turn session whose tools really run in the cwd, and reports the result', async () => {
    const cwd = await gitDir();
    model.addScenarios([
      {
        name: 'write-and-run',
        turns: [
          { text: 'Writing.', tools: [{ name: 'Write', input: { file_path: '{{cwd}}/hello.txt', content: 'hello from the agent\n' } }], usage: { input_tokens: 900, output_tokens: 40 } },
          { tools: [{ name: 'Bash', input: { command: 'wc -c hello.txt > size.txt && cat size.txt', description: 'count' } }], usage: { input_tokens: 1000, output_tokens: 30 } },
          { text: 'COMPLETE', usage: { input_tokens: 1100, output_tokens: 10 } },
        ],
      },
    ]);
    const kinds: string[] = [];
    let spawnedPid: number | null = null;
    const result = await runClaudeSession({
      runId: runIdFor('multi'),
      cliPath: cliPath(),
      cwd,
      prompt: 'write hello.txt and measure it',
      tools: ['Read', 'Write', 'Bash'],
      allowedTools: ['Read', 'Write', 'Bash'],
      env: sessionEnv(model),
      onSpawn: (pid) => {
        spawnedPid = pid;
      },
      onMessage: (message: StreamMessage) => kinds.push(message.kind),
    });
    expect(result.outcome).toBe('succeeded');
    expect(result.exitCode).toBe(0);
    expect(result.pid).toBe(spawnedPid);
    expect(await readFile(join(cwd, 'hello.txt'), 'utf8')).toBe('hello from the agent\n');
    expect((await readFile(join(cwd, 'size.txt'), 'utf8')).trim()).toBe('21 hello.txt');
    expect(kinds[0]).toBe('system_init');
    expect(kinds[kinds.length - 1]).toBe('result');
    expect(result.result?.usage).toEqual({ input_tokens: 3000, output_tokens: 80, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    expect(result.result?.numTurns).toBe(3);
    // The CLI really asked the model three times, in the same session.
    const turns = model.requests.filter((request) => request.kind === 'turn');
    expect(turns.map((request) => request.turnIndex)).toEqual([0, 1, 2]);
    expect(new Set(turns.map((request) => request.sessionId))).toEqual(new Set([result.sessionId]));
  });

  it('stops a hung model with the inactivity watchdog and leaves no process of the session behind', async () => {
    const cwd = await gitDir();
    model.addScenarios([
      {
        name: 'background-then-hang',
        turns: [
          // A long-lived tool subprocess started in the background: it must die with the session.
          { tools: [{ name: 'Bash', input: { command: 'node -e "setTimeout(() => {}, 600000)" > /dev/null 2>&1 & echo started', description: 'start a background job' } }] },
          { hang: true },
        ],
      },
    ]);
    const result = await runClaudeSession({
      runId: runIdFor('hang'),
      cliPath: cliPath(),
      cwd,
      prompt: 'start something then think forever',
      tools: ['Bash'],
      allowedTools: ['Bash'],
      env: sessionEnv(model),
      idleTimeoutMs: IDLE_LIMIT_MS,
      stopGraceMs: 2_000,
    });
    expect(result.outcome).toBe('timed_out');
    expect(result.errorKind).toBe('inactivity');
    expect(result.errorMessage).toBe(`session emitted no stream event for ${IDLE_LIMIT_MS / 1000} s`);
    // It fired while the model hung, not in a legitimate gap before: the model got the hanging second request.
    const turns = model.requests.filter((request) => request.kind === 'turn');
    expect(turns.map((request) => request.turnIndex)).toEqual([0, 1]);
    expect(liveProcessesOfRun(runIdFor('hang'))).toEqual([]);
  });

  it('stops on abort: interrupt first, so the CLI writes its result, and the outcome is stopped', async () => {
    const cwd = await gitDir();
    model.addScenarios([{ name: 'slow', turns: [{ text: 'word '.repeat(400), chunkDelayMs: 30 }] }]);
    const controller = new AbortController();
    // Stop while the model is streaming its slow reply (about 12 s of it): the moment its request arrives.
    void model.waitForRequest((request) => request.kind === 'turn').then(() => controller.abort(new StoppedError('test stop')));
    const result = await runClaudeSession({
      runId: runIdFor('abort'),
      cliPath: cliPath(),
      cwd,
      prompt: 'talk slowly',
      tools: [],
      env: sessionEnv(model),
      signal: controller.signal,
    });
    expect(result.outcome).toBe('stopped');
    expect(result.errorMessage).toBe('test stop');
    expect(result.result?.subtype).toBe('error_during_execution');
    expect(liveProcessesOfRun(runIdFor('abort'))).toEqual([]);
  });

  it('fails a session whose API error the CLI cannot get past, with the reason', async () => {
    const cwd = await gitDir();
    model.addScenarios([{ name: 'bad-request', turns: [{ error: { status: 400, type: 'invalid_request_error', message: 'messages: bad thing' } }] }]);
    const result = await runClaudeSession({ runId: runIdFor('400'), cliPath: cliPath(), cwd, prompt: 'hi', tools: [], env: sessionEnv(model) });
    expect(result.outcome).toBe('failed');
    expect(result.errorKind).toBe('api_error');
    expect(result.errorMessage).toContain('HTTP 400');
    expect(result.errorMessage).toContain('messages: bad thing');
    expect(result.exitCode).toBe(1);
  });

  it('reports a CLI path that does not exist as spawn_failed, and a missing CLI with the fix', async () => {
    const cwd = await gitDir();
    const result = await runClaudeSession({ runId: runIdFor('enoent'), cliPath: join(cwd, 'no-such-claude'), cwd, prompt: 'hi', env: sessionEnv(model) });
    expect(result).toMatchObject({ outcome: 'failed', errorKind: 'spawn_failed', pid: null });
    expect(result.errorMessage).toContain('ENOENT');
    expect(() => locateClaudeCli({ claudeBin: join(cwd, 'missing') })).toThrow(ClaudeCliNotFoundError);
    try {
      locateClaudeCli({ claudeBin: join(cwd, 'missing') });
    } catch (error) {
      expect((error as ClaudeCliNotFoundError).hint).toContain('CLAUDE_BIN');
    }
  });
});
