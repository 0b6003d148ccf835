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

/** The environment a test session gets: only what the CLI needs, pointed at the scripted model. */
export function sessionEnv(model: ScriptedModelServer, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    ANTHROPIC_BASE_URL: model.url,
    ANTHROPIC_API_KEY: 'sk-test-scripted',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    // Fail fast in tests: the CLI's default retry budget is about 3 minutes (notes §3.5).
    CLAUDE_CODE_MAX_RETRIES: '1',
    ...extra,
  };
}

export const cliPath = (): string => locateClaudeCli({ claudeBin: process.env.CLAUDE_BIN, pathEnv: process.env.PATH });
