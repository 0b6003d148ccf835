// @ts-check
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

/** Folders and what each may import (the dependency graph of docs/architecture.md, enforced here). */
const boundaries = {
  lib: ['lib'],
  events: ['lib', 'events'],
  config: ['lib', 'config'],
  runtime: ['lib', 'events', 'runtime'],
  store: ['lib', 'events', 'store'],
  usage: ['lib', 'events', 'usage'],
  roadmap: ['lib', 'roadmap'],
  git: ['lib', 'git'],
  queue: ['lib', 'queue'],
  // The MCP server on the control channel: the SDK's transport bridge and the tool registry's types, no tool itself.
  mcp: ['lib', 'events', 'runtime', 'mcp'],
  agents: ['lib', 'events', 'agents', 'roadmap'],
  'scripted-model': ['lib', 'scripted-model'],
  orchestrator: ['lib', 'events', 'config', 'runtime', 'store', 'usage', 'roadmap', 'git', 'queue', 'agents', 'mcp', 'orchestrator'],
  dashboard: ['lib', 'events', 'store', 'usage', 'dashboard'],
  // Webhooks: a bus subscriber like the dashboard; the cli starts it with the config's webhooks.
  notify: ['lib', 'events', 'config', 'store', 'notify'],
  demo: ['lib', 'events', 'config', 'runtime', 'store', 'usage', 'roadmap', 'git', 'agents', 'orchestrator', 'mcp', 'queue', 'scripted-model', 'dashboard', 'notify', 'cli', 'demo'],
  cli: ['lib', 'events', 'config', 'runtime', 'store', 'usage', 'roadmap', 'git', 'agents', 'orchestrator', 'mcp', 'queue', 'scripted-model', 'dashboard', 'notify', 'demo', 'cli'],
  // The pipeline benchmark runs the orchestrator as `start` does (cli) on the demo's sample repository and scenarios.
  bench: ['lib', 'events', 'config', 'runtime', 'store', 'usage', 'roadmap', 'git', 'agents', 'orchestrator', 'mcp', 'queue', 'scripted-model', 'dashboard', 'notify', 'demo', 'cli', 'bench'],
};
const folders = Object.keys(boundaries);

const boundaryConfigs = Object.entries(boundaries).map(([folder, allowed]) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: folders
          .filter((other) => !allowed.includes(other))
          .map((other) => ({ group: [`**/${other}/*`, `**/${other}/index.js`, `../${other}`], message: `src/${folder} must not import src/${other} (see docs/architecture.md, dependency direction)` })),
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-results/**', 'scripts/**', 'eslint.config.js', 'vite.config.ts', 'coverage/**', 'test/helpers/*.mjs'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
      '@typescript-eslint/require-await': 'off',
      'import-x/no-cycle': 'error',
      curly: ['error', 'multi-line'],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'exit', message: 'Only src/cli/main.ts may call process.exit; return an exit code instead.' },
        { object: 'process', property: 'chdir', message: 'Never change the working directory: pass cwd to child processes.' },
        { object: 'process', property: 'env', message: 'Only src/config and src/cli read process.env; pass values down.' },
      ],
    },
  },
  ...boundaryConfigs,
  {
    // The web UI runs in the browser: it may import its own files, preact/uplot, and only the API's types.
    files: ['src/dashboard/ui/**/*.ts', 'src/dashboard/ui/**/*.tsx'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'the web UI runs in the browser' },
            { group: ['../*', '!../api-types.js', '../../*'], message: 'the web UI may import only ../api-types.js (types) from the server side' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/cli/**/*.ts', 'src/config/**/*.ts', 'src/bench/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'chdir', message: 'Never change the working directory: pass cwd to child processes.' },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'vitest.config.ts'],
    rules: {
      'no-restricted-properties': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
