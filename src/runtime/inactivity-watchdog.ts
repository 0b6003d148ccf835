/**
 * Fires `onIdle` once when `touch()` has not been called for `idleMs`. Checks on a coarse interval instead of
 * re-arming a timer per event, because sessions can emit thousands of lines per second. While held (`hold()`), it
 * does not fire: the session is silent because it waits for us (a call to one of our own tools), not because it hangs.
 */
export class InactivityWatchdog {
  #lastActivity = Date.now();
  #timer: NodeJS.Timeout | null = null;
  #holds = 0;

  constructor(
    private readonly idleMs: number,
    private readonly onIdle: (idleForMs: number) => void,
  ) {}

  start(): void {
    this.#lastActivity = Date.now();
    const checkEveryMs = Math.max(10, Math.min(1_000, Math.floor(this.idleMs / 4)));
    this.#timer = setInterval(() => {
      if (this.#holds > 0) return;
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

  /**
   * Holds the watchdog until the returned release is called (idempotent); holds nest. The idle time counts again
   * from the release.
   */
  hold(): () => void {
    this.#holds += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds -= 1;
      this.touch();
    };
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
