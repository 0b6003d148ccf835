import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { EventBus } from '../events/index.js';
import { ConfigError } from '../lib/errors.js';
import { registerSecret } from '../lib/redact.js';
import type { Store } from '../store/index.js';
import { createDashboardApp, type DashboardControls, type DocumentReader } from './app.js';
import { EventLog } from './event-log.js';
import { LiveRuns } from './live-runs.js';
import { isLoopbackAddress } from './request-guards.js';
import type { PriceTable } from '../usage/index.js';

export interface StartDashboardOptions {
  store: Store;
  /** The orchestrator's event bus: live updates come from it. Without one the dashboard shows the store only. */
  bus: EventBus | null;
  controls: DashboardControls | null;
  documents?: DocumentReader | null;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Required (generated when null) for a non-loopback host; optional on loopback. */
  token: string | null;
  staticDir: string | null;
  repoRoot: string | null;
  version: string;
  /** Prices for the live cost estimate of running sessions; the built-in table when absent. */
  prices?: PriceTable;
  /** config workers.leaseSeconds: a live worker silent for longer is flagged late (30 when absent). */
  workerLeaseSeconds?: number;
  onError?: (error: unknown) => void;
}

export interface RunningDashboard {
  /** The address to open; carries the token when there is one. */
  readonly url: string;
  readonly port: number;
  readonly token: string | null;
  readonly log: EventLog | null;
  close(): Promise<void>;
}

/** The token a server on `host` requires: the configured one, else a new one for any non-loopback address. */
export function resolveDashboardToken(host: string, configured: string | null): string | null {
  return configured ?? (isLoopbackAddress(host) ? null : randomBytes(24).toString('base64url'));
}

/**
 * Starts the dashboard's HTTP server. It binds 127.0.0.1 unless told otherwise; any other address gets an
 * access token (generated and printed when not configured), because the dashboard can stop runs and shows
 * prompts and code.
 */
export async function startDashboard(options: StartDashboardOptions): Promise<RunningDashboard> {
  const token = resolveDashboardToken(options.host, options.token);
  if (token !== null) registerSecret(token);
  let events: { log: EventLog; liveRuns: LiveRuns } | null = null;
  let detach = () => {};
  if (options.bus) {
    const liveRuns = new LiveRuns(options.prices);
    const log = new EventLog({ liveRuns });
    const offRuns = liveRuns.attach(options.bus);
    const offLog = log.attach(options.bus);
    detach = () => {
      offLog();
      offRuns();
    };
    events = { log, liveRuns };
  }
  const app = createDashboardApp({
    store: options.store,
    events,
    controls: options.controls,
    documents: options.documents ?? null,
    info: { version: options.version, repoRoot: options.repoRoot, database: options.store.location },
    token,
    boundHost: options.host,
    staticDir: options.staticDir,
    ...(options.workerLeaseSeconds === undefined ? {} : { workerLeaseSeconds: options.workerLeaseSeconds }),
    onError: options.onError,
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const created = serve({ fetch: app.fetch, hostname: options.host, port: options.port }, () => resolve(created));
    created.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new ConfigError(`the dashboard port ${options.port} on ${options.host} is in use`, { hint: 'pass --port <n> (0 picks a free one), set dashboard.port in orchestrator.config.json, or use --no-dashboard' })
          : error,
      );
    });
  });
  (server as Server).on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${hostForUrl}:${address.port}/${token === null ? '' : `?token=${encodeURIComponent(token)}`}`;
  return {
    url,
    port: address.port,
    token,
    log: events?.log ?? null,
    close: async () => {
      detach();
      await new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
