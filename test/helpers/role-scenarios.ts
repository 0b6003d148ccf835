import type { ScenarioInput } from '../../src/scripted-model/index.js';
import { architectScenario, projectManagerScenario, reviewerScenario } from '../../src/demo/scenarios.js';

export { architectScenario, projectManagerScenario, reviewerScenario };

/** A developer that writes `file` with `content` (and a passing test), runs the tests and commits. */
export function developerWriting(options: { number: string; file: string; content: string; name?: string; match?: string; maxSessions?: number; readFirst?: boolean }): ScenarioInput {
  const testFile = `test/${options.file.replace(/[/.]/g, '-')}.test.js`;
  return {
    name: options.name ?? `developer-${options.number}`,
    match: { prompt: options.match ?? `^ROLE: code-developer\\nPRIORITY ${options.number.replace('.', '\\.')}:` },
    ...(options.maxSessions ? { maxSessions: options.maxSessions } : {}),
    turns: [
      // The real Write tool refuses to overwrite a file the session has not read (notes §3.3).
      ...(options.readFirst ? [{ tools: [{ name: 'Read', input: { file_path: `{{cwd}}/${options.file}` } }, { name: 'Read', input: { file_path: `{{cwd}}/${testFile}` } }] }] : []),
      { tools: [{ name: 'Write', input: { file_path: `{{cwd}}/${options.file}`, content: options.content } }] },
      { tools: [{ name: 'Write', input: { file_path: `{{cwd}}/${testFile}`, content: "import { test } from 'node:test';\ntest('works', () => {});\n" } }] },
      { tools: [{ name: 'Bash', input: { command: `node --test > /dev/null && git add ${options.file} ${testFile} && git commit -q -m "Implement PRIORITY ${options.number}"`, description: 'test and commit' } }] },
      { text: `IMPLEMENTED: PRIORITY ${options.number}` },
    ],
  };
}

export const standardRoles: ScenarioInput[] = [architectScenario, reviewerScenario, projectManagerScenario];
