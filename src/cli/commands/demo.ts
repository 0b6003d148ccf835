import { runDemo } from '../../demo/run-demo.js';

/** `orchestrator demo`: the offline end-to-end demonstration (see demo/run-demo.ts). */
export async function demoCommand(options: { dir?: string; live?: boolean }): Promise<number> {
  return runDemo({ dir: options.dir, live: options.live, env: process.env, out: process.stdout });
}
