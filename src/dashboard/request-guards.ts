import { createHash, timingSafeEqual } from 'node:crypto';

/** The hosts a loopback-bound server answers to; any other Host header is a DNS-rebinding attempt. */
const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopbackAddress(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The host name of a Host header, without the port (IPv6 literals keep their brackets). */
export function hostNameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) {
    const end = hostHeader.indexOf(']');
    return end === -1 ? hostHeader : hostHeader.slice(0, end + 1);
  }
  const colon = hostHeader.lastIndexOf(':');
  return colon === -1 ? hostHeader : hostHeader.slice(0, colon);
}

/** Compares a presented token with the expected one in constant time (both hashed to the same length first). */
export function tokenMatches(presented: string | null | undefined, expected: string): boolean {
  if (!presented) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token of a request: `Authorization: Bearer …`, or `?token=` for EventSource, which cannot set headers. */
export function presentedToken(authorization: string | undefined, queryToken: string | undefined): string | null {
  if (authorization?.startsWith('Bearer ')) return authorization.slice('Bearer '.length).trim();
  return queryToken ?? null;
}
