import { randomBytes } from 'node:crypto';

// Crockford base32, as ULID uses: ids sort by creation time, which keeps `ps` and the dashboard ordered.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID-style id: 10 chars of millisecond time + 16 random chars, lexicographically sortable. */
export function newSortableId(now: number = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(16);
  let random = '';
  for (const byte of bytes) random += ALPHABET[byte % 32]!;
  return (time + random).toLowerCase();
}
