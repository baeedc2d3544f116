import type { ConditionOperator, DeliveryStatus, WebhookEvent, WebhookHealthState } from './gql/graphql.js';

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

/** A bounded count as people read it: "1,000+" when the list is longer than was counted. */
export function formatCount({ count, exact }: { count: number; exact: boolean }): string {
  return `${count.toLocaleString('en')}${exact ? '' : '+'}`;
}

const OPERATOR_SIGNS: Record<ConditionOperator, string> = {
  EQ: '=',
  NE: '≠',
  GT: '>',
  GTE: '≥',
  LT: '<',
  LTE: '≤',
  IN: 'in',
  EXISTS: 'exists',
};

/** A webhook's condition as a person reads it: `analysis.sentiment = "negative"`. */
export function describeCondition({
  path,
  operator,
  value,
}: {
  path: string;
  operator: ConditionOperator;
  value?: unknown;
}) {
  if (operator === 'EXISTS') return `${path} exists`;
  return `${path} ${OPERATOR_SIGNS[operator]} ${JSON.stringify(value)}`;
}

const shortDateTime = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
  second: '2-digit',
});

/** For table cells: without the year, so a row of times fits beside the rest. */
export function formatShortTime(iso: string): string {
  return shortDateTime.format(new Date(iso));
}
