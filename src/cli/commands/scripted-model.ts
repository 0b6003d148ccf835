import { once } from 'node:events';
import { ScriptedModelServer, loadScenarioFile } from '../../scripted-model/index.js';
import { UsageError } from '../../lib/errors.js';

/** `orchestrator scripted-model --scenario FILE [--port N]`: serves a scenario until Ctrl-C. */
export async function scriptedModelCommand(options: { scenario?: string; port?: number }): Promise<number> {
  if (!options.scenario) throw new UsageError('--scenario FILE is required', { hint: 'orchestrator scripted-model --scenario test/fixtures/scenarios/write-and-run.json' });
  const scenarios = await loadScenarioFile(options.scenario);
  const server = new ScriptedModelServer({ scenarios, ...(options.port !== undefined ? { port: options.port } : {}) });
  const url = await server.start();
  process.stdout.write(`scripted model listening on ${url} (${scenarios.length} scenario(s): ${scenarios.map((s) => s.name).join(', ')})\n`);
  process.stdout.write(`use it with: ANTHROPIC_BASE_URL=${url} ANTHROPIC_API_KEY=sk-scripted orchestrator run …\n`);
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  process.stdout.write(`\n${server.requests.length} request(s) served\n`);
  await server.close();
  return 0;
}
