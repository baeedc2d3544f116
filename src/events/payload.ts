/** How an event is stored and sent: the exact bytes receivers get, fixed once at publishing. */

type PayloadHead = {
  id: string;
  type: string;
  createdAt: Date;
  workspaceId: string;
  agentId: string;
  conversationId?: string | null;
};

/** The body receivers get, in a fixed key order; built once so every retry signs the same bytes. */
export function eventPayload(event: PayloadHead, data: unknown) {
  return payloadWithData(event, JSON.stringify(data));
}

/**
 * eventPayload, from data already serialised: the same bytes as JSON.stringify of the
 * whole object (data is its last key), without serialising the data twice.
 */
export function payloadWithData(event: PayloadHead, dataJson: string) {
  const head = JSON.stringify({
    id: event.id,
    type: event.type,
    timestamp: event.createdAt.toISOString(),
    workspaceId: event.workspaceId,
    agentId: event.agentId,
    // Only when published with one: payloads without it stay as they always were.
    ...(event.conversationId ? { conversationId: event.conversationId } : {}),
  });
  return `${head.slice(0, -1)}${DATA_KEY}${dataJson}}`;
}

const DATA_KEY = ',"data":';

/**
 * The data's JSON text inside a payload, without parsing it: data is the last key, and the
 * keys before it hold only strings, inside which a quote is always escaped, so the first
 * `,"data":` is the key's.
 */
export function payloadData(payload: string): string {
  return payload.slice(payload.indexOf(DATA_KEY) + DATA_KEY.length, -1);
}

/**
 * Whether JSON text (as JSON.stringify writes it) parses as jsonb: PostgreSQL refuses the
 * escapes of NUL and of unpaired surrogates (an odd run of backslashes before them: an
 * even one is an escaped backslash followed by plain text).
 */
const JSONB_REFUSES = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;
export const jsonbCanHold = (json: string) => !JSONB_REFUSES.test(json);

/** The data of every `webhook.test` event. */
export const TEST_EVENT_DATA = {
  message: 'This is a test event. If you can read it, your endpoint receives and can verify deliveries.',
};
