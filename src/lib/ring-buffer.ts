/** Keeps the last `capacity` items; used for the stderr tail of each session. */
export class RingBuffer<T> {
  readonly #items: T[] = [];
  constructor(readonly capacity: number) {}

  push(item: T): void {
    this.#items.push(item);
    if (this.#items.length > this.capacity) this.#items.shift();
  }

  toArray(): T[] {
    return [...this.#items];
  }
}

/** Splits a byte stream into lines, keeping a partial last line until more data arrives. */
export class LineSplitter {
  #partial = '';
  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    const text = this.#partial + chunk;
    let start = 0;
    let index = text.indexOf('\n', start);
    while (index !== -1) {
      const line = text.slice(start, index);
      if (line.length > 0) this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
      start = index + 1;
      index = text.indexOf('\n', start);
    }
    this.#partial = text.slice(start);
  }

  end(): void {
    if (this.#partial.length > 0) this.onLine(this.#partial);
    this.#partial = '';
  }
}
