import { EventRef } from '../events/schema.js';
import { findEvent, publishTestEvent } from '../events/store.js';
import { builder } from '../graphql/builder.js';
import { connectionOf, pageArgs, resolvePage } from '../graphql/connection.js';
import { notFound } from '../graphql/errors.js';
import { isId } from '../lib/ids.js';
import { WebhookRef } from '../webhooks/schema.js';
import { findWebhook } from '../webhooks/store.js';
import * as store from './store.js';

const DeliveryStatus = builder.enumType('DeliveryStatus', {
  description: 'Where a delivery stands.',
  values: {
    PENDING: { value: 'pending', description: 'Not yet acknowledged; an attempt is due or scheduled.' },
    SUCCEEDED: { value: 'succeeded', description: 'The endpoint answered 2xx within the timeout.' },
    FAILED: { value: 'failed', description: 'Every scheduled attempt failed, or the endpoint answered 410 Gone.' },
  } as const,
});

const DeliveryAttempt = builder.objectRef<store.Attempt>('DeliveryAttempt').implement({
  description: 'One HTTP request of a delivery, and how the endpoint answered.',
  fields: (t) => ({
    attemptedAt: t.expose('attemptedAt', { type: 'DateTime', description: 'When the request started.' }),
    statusCode: t.exposeInt('statusCode', {
      nullable: true,
      description: 'HTTP status, or null when no response came.',
    }),
    durationMs: t.exposeInt('durationMs', {
      description: 'From the start of the request to the end of the recorded response.',
    }),
    error: t.exposeString('error', {
      nullable: true,
      description: 'Why the attempt failed (e.g. "HTTP 500", "timeout…", "connection refused"); null on success.',
    }),
    responseBody: t.exposeString('responseBody', {
      nullable: true,
      description: 'The first 1 KiB of the response body.',
    }),
  }),
});

export const DeliveryRef = builder.objectRef<store.Delivery>('Delivery');

DeliveryRef.implement({
  description: 'The delivery of one event to one webhook, with every attempt made.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Unique id: "dlv_" + 16 base62 characters.' }),
    webhook: t.field({
      type: WebhookRef,
      description: 'The webhook delivered to.',
      resolve: async (delivery, _args, ctx) => {
        const webhook = await findWebhook(ctx.sql, ctx.workspaceId, delivery.webhookId);
        if (!webhook) throw notFound('webhook', delivery.webhookId);
        return webhook;
      },
    }),
    event: t.field({
      type: EventRef,
      description: 'The event delivered.',
      resolve: async (delivery, _args, ctx) => {
        const event = await findEvent(ctx.sql, ctx.workspaceId, delivery.eventId);
        if (!event) throw notFound('event', delivery.eventId);
        return event;
      },
    }),
    status: t.field({ type: DeliveryStatus, description: 'Where the delivery stands.', resolve: (d) => d.status }),
    attemptCount: t.exposeInt('attemptCount', { description: 'Attempts made so far.' }),
    nextAttemptAt: t.expose('nextAttemptAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the next attempt is due; null once the delivery has succeeded or failed.',
    }),
    attempts: t.field({
      type: [DeliveryAttempt],
      description: 'Every attempt, oldest first.',
      resolve: (delivery, _args, ctx) => store.listAttempts(ctx.sql, delivery.id),
    }),
    createdAt: t.expose('createdAt', {
      type: 'DateTime',
      description: 'When the delivery was created (with its event).',
    }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the delivery last changed.' }),
  }),
});

const DeliveryConnection = connectionOf('Delivery', DeliveryRef, 'delivery');

builder.objectField(WebhookRef, 'deliveries', (t) =>
  t.field({
    type: DeliveryConnection,
    description: 'Deliveries to this webhook, newest first.',
    args: {
      status: t.arg({ type: DeliveryStatus, description: 'Only deliveries in this state.' }),
      ...pageArgs(t.arg),
    },
    resolve: (webhook, args, ctx) => {
      const filter = { webhookId: webhook.id, status: args.status };
      return resolvePage(
        args,
        (limit, after) => store.listDeliveries(ctx.sql, ctx.workspaceId, filter, limit, after),
        () => store.countDeliveries(ctx.sql, ctx.workspaceId, filter),
      );
    },
  }),
);

builder.objectField(EventRef, 'deliveries', (t) =>
  t.field({
    type: DeliveryConnection,
    description: 'Deliveries of this event, one per webhook it went to, newest first.',
    args: pageArgs(t.arg),
    resolve: (event, args, ctx) => {
      const filter = { eventId: event.id };
      return resolvePage(
        args,
        (limit, after) => store.listDeliveries(ctx.sql, ctx.workspaceId, filter, limit, after),
        () => store.countDeliveries(ctx.sql, ctx.workspaceId, filter),
      );
    },
  }),
);

builder.queryField('delivery', (t) =>
  t.field({
    type: DeliveryRef,
    nullable: true,
    description: 'One delivery of your workspace, or null when there is none with this id.',
    args: { id: t.arg.id({ required: true, description: 'The delivery id ("dlv_…").' }) },
    resolve: (_root, { id }, ctx) =>
      isId('delivery', String(id)) ? store.findDelivery(ctx.sql, ctx.workspaceId, String(id)) : null,
  }),
);

builder.subscriptionField('deliveryUpdates', (t) =>
  t.field({
    type: DeliveryRef,
    description:
      'Every change to a delivery of your workspace (created, attempted, succeeded, failed, retried), as it happens, on whichever instance made it.',
    args: { webhookId: t.arg.id({ description: 'Only deliveries to this webhook.' }) },
    subscribe: async function* (_root, { webhookId }, ctx) {
      const batches = ctx.deliveryFeed.subscribe(ctx.workspaceId, webhookId == null ? null : String(webhookId));
      for await (const ids of batches) {
        // The current state of each changed delivery, read in one query per batch.
        yield* await store.findDeliveries(ctx.sql, ctx.workspaceId, ids);
      }
    },
    resolve: (delivery) => delivery,
  }),
);

builder.mutationFields((t) => ({
  sendTestEvent: t.field({
    type: DeliveryRef,
    description:
      'Sends a `webhook.test` event to one webhook now, whatever events it subscribes to and even while it is paused. Returns its delivery.',
    args: { webhookId: t.arg.id({ required: true, description: 'The webhook to test.' }) },
    resolve: async (_root, { webhookId }, ctx) => {
      const id = String(webhookId);
      const webhook = isId('webhook', id) ? await findWebhook(ctx.sql, ctx.workspaceId, id) : null;
      if (!webhook) throw notFound('webhook', id);
      const deliveryId = await publishTestEvent(ctx.sql, webhook);
      return (await store.findDelivery(ctx.sql, ctx.workspaceId, deliveryId)) as store.Delivery;
    },
  }),
  retryDelivery: t.field({
    type: DeliveryRef,
    description:
      'Makes a new attempt now, also for a delivery that has FAILED, and even while the webhook is paused. The delivery is PENDING until the attempt is recorded.',
    args: { id: t.arg.id({ required: true, description: 'The delivery to retry.' }) },
    resolve: async (_root, { id }, ctx) => {
      const deliveryId = String(id);
      const delivery = isId('delivery', deliveryId)
        ? await store.retryDelivery(ctx.sql, ctx.workspaceId, deliveryId)
        : null;
      if (!delivery) throw notFound('delivery', deliveryId);
      return delivery;
    },
  }),
}));
