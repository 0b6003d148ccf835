import type { MessageRecord } from './event-types.js';

/**
 * The JSON text of a message's payload, computed at most once per record: the orchestrator hands over the CLI's
 * own line (redacted when needed), and the store writer and the dashboard's event log reuse it instead of each
 * serializing the payload again (at 50 busy sessions that serialization was most of the orchestrator's garbage).
 */
const payloadJson = new WeakMap<MessageRecord, string>();

export function rememberPayloadJson(record: MessageRecord, json: string): void {
  payloadJson.set(record, json);
}

export function payloadJsonOf(record: MessageRecord): string {
  let json = payloadJson.get(record);
  if (json === undefined) {
    json = JSON.stringify(record.payload);
    payloadJson.set(record, json);
  }
  return json;
}
