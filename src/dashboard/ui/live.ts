import { useEffect, useRef, useState } from 'preact/hooks';
import { followEvents, type StreamState } from './api.js';

export type Reduction<T> = T | 'reload';

/**
 * A page's data: a snapshot loaded from the API, kept current by the event stream. Events that arrive while
 * the snapshot loads are applied after it (reducers drop what the snapshot already has); `reload` from a
 * reducer, or a `reset` from the server, loads the snapshot again (bursts are coalesced into one load).
 */
export function useLiveResource<T>(options: {
  key: string;
  run?: string;
  load: () => Promise<T>;
  reduce: (state: T, name: string, data: unknown) => Reduction<T>;
}): { data: T | null; error: string | null; stream: StreamState; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [stream, setStream] = useState<StreamState>('connecting');
  const reloadRef = useRef<() => void>(() => {});
  const { load, reduce } = options;
  useEffect(() => {
    let current: T | null = null;
    let loading = false;
    let again = false;
    let cancelled = false;
    const queued: [string, unknown][] = [];
    // Many events can arrive between two frames (a busy session): apply each, render once per frame.
    let frame: number | null = null;
    const render = () => {
      if (frame !== null) return;
      frame = requestAnimationFrame(() => {
        frame = null;
        setData(current);
      });
    };
    setData(null);
    setError(null);
    const apply = (name: string, payload: unknown): boolean => {
      if (current === null) return false;
      const next = reduce(current, name, payload);
      if (next === 'reload') return true;
      current = next;
      return false;
    };
    const reload = () => {
      if (loading) {
        again = true;
        return;
      }
      loading = true;
      load()
        .then((snapshot) => {
          if (cancelled) return;
          current = snapshot;
          let needsReload = false;
          for (const [name, payload] of queued.splice(0)) needsReload = apply(name, payload) || needsReload;
          setData(current);
          setError(null);
          loading = false;
          if (again || needsReload) {
            again = false;
            reload();
          }
        })
        .catch((failure: unknown) => {
          loading = false;
          if (!cancelled) setError(failure instanceof Error ? failure.message : String(failure));
        });
    };
    reloadRef.current = reload;
    // Normally the snapshot loads on the stream's `hello`; if the stream cannot connect, show the store anyway.
    let greeted = false;
    const fallback = setTimeout(() => {
      if (!greeted && current === null) reload();
    }, 1500);
    const stop = followEvents(options.run === undefined ? {} : { run: options.run }, {
      onSnapshotNeeded: () => {
        greeted = true;
        reload();
      },
      onState: setStream,
      onEvent: (name, payload) => {
        if (loading || current === null) {
          queued.push([name, payload]);
          return;
        }
        if (apply(name, payload)) reload();
        else render();
      },
    });
    return () => {
      cancelled = true;
      clearTimeout(fallback);
      if (frame !== null) cancelAnimationFrame(frame);
      stop();
    };
  }, [options.key]);
  return { data, error, stream, reload: () => reloadRef.current() };
}

/** The current time, updated every `ms`: for elapsed-time columns. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
