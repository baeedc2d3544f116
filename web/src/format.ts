import type { DeliveryStatus, WebhookEvent, WebhookHealthState } from './gql/graphql.js';

export const STATUS_WORDS: Record<DeliveryStatus, string> = {
  SUCCEEDED: 'Succeeded',
  FAILED: 'Failed',
  PENDING: 'Pending',
};

export const HEALTH_WORDS: Record<WebhookHealthState, string> = {
  HEALTHY: 'Healthy',
  DEGRADED: 'Degraded',
  FAILING: 'Failing',
};

/** The wire name receivers see (`conversation_ended`, `webhook.disabled`) of a subscribable event. */
export function wireName(event: WebhookEvent): string {
  if (event === 'WEBHOOK_DISABLED') return 'webhook.disabled';
  if (event === 'DELIVERY_FAILED') return 'delivery.failed';
  return event.toLowerCase();
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function formatTime(iso: string | null | undefined): string {
  return iso ? dateTime.format(new Date(iso)) : '—';
}

/** A bounded count as people read it: "10,000+" when the list is longer than was counted. */
export function formatCount({ count, exact }: { count: number; exact: boolean }): string {
  return `${count.toLocaleString('en')}${exact ? '' : '+'}`;
}
