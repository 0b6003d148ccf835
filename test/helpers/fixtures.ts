import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES_DIR = join(import.meta.dirname, '..', 'fixtures');

/** The raw stdout lines of a stream fixture recorded from the real CLI (scripts/record-stream-fixtures.mjs). */
export function streamFixture(name: string): string[] {
  return readFileSync(join(FIXTURES_DIR, 'streams', `${name}.jsonl`), 'utf8').split('\n').filter((line) => line.length > 0);
}

/** The files of an agents fixture folder (test/fixtures/agents/<set>/), file name → text. */
export function agentFixtures(set: string): Record<string, string> {
  const dir = join(FIXTURES_DIR, 'agents', set);
  return Object.fromEntries(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name), 'utf8')]));
}
