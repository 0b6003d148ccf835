import { startDashboard } from '../dashboard/index.js';
import { PostgresStore } from '../store/index.js';

/**
 * The dashboard of the steering benchmark on PostgreSQL (steering.ts), in a process of its own as `orchestrator
 * dashboard` runs on another machine: it serves the schema on a free loopback port, prints `{"url": …}` as its
 * first stdout line, and ends when its stdin closes. The database URL comes in the environment, never on the command line.
 */
async function main(): Promise<void> {
  const url = process.env.STEERING_DATABASE_URL;
  const schema = process.env.STEERING_SCHEMA;
  if (!url || !schema) throw new Error('STEERING_DATABASE_URL and STEERING_SCHEMA are needed');
  const store = await PostgresStore.open(url, { schema, max: 2 });
  const dashboard = await startDashboard({ store, bus: null, controls: null, host: '127.0.0.1', port: 0, token: null, staticDir: null, repoRoot: null, version: 'bench' });
  process.stdout.write(`${JSON.stringify({ url: dashboard.url })}\n`);
  await new Promise<void>((resolve) => {
    process.stdin.on('end', resolve);
    process.stdin.on('close', resolve);
    process.stdin.resume();
  });
  await dashboard.close();
  await store.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
