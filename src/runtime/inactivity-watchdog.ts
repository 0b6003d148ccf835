/**
 * Fires `onIdle` once when `touch()` has not been called for `idleMs`. Checks on a coarse interval instead of
 * re-arming a timer per event, because sessions can emit thousands of lines per second.
 */
export class InactivityWatchdog {
  #lastActivity = Date.now();
  #timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly idleMs: number,
    private readonly onIdle: (idleForMs: number) => void,
  ) {}

  start(): void {
    this.#lastActivity = Date.now();
    const checkEveryMs = Math.max(10, Math.min(1_000, Math.floor(this.idleMs / 4)));
    this.#timer = setInterval(() => {
      const idleFor = Date.now() - this.#lastActivity;
      if (idleFor >= this.idleMs) {
        this.stop();
        this.onIdle(idleFor);
      }
    }, checkEveryMs);
    this.#timer.unref();
  }

  touch(): void {
    this.#lastActivity = Date.now();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
