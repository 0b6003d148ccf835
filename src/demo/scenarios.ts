import type { ScenarioInput } from '../scripted-model/index.js';

/**
 * What the scripted model answers in the demo, per role. The real Claude Code CLI runs every tool call (files are
 * really written, tests really run, commits really made); only the model's words are scripted. Scenarios match
 * the task prompts the orchestrator writes (agents/prompts.ts): "ROLE: <role>" then "PRIORITY <n>: <title>".
 */
export interface Feature {
  number: string;
  file: string;
  name: string;
  source: string;
  test: string;
}

export const DEMO_FEATURES: readonly Feature[] = [
  {
    number: '1',
    file: 'slugify',
    name: 'slugify',
    source: "export function slugify(text) {\n  return text.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');\n}\n",
    test: "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { slugify } from '../src/slugify.js';\n\ntest('slugify joins lowercase words with dashes', () => {\n  assert.equal(slugify('Hello, World!'), 'hello-world');\n});\n",
  },
  {
    number: '2',
    file: 'word-count',
    name: 'wordCount',
    source: 'export function wordCount(text) {\n  return text.split(/\\s+/).filter(Boolean).length;\n}\n',
    test: "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { wordCount } from '../src/word-count.js';\n\ntest('wordCount counts whitespace-separated words', () => {\n  assert.equal(wordCount('  one two\\tthree\\n'), 3);\n  assert.equal(wordCount(''), 0);\n});\n",
  },
  {
    number: '3',
    file: 'title-case',
    name: 'titleCase',
    source: "export function titleCase(text) {\n  return text.replace(/\\b\\w/g, (letter) => letter.toUpperCase());\n}\n",
    test: "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { titleCase } from '../src/title-case.js';\n\ntest('titleCase capitalises every word', () => {\n  assert.equal(titleCase('the quick fox'), 'The Quick Fox');\n});\n",
  },
];

export const architectScenario: ScenarioInput = {
  name: 'demo-architect',
  match: { prompt: '^ROLE: architect\\nPRIORITY (?<n>[0-9.]+): (?<title>[^\\n]+)[\\s\\S]*?to: (?<spec>\\S+)' },
  turns: [
    { text: 'Reading the roadmap item and writing the spec.', tools: [{ name: 'Read', input: { file_path: '{{cwd}}/docs/roadmap/ROADMAP.md' } }], usage: { input_tokens: 3_100, output_tokens: 90 }, chunkDelayMs: 10 },
    {
      tools: [
        {
          name: 'Write',
          input: {
            file_path: '{{cwd}}/{{spec}}',
            content: '# SPEC {{n}}: {{title}}\n\n## Goal\nDeliver "{{title}}" as described in PRIORITY {{n}} of the roadmap.\n\n## Design\nOne pure function in its own module under src/, exported by name.\n\n## Acceptance criteria\n- [ ] the function behaves as the roadmap describes\n- [ ] a node:test test covers it and `node --test` passes\n\n## Out of scope\nEverything else.\n',
          },
        },
      ],
      usage: { input_tokens: 3_600, output_tokens: 420 },
    },
    { text: 'SPEC WRITTEN: {{spec}}', usage: { input_tokens: 3_900, output_tokens: 20 } },
  ],
};

export function developerScenario(feature: Feature): ScenarioInput {
  return {
    name: `demo-code-developer-${feature.number}`,
    match: { prompt: `^ROLE: code-developer\\nPRIORITY ${feature.number.replace('.', '\\.')}:` },
    turns: [
      {
        text: `I'll implement ${feature.name} with a test, run the suite, and commit.`,
        tools: [{ name: 'Write', input: { file_path: `{{cwd}}/src/${feature.file}.js`, content: feature.source } }],
        usage: { input_tokens: 4_200, output_tokens: 260 },
        chunkDelayMs: 10,
      },
      { tools: [{ name: 'Write', input: { file_path: `{{cwd}}/test/${feature.file}.test.js`, content: feature.test } }], usage: { input_tokens: 4_600, output_tokens: 210 } },
      { text: 'Running the tests.', tools: [{ name: 'Bash', input: { command: 'node --test', description: 'Run the test suite' } }], usage: { input_tokens: 4_900, output_tokens: 40 } },
      // A progress report (the orchestrator's report_progress tool): shown live on the dashboard's Now page and in the run's timeline.
      { tools: [{ name: 'mcp__orchestrator__report_progress', input: { status: 'tests pass; committing', percent: 90 } }], usage: { input_tokens: 5_100, output_tokens: 30 } },
      {
        tools: [{ name: 'Bash', input: { command: `git add src/${feature.file}.js test/${feature.file}.test.js && git commit -q -m "Add ${feature.name} with tests" && git log --oneline -1`, description: 'Commit the change' } }],
        usage: { input_tokens: 5_300, output_tokens: 70 },
      },
      { text: `All tests pass and the change is committed.\n\nIMPLEMENTED: ${feature.name} in src/${feature.file}.js with tests`, usage: { input_tokens: 5_500, output_tokens: 45 } },
    ],
  };
}

