import { runDemo } from '../../demo/run-demo.js';

/** `orchestrator demo`: the offline end-to-end demonstration (see demo/run-demo.ts). */
export async function demoCommand(options: { dir?: string; live?: boolean; pace?: number; keepOpen?: boolean; dashboard?: boolean }): Promise<number> {
  return runDemo({ dir: options.dir, live: options.live, paceMs: options.pace, keepOpen: options.keepOpen, dashboard: options.dashboard, env: process.env, out: process.stdout });
}
