import type { RecordedRequest } from '../scripted-model/index.js';

/**
 * Pure helpers of the steering benchmark (steering.ts): which model request carried a steering message, which turn
 * was in flight when it was posted, and the sample the two make.
 */

/** Every text a request's messages carry: string contents and each block's text, other blocks as their JSON. */
export function requestTexts(request: RecordedRequest): string[] {
  return (request.body?.messages ?? []).map((message) =>
    typeof message.content === 'string' ? message.content : message.content.map((block) => (typeof block.text === 'string' ? block.text : JSON.stringify(block))).join('\n'),
  );
}

/** The first scenario turn request received after `afterMs` (epoch ms) whose messages contain `text`, or null. */
export function firstRequestCarrying(requests: readonly RecordedRequest[], text: string, afterMs: number): RecordedRequest | null {
  for (const request of requests) {
    if (request.kind !== 'turn' || request.receivedAtMs <= afterMs) continue;
    if (requestTexts(request).some((part) => part.includes(text))) return request;
  }
  return null;
}

/** The turn request being answered at `atMs`: received before it, its answer not yet fully sent then (or not at all). */
export function turnInFlightAt(requests: readonly RecordedRequest[], atMs: number): RecordedRequest | null {
  let found: RecordedRequest | null = null;
  for (const request of requests) {
    if (request.kind !== 'turn' || request.receivedAtMs > atMs) continue;
    if (request.respondedAtMs === null || request.respondedAtMs > atMs) found = request;
  }
  return found;
}

/** One steering sample: a message posted while a turn was in flight, and the request that carried it. */
export interface SteeringSample {
  /** From the in-flight turn's answer fully sent (the turn ends) to the request carrying the message received. */
  afterTurnEndMs: number;
  /** From the POST sent to the request carrying the message received. */
  fromPostMs: number;
  /** Whether the carrying request is the one right after the in-flight turn (same session, next turn index). */
  nextTurn: boolean;
}

/** The sample of a message posted at `postedAtMs`, or an error naming what is missing (no turn in flight, no carrier). */
export function steeringSample(requests: readonly RecordedRequest[], text: string, postedAtMs: number): SteeringSample {
  const inFlight = turnInFlightAt(requests, postedAtMs);
  if (!inFlight) throw new Error(`no model turn was in flight when the message was posted at ${postedAtMs.toFixed(1)}: post while a request is being answered`);
  if (inFlight.respondedAtMs === null) throw new Error(`the turn in flight (turn ${String(inFlight.turnIndex)}) has not been answered yet: wait for the carrying request first`);
  const carrier = firstRequestCarrying(requests, text, postedAtMs);
  if (!carrier) throw new Error(`no model request after the post carries the message text ${JSON.stringify(text)}`);
  return {
    afterTurnEndMs: carrier.receivedAtMs - inFlight.respondedAtMs,
    fromPostMs: carrier.receivedAtMs - postedAtMs,
    nextTurn: carrier.sessionId === inFlight.sessionId && inFlight.turnIndex !== null && carrier.turnIndex === inFlight.turnIndex + 1,
  };
}

/**
 * The CLI's own gap after turn `turnIndex` of `sessionId`: from that turn's answer fully sent to the session's next
 * turn request received (null while either is missing). With no message in between, it is the baseline steering adds to.
 */
export function gapAfterTurn(requests: readonly RecordedRequest[], sessionId: string | null, turnIndex: number): number | null {
  const ofSession = (index: number) => requests.find((request) => request.kind === 'turn' && request.sessionId === sessionId && request.turnIndex === index);
  const turn = ofSession(turnIndex);
  const next = ofSession(turnIndex + 1);
  if (!turn || !next || turn.respondedAtMs === null) return null;
  return next.receivedAtMs - turn.respondedAtMs;
}
