/**
 * A session's wall-clock limit that does not count the time it waits for us: while held (`hold()`, during a call to
 * one of our own tools, such as `ask_human` waiting for a person), the clock stops; it runs on from where it stood
 * when the last hold is released. Fires `onExpired` once, when the counted time reaches `limitMs`.
 */
export class WallClockLimit {
  #remainingMs: number;
  #runningSince: number | null = null;
  #timer: NodeJS.Timeout | null = null;
  #holds = 0;
  #done = false;

  constructor(
    readonly limitMs: number,
    private readonly onExpired: () => void,
  ) {
    this.#remainingMs = limitMs;
  }

  start(): void {
    if (this.#done || this.#holds > 0 || this.#runningSince !== null) return;
    this.#runningSince = Date.now();
    this.#timer = setTimeout(() => {
      this.stop();
      this.onExpired();
    }, Math.max(0, this.#remainingMs));
    this.#timer.unref();
  }

  /** Stops the clock until the returned release is called (idempotent); holds nest. */
  hold(): () => void {
    this.#holds += 1;
    if (this.#holds === 1) this.#pause();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds -= 1;
      if (this.#holds === 0) this.start();
    };
  }

  /** The counted time left, in ms. */
  remainingMs(): number {
    return this.#runningSince === null ? this.#remainingMs : this.#remainingMs - (Date.now() - this.#runningSince);
  }

  stop(): void {
    this.#pause();
    this.#done = true;
  }

  #pause(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#runningSince !== null) this.#remainingMs -= Date.now() - this.#runningSince;
    this.#runningSince = null;
  }
}
