// The line protocol of the helper worker processes (queue-worker.mjs, lost-worker.mjs) with their test: one JSON line
// per event on stdout, and `release <jobId>` lines on stdin that let a held job return.
import { createInterface } from 'node:readline';

export const say = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

const releases = new Map();
const released = new Set();
createInterface({ input: process.stdin }).on('line', (line) => {
  const [verb, jobId] = line.split(' ');
  if (verb !== 'release') return;
  released.add(jobId);
  releases.get(jobId)?.();
});

/**
 * Holds job `jobId` until its release line (at once if it came already; never when `releasable` is false) or until
 * one of `signals` aborts: then says {aborted, jobId} and rejects with the abort's reason.
 */
export function holdUntilReleased(jobId, signals, { releasable = true } = {}) {
  return new Promise((resolve, reject) => {
    if (releasable) {
      if (released.has(jobId)) return resolve();
      releases.set(jobId, resolve);
    }
    for (const stop of signals) stop.addEventListener('abort', () => reject(stop.reason), { once: true });
  }).catch((error) => {
    say({ aborted: true, jobId });
    throw error;
  });
}

/** The stdin reader would keep the process alive. */
export const closeInput = () => process.stdin.destroy();