export const reviewerScenario: ScenarioInput = {
  name: 'demo-code-reviewer',
  match: { prompt: '^ROLE: code-reviewer\\nPRIORITY (?<n>[0-9.]+): (?<title>[^\\n]+)[\\s\\S]*?Write your review to: (?<review>\\S+)' },
  turns: [
    { text: 'Looking at the diff and running the tests.', tools: [{ name: 'Bash', input: { command: 'git diff main...HEAD --stat && node --test 2>&1 | tail -3', description: 'Diff and tests' } }], usage: { input_tokens: 3_800, output_tokens: 60 }, chunkDelayMs: 10 },
    {
      tools: [{ name: 'Write', input: { file_path: '{{cwd}}/{{review}}', content: 'Verdict: APPROVED\n\nReview of PRIORITY {{n}}: {{title}}.\n\n- The implementation matches the spec.\n- Tests cover the acceptance criteria and pass.\n' } }],
      usage: { input_tokens: 4_300, output_tokens: 150 },
    },
    { text: 'REVIEW WRITTEN: APPROVED', usage: { input_tokens: 4_500, output_tokens: 15 } },
  ],
};

/**
 * Marks every "PRIORITY n: title" line of the prompt complete: one Edit per line (`each`), so one session serves a
 * batched prompt (several PRIORITY lines) as well as a one-item one. The final text names the first item.
 */
export const projectManagerScenario: ScenarioInput = {
  name: 'demo-project-manager',
  match: { prompt: '^ROLE: project-manager\\nPRIORITY (?<n>[0-9.]+): (?<title>[^\\n]+)' },
  turns: [
    { tools: [{ name: 'Read', input: { file_path: '{{cwd}}/docs/roadmap/ROADMAP.md' } }], usage: { input_tokens: 2_600, output_tokens: 40 } },
    {
      tools: [{ name: 'Edit', each: '^PRIORITY (?<n>[0-9.]+): (?<title>[^\\n]+)$', input: { file_path: '{{cwd}}/docs/roadmap/ROADMAP.md', old_string: '### PRIORITY {{n}}: {{title}}\n**Status**: 📝 Planned', new_string: '### PRIORITY {{n}}: {{title}}\n**Status**: ✅ Complete' } }],
      usage: { input_tokens: 2_900, output_tokens: 80 },
    },
    { text: 'ROADMAP UPDATED: PRIORITY {{n}}', usage: { input_tokens: 3_000, output_tokens: 12 } },
  ],
};

/**
 * The demo's architect: the architect above, and between writing the spec and finishing, a warning to the developer
 * of its item (the send_message tool). The developer's session gets it in its prompt ("Messages for you"), and the
 * dashboard's Messages page lists it. Tests that share `architectScenario` keep the quiet one.
 */
export const demoArchitectScenario: ScenarioInput = {
  ...architectScenario,
  name: 'demo-architect-with-message',
  turns: [
    ...architectScenario.turns.slice(0, -1),
    {
      text: 'Warning the developer about a risk I see.',
      tools: [
        {
          name: 'mcp__orchestrator__send_message',
          input: {
            to: { kind: 'role', role: 'code-developer' },
            text: 'Heads-up for PRIORITY {{n}} ({{title}}): keep it one pure function with no module state, and test the empty string too; the spec is in {{spec}}.',
          },
        },
      ],
      usage: { input_tokens: 3_800, output_tokens: 70 },
    },
    ...architectScenario.turns.slice(-1),
  ],
};

export const DEMO_SCENARIOS: readonly ScenarioInput[] = [demoArchitectScenario, ...DEMO_FEATURES.map(developerScenario), reviewerScenario, projectManagerScenario];
