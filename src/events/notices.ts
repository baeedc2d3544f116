import type { Sql } from '../db/sql.js';
import { newId } from '../lib/ids.js';
import { enqueueNoticeDeliveries } from '../queue/enqueue.js';
import type { OnEnded } from '../queue/record.js';
import { NOTICE_TYPES, type NoticeType } from '../webhooks/event-types.js';
import { eventPayload } from './payload.js';

/**
 * Operational notices: events the service emits about a workspace's own webhooks, in the
 * transaction that makes the change they report (record.ts), as real events: stored,
 * listed, signed and delivered like any other.
 *
 * Workspace-wide: every active webhook of the workspace subscribed to the type gets one,
 * whatever its agent, except the webhook the notice is about. Loops are bounded by two
 * rules: a notice is never about its own recipient, and a delivery of a notice that fails
 * for good emits no `delivery.failed` (so two broken webhooks subscribed to each other's
 * failures exchange one notice each, not an endless chain). `webhook.disabled` is emitted
 * whatever was being delivered: a webhook is turned off once, and the ones already off
 * receive nothing.
 */
export type Notice = {
  type: NoticeType;
  workspaceId: string;
  /** The webhook the notice is about: it never receives it. */
  aboutWebhookId: string;
  /** The agent of that webhook: the payload's `agentId`. */
  agentId: string;
  data: Record<string, unknown>;
};

/** `webhook.disabled`: the service turned a webhook off. */
export function webhookDisabled(webhook: {
  id: string;
  workspaceId: string;
  agentId: string;
  name: string;
  url: string;
  reason: string;
}): Notice {
  return {
    type: 'webhook.disabled',
    workspaceId: webhook.workspaceId,
    aboutWebhookId: webhook.id,
    agentId: webhook.agentId,
    data: { webhookId: webhook.id, name: webhook.name, url: webhook.url, reason: webhook.reason },
  };
}

/** `delivery.failed`: a delivery failed for good (schedule spent, or 410 Gone). */
export function deliveryFailed(delivery: {
  id: string;
  workspaceId: string;
  agentId: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
}): Notice {
  return {
    type: 'delivery.failed',
    workspaceId: delivery.workspaceId,
    aboutWebhookId: delivery.webhookId,
    agentId: delivery.agentId,
    data: {
      deliveryId: delivery.id,
      eventId: delivery.eventId,
      eventType: delivery.eventType,
      webhookId: delivery.webhookId,
      attempts: delivery.attempts,
      lastStatusCode: delivery.lastStatusCode,
      lastError: delivery.lastError,
    },
  };
}

/** The notices about what a batch of attempt outcomes ended, in its transaction (queue/record.ts). */
export const emitOutcomeNotices: OnEnded = (tx, ended) =>
  emitNotices(tx, [
    ...ended.turnedOff.map((w) => webhookDisabled({ ...w, reason: w.disabledReason })),
    ...ended.failedForGood
      // No notice about a notice that could not be delivered: that is what bounds the chains.
      .filter((d) => !NOTICE_TYPES.has(d.eventType))
      .map((d) => deliveryFailed({ ...d, attempts: d.attemptCount, lastStatusCode: d.statusCode, lastError: d.error })),
  ]);

/** Stores the notices as events and queues their deliveries, in the caller's transaction: two statements however many. */
export async function emitNotices(tx: Sql, notices: readonly Notice[]): Promise<void> {
  if (notices.length === 0) return;
  const createdAt = new Date();
  const rows = notices.map((notice) => {
    const id = newId('event');
    const payload = eventPayload(
      { id, type: notice.type, createdAt, workspaceId: notice.workspaceId, agentId: notice.agentId },
      notice.data,
    );
    return { id, payload, ...notice };
  });
  // Only notices someone receives are stored: a mass failure in a workspace that
  // subscribes to none writes nothing more.
  await tx`/* events.insert-notices */
    insert into events (id, workspace_id, agent_id, type, payload, created_at)
    select n.id, n.workspace_id, n.agent_id, n.type, n.payload, ${createdAt}
    from unnest(${rows.map((r) => r.id)}::text[], ${rows.map((r) => r.workspaceId)}::text[],
      ${rows.map((r) => r.agentId)}::text[], ${rows.map((r) => r.type)}::text[], ${rows.map((r) => r.payload)}::text[],
      ${rows.map((r) => r.aboutWebhookId)}::text[])
      as n(id, workspace_id, agent_id, type, payload, about_webhook_id)
    where exists (
      select 1 from webhooks w
      where w.workspace_id = n.workspace_id and w.active and n.type = any(w.events) and w.id <> n.about_webhook_id
    )`;
  await enqueueNoticeDeliveries(
    tx,
    rows.map((r) => ({ eventId: r.id, workspaceId: r.workspaceId, type: r.type, aboutWebhookId: r.aboutWebhookId })),
  );
}
