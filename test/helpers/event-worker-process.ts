import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** What every event-printing worker helper (test/helpers/*-worker.mjs) prints: one JSON object per line. */
export type WorkerEventBase = { ready: true; poolId: string } | { started: true; jobId: string } | { finished: true; jobId: string } | { aborted: true; jobId: string } | { error: { code?: string; message: string } };

/**
 * One worker helper process (`node <helper> '<json config>'`, config with the worker id added) and the JSON events
 * it printed on stdout, one per line. Reads lines `release <jobId>` on stdin (the helpers' protocol).
 */
export class EventWorkerProcess<Event extends object = WorkerEventBase> {
  readonly events: Event[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #child: ChildProcess;
  readonly #wake = new Set<() => void>();
  readonly #waitMs: number;
  #stderr = '';

  constructor(
    helper: string,
    readonly workerId: string,
    config: Record<string, unknown>,
    options: { waitMs: number },
  ) {
    this.#waitMs = options.waitMs;
    this.#child = spawn(process.execPath, [helper, JSON.stringify({ ...config, workerId })], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.on('error', () => undefined);
    this.#child.stdin!.on('error', () => undefined);
    this.#child.stderr!.on('data', (chunk: Buffer) => (this.#stderr = (this.#stderr + chunk.toString()).slice(-4000)));
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      this.events.push(JSON.parse(line) as Event);
      for (const wake of this.#wake) wake();
    });
    this.exited = new Promise((resolve) => this.#child.on('close', (code, signal) => resolve({ code, signal })));
    void this.exited.then(() => {
      for (const wake of this.#wake) wake();
    });
  }

  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The first event matching `pick`; fails when the process exits first or after `waitMs`. */
  async waitFor<T extends Event>(what: string, pick: (event: Event) => event is T): Promise<T> {
    const deadline = Date.now() + this.#waitMs;
    for (;;) {
      const found = this.events.find(pick);
      if (found) return found;
      if (!this.alive) throw new Error(`${this.workerId} exited before ${what}; events ${JSON.stringify(this.events)}; stderr ${this.#stderr}`);
      if (Date.now() > deadline) throw new Error(`${this.workerId}: no ${what} within ${this.#waitMs} ms; events ${JSON.stringify(this.events)}; stderr ${this.#stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        const wake = () => {
          clearTimeout(timer);
          this.#wake.delete(wake);
          resolve();
        };
        this.#wake.add(wake);
      });
    }
  }

  ready() {
    return this.waitFor('ready', (event): event is Extract<Event, { ready: true }> => 'ready' in event);
  }
  started(jobId?: string) {
    return this.waitFor(`start of job ${jobId ?? 'any'}`, (event): event is Extract<Event, { started: true }> => 'started' in event && (jobId === undefined || (event as { jobId?: string }).jobId === jobId));
  }
  finished(jobId: string) {
    return this.waitFor(`end of job ${jobId}`, (event): event is Extract<Event, { finished: true }> => 'finished' in event && (event as { jobId?: string }).jobId === jobId);
  }
  startedJobIds(): string[] {
    return this.events.flatMap((event) => ('started' in event ? [(event as { jobId?: string }).jobId ?? ''] : []));
  }

  release(jobId: string): void {
    this.#child.stdin!.write(`release ${jobId}\n`);
  }
  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.#child.kill(signal);
  }
}
