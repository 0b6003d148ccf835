import { RunStatus } from '../events/index.js';
import type { RunId } from '../events/index.js';

/** A request the API refuses, with the reason shown to the caller (400). */
export class BadRequest extends Error {
  constructor(
    message: string,
    readonly code = 'ORCH_BAD_REQUEST',
  ) {
    super(message);
    this.name = 'BadRequest';
  }
}

const ID = /^[0-9a-z][0-9a-z._-]{0,63}$/i;
const STATUSES = new Set<string>(Object.values(RunStatus));

export function parseRunId(value: string | undefined): RunId {
  if (!value || !ID.test(value)) throw new BadRequest(`not a run id: ${JSON.stringify(value?.slice(0, 80) ?? '')}`);
  return value as RunId;
}

export function parseId(value: string | undefined, what: string): string {
  if (!value || !ID.test(value)) throw new BadRequest(`not a ${what} id: ${JSON.stringify(value?.slice(0, 80) ?? '')}`);
  return value;
}

export function parseOptionalId(value: string | undefined, what: string): string | undefined {
  return value === undefined || value === '' ? undefined : parseId(value, what);
}

export function parseStatuses(value: string | undefined): RunStatus[] | undefined {
  if (value === undefined || value === '') return undefined;
  const statuses = value.split(',');
  for (const status of statuses) {
    if (!STATUSES.has(status)) throw new BadRequest(`unknown status ${JSON.stringify(status.slice(0, 40))}; one of ${[...STATUSES].join(', ')}`);
  }
  return statuses as RunStatus[];
}

export function parseLimit(value: string | undefined, fallback: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d{1,6}$/.test(value)) throw new BadRequest(`limit must be a whole number, got ${JSON.stringify(value.slice(0, 40))}`);
  return Math.min(Math.max(Number(value), 1), max);
}

export function parseSeq(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  if (!/^\d{1,12}$/.test(value)) throw new BadRequest(`after must be a message seq number, got ${JSON.stringify(value.slice(0, 40))}`);
  return Number(value);
}

/** A time bound: an ISO-8601 date or time, returned as a UTC ISO string. */
export function parseTime(value: string | undefined, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new BadRequest(`${name} must be an ISO-8601 date or time, got ${JSON.stringify(value.slice(0, 40))}`);
  return new Date(ms).toISOString();
}

export function parseAgent(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/i.test(value)) throw new BadRequest(`not an agent name: ${JSON.stringify(value.slice(0, 40))}`);
  return value;
}

/** A yes/no switch: absent, `0`/`false` or `1`/`true`. */
export function parseFlag(value: string | undefined, name: string): boolean {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new BadRequest(`${name} must be 1 or 0, got ${JSON.stringify(value.slice(0, 40))}`);
}
