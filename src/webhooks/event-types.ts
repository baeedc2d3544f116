/**
 * Every event type a receiver can get, by the name receivers see (the payload's `type`):
 * the one list the GraphQL enum, the input rules, the store, `Query.eventTypes` and the
 * README's event table come from. (migrations/0006 checks the subscribable names in the
 * database.)
 *
 * - conversation events are published by clients and go to the webhooks of their agent;
 * - notices are emitted by the service itself and go to every subscribed webhook of the
 *   workspace, whatever its agent, except the one they are about (see events/notices.ts);
 * - `webhook.test` is sent by sendTestEvent to one webhook and cannot be subscribed to.
 */
export const EVENT_CATALOGUE = [
  {
    name: 'conversation_started',
    enumValue: 'CONVERSATION_STARTED',
    kind: 'conversation',
    description: 'An agent session began.',
  },
  {
    name: 'conversation_ended',
    enumValue: 'CONVERSATION_ENDED',
    kind: 'conversation',
    description: 'An agent session closed.',
  },
  {
    name: 'conversation_analysed',
    enumValue: 'CONVERSATION_ANALYSED',
    kind: 'conversation',
    description: 'Post-call analysis of a session is complete.',
  },
  {
    name: 'webhook.disabled',
    enumValue: 'WEBHOOK_DISABLED',
    kind: 'notice',
    description:
      'Notice: the service turned a webhook of the workspace off (it answered 410 Gone, or every attempt failed for DELIVERY_DISABLE_AFTER). Sent to every subscribed webhook of the workspace but that one, whatever its agent.',
  },
  {
    name: 'delivery.failed',
    enumValue: 'DELIVERY_FAILED',
    kind: 'notice',
    description:
      'Notice: a delivery failed for good (its retry schedule ran out, or the endpoint answered 410 Gone). Sent to every subscribed webhook of the workspace but the one that failed, whatever its agent; never sent about a notice.',
  },
  {
    name: 'webhook.test',
    enumValue: null,
    kind: 'test',
    description: 'Sent by sendTestEvent to one webhook, to check that it receives and verifies deliveries.',
  },
] as const;

type Entry = (typeof EVENT_CATALOGUE)[number];
type Subscribable = Extract<Entry, { enumValue: string }>;

/** The event types a webhook can subscribe to (every one with a WebhookEvent value). */
export type WebhookEventType = Subscribable['name'];

/** The workspace-wide notices the service emits. */
export type NoticeType = Extract<Entry, { kind: 'notice' }>['name'];

const subscribable = EVENT_CATALOGUE.filter((e): e is Subscribable => e.enumValue !== null);

export const WEBHOOK_EVENTS = subscribable.map((e) => e.name) as [WebhookEventType, ...WebhookEventType[]];

/** Which types are notices, for the rules that treat them differently (not publishable, never about themselves). */
export const NOTICE_TYPES: ReadonlySet<string> = new Set(
  EVENT_CATALOGUE.filter((e) => e.kind === 'notice').map((e) => e.name),
);

/** The GraphQL enum's values: CONVERSATION_ENDED for conversation_ended, WEBHOOK_DISABLED for webhook.disabled… */
export function eventEnumValues() {
  return Object.fromEntries(subscribable.map((e) => [e.enumValue, { value: e.name, description: e.description }])) as {
    [E in Subscribable as E['enumValue']]: { value: E['name']; description: string };
  };
}
