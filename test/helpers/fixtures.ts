import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES_DIR = join(import.meta.dirname, '..', 'fixtures');

/** The raw stdout lines of a stream fixture recorded from the real CLI (scripts/record-stream-fixtures.mjs). */
export function streamFixture(name: string): string[] {
  return readFileSync(join(FIXTURES_DIR, 'streams', `${name}.jsonl`), 'utf8').split('\n').filter((line) => line.length > 0);
}
