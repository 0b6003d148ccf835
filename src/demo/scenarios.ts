import type { ScenarioInput } from '../scripted-model/index.js';

/**
 * What the scripted model answers in the demo. The real Claude Code CLI runs every tool call (files are
 * really written, tests really run, commits really made); only the model's words are scripted.
 */
export const SLUGIFY_SOURCE = `export function slugify(text) {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
`;

export const SLUGIFY_TEST = `import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slugify } from '../src/slugify.js';

test('slugify joins lowercase words with dashes', () => {
  assert.equal(slugify('Hello, World!'), 'hello-world');
  assert.equal(slugify('  Many   spaces  '), 'many-spaces');
});
`;

export const developerScenario: ScenarioInput = {
  name: 'demo-code-developer',
  match: { prompt: 'slugify' },
  turns: [
    {
      text: "I'll add slugify with a test, run the test suite, and commit.",
      tools: [{ name: 'Write', input: { file_path: '{{cwd}}/src/slugify.js', content: SLUGIFY_SOURCE } }],
      usage: { input_tokens: 2_400, output_tokens: 180 },
      chunkDelayMs: 15,
    },
    { tools: [{ name: 'Write', input: { file_path: '{{cwd}}/test/slugify.test.js', content: SLUGIFY_TEST } }], usage: { input_tokens: 2_700, output_tokens: 160 } },
    { text: 'Running the tests.', tools: [{ name: 'Bash', input: { command: 'node --test test/', description: 'Run the test suite' } }], usage: { input_tokens: 2_900, output_tokens: 40 } },
    {
      tools: [{ name: 'Bash', input: { command: 'git add src/slugify.js test/slugify.test.js && git commit -q -m "Add slugify helper with tests" && git log --oneline -1', description: 'Commit the change' } }],
      usage: { input_tokens: 3_300, output_tokens: 60 },
    },
    { text: 'All tests pass and the change is committed.\n\nIMPLEMENTED: slugify(text) in src/slugify.js with tests', usage: { input_tokens: 3_500, output_tokens: 45 }, chunkDelayMs: 15 },
  ],
};
