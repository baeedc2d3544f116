/**
 * The conversation events a webhook can subscribe to, by the name receivers see, with
 * what each means: the one list the GraphQL enum, the input rules and the store use.
 * (migrations/0001 checks the same names in the database.)
 */
export const EVENT_TYPES = {
  conversation_started: 'An agent session began.',
  conversation_ended: 'An agent session closed.',
  conversation_analysed: 'Post-call analysis of a session is complete.',
} as const;

export type WebhookEventType = keyof typeof EVENT_TYPES;

export const WEBHOOK_EVENTS = Object.keys(EVENT_TYPES) as [WebhookEventType, ...WebhookEventType[]];

/** The GraphQL enum's values: CONVERSATION_ENDED for conversation_ended, and so on. */
export function eventEnumValues() {
  return Object.fromEntries(
    WEBHOOK_EVENTS.map((type) => [type.toUpperCase(), { value: type, description: EVENT_TYPES[type] }]),
  ) as { [K in WebhookEventType as Uppercase<K>]: { value: K; description: string } };
}
