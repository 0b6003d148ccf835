import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { ScriptedModelServer } from '../../src/scripted-model/index.js';
import { locateClaudeCli } from '../../src/runtime/index.js';

/**
 * One scripted model server per test file, reset before each test (Playwright's TestServer pattern).
 * Tests add the scenarios they need and assert on `model.requests`.
 */
export function useScriptedModel(): ScriptedModelServer {
  const model = new ScriptedModelServer();
  beforeAll(async () => {
    await model.start();
  });
  beforeEach(() => model.reset());
  afterAll(async () => {
    await model.close();
  });
  return model;
}

let sessionHome: string | undefined;

/**
 * A home directory of the test process's own for the sessions: the CLI keeps its state there (~/.claude), and the
 * Bash tool's shell reads no profile of the machine's user. (Here ~/.bashrc runs `pyenv rehash`, which takes a
 * lock; a shell the tests kill mid-rehash leaves it stale, and every later Bash call waits a minute for it.)
 */
export function testSessionHome(): string {
  if (sessionHome === undefined) {
    const home = mkdtempSync(join(tmpdir(), 'orch-test-home-'));
    sessionHome = home;
    process.once('exit', () => rmSync(home, { recursive: true, force: true }));
    mkdirSync(join(home, '.claude'));
    writeFileSync(join(home, '.gitconfig'), '[user]\n\tname = Test Session\n\temail = session@example.invalid\n[commit]\n\tgpgsign = false\n');
  }
  return sessionHome;
}

/** The environment a test session gets: only what the CLI needs, pointed at the scripted model. */
export function sessionEnv(model: ScriptedModelServer, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: testSessionHome(),
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: 'sk-test-scripted',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    // Fail fast in tests: the CLI's default retry budget is about 3 minutes (notes §3.5).
    CLAUDE_CODE_MAX_RETRIES: '1',
    ...extra,
  };
}

export const cliPath = (): string => locateClaudeCli({ claudeBin: process.env.CLAUDE_BIN, pathEnv: process.env.PATH });
