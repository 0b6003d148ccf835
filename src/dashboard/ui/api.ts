import type { ApiErrorBody } from '../api-types.js';

const TOKEN_KEY = 'orchestrator-dashboard-token';

/** The access token: from the printed URL (?token=) on first load, then kept for this tab only. */
function readToken(): string | null {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.toString());
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

const token = readToken();

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

async function request<T>(method: string, path: string, payload?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (method !== 'GET') headers['x-orchestrator-request'] = '1';
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, ...(payload !== undefined ? { body: JSON.stringify(payload) } : {}) });
  const body = (await response.json().catch(() => null)) as T | ApiErrorBody | null;
  if (!response.ok) {
    const error = (body as ApiErrorBody | null)?.error;
    throw new ApiError(response.status, error?.code ?? 'HTTP', error?.message ?? `HTTP ${response.status}`, error?.hint);
  }
  return body as T;
}

export const getJson = <T>(path: string): Promise<T> => request<T>('GET', path);
export const postJson = <T>(path: string, body?: unknown): Promise<T> => request<T>('POST', path, body);

export function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== null && value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'static';

export interface StreamHandlers {
  /** Called on first connect and after a `reset`: (re)load the page's snapshot from the API. */
  onSnapshotNeeded(): void;
  onEvent(name: string, data: unknown): void;
  onState?(state: StreamState): void;
}

const EVENT_NAMES = ['run.queued', 'run.started', 'run.activity', 'run.message', 'run.permission_denied', 'run.ended', 'work_item.transitioned', 'work_item.waiting', 'orchestrator.notice', 'budget.reached', 'question.asked'];

/**
 * Follows the orchestrator's event stream. The browser's EventSource reconnects by itself and sends
 * Last-Event-ID, so missed events are replayed by the server; `reset` (they are gone) reloads the snapshot.
 */
export function followEvents(params: { run?: string }, handlers: StreamHandlers): () => void {
  const url = `/api/events${query({ run: params.run, token })}`;
  const source = new EventSource(url);
  let greeted = false;
  handlers.onState?.('connecting');
  source.addEventListener('hello', (event) => {
    const data = JSON.parse((event as MessageEvent<string>).data) as { live: boolean };
    handlers.onState?.(data.live ? 'live' : 'static');
    if (!greeted) {
      greeted = true;
      handlers.onSnapshotNeeded();
    }
  });
  source.addEventListener('reset', () => handlers.onSnapshotNeeded());
  for (const name of EVENT_NAMES) {
    source.addEventListener(name, (event) => handlers.onEvent(name, JSON.parse((event as MessageEvent<string>).data) as unknown));
  }
  source.onerror = () => handlers.onState?.('reconnecting');
  return () => source.close();
}
