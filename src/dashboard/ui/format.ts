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
