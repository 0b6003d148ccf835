export function money(usd: number | null | undefined, digits = 4): string {
  return usd === null || usd === undefined ? '—' : `$${usd.toFixed(digits)}`;
}

export function tokens(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(2)}M`;
  if (n >= 10_000) return `${(n / 1000).toFixed(1)}k`;
  return n.toLocaleString('en-US');
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function since(iso: string | null, now: number): string {
  return iso === null ? '—' : duration(Math.max(0, now - Date.parse(iso)));
}

export function time(iso: string | null): string {
  if (iso === null) return '—';
  const date = new Date(iso);
  return `${date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${date.toLocaleTimeString(undefined, { hour12: false })}`;
}

export function shortId(id: string): string {
  return id.slice(-8);
}

/** What each wait reason means (the store's WaitReason values), for a badge's title. */
export const WAIT_REASON_TITLES: Readonly<Record<string, string>> = {
  slot: 'a session slot: as many sessions run as `concurrency` allows',
  lock: 'the integration lock: another item merges, or the roadmap is being updated',
  dependency: 'a dependency: an item it depends on is not merged yet',
  backoff: "a retry's backoff, after a transient failure",
  budget: 'the daily budget (budgets.perDayUsd)',
  roadmap: "the project manager's batched roadmap update",
};

/** The summary's phrase per reason, in the order they are listed: "3 for a slot", "2 on dependencies". */
const WAIT_PHRASES: readonly [string, (n: number) => string][] = [
  ['slot', (n) => `${n} for a slot`],
  ['lock', (n) => `${n} for the lock`],
  ['dependency', (n) => `${n} on ${n === 1 ? 'a dependency' : 'dependencies'}`],
  ['backoff', (n) => `${n} in backoff`],
  ['budget', (n) => `${n} for the budget`],
  ['roadmap', (n) => `${n} for the roadmap update`],
];

/** "3 for a slot, 1 for the lock, 2 on dependencies"; '' when nothing waits. Unknown reasons are counted by name. */
export function waitSummary(items: readonly { waitingFor: string | null }[]): string {
  const counts = new Map<string, number>();
  for (const item of items) if (item.waitingFor !== null) counts.set(item.waitingFor, (counts.get(item.waitingFor) ?? 0) + 1);
  const known = WAIT_PHRASES.filter(([reason]) => counts.has(reason)).map(([reason, phrase]) => phrase(counts.get(reason)!));
  const other = [...counts].filter(([reason]) => !WAIT_PHRASES.some(([name]) => name === reason)).map(([reason, n]) => `${n} for ${reason}`);
  return [...known, ...other].join(', ');
}

/** How long ago a heartbeat was: "3 s ago", "2m 05s ago", "1h 02m ago". */
export function ago(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s ago`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m ago`;
}
