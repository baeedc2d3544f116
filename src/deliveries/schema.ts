import type { Sql } from '../db/sql.js';
import { publishTestEvent } from '../events/publish.js';
import { findEvents } from '../events/reads.js';
import { EventRef } from '../events/schema.js';
import { builder, type Context } from '../graphql/builder.js';
import {
  connectionCost,
  connectionOf,
  type PageArgs,
  pageArgs,
  resolvePage,
  resolvePages,
  timeRangeArgs,
  timeRangeIssues,
} from '../graphql/connection.js';
import {
  badUserInput,
  fellBehind,
  findOwn,
  inIdOrder,
  mustFindOwn,
  tooManySubscriptions,
  unauthenticated,
} from '../graphql/errors.js';
import { NodeRef } from '../graphql/node.js';
import { startSubscriptionEvent } from '../graphql/request-state.js';
import { isId } from '../lib/ids.js';
import { FellBehind } from '../live/delivery-feed.js';
import { KeyRevoked, type LiveStream, stoppable } from '../live/streams.js';
import { recoverFailedDeliveries } from '../queue/recover.js';
import { withPublishSpans } from '../telemetry/tracing.js';
import { WebhookRef } from '../webhooks/schema.js';
import { findWebhook, findWebhooks } from '../webhooks/store.js';
import * as store from './store.js';

const DEFAULT_ATTEMPTS_SHOWN = 25;
const MAX_ATTEMPTS_SHOWN = 100;
const attemptsShown = (args: { last?: number | null }) =>
  Math.min(Math.max(args.last ?? DEFAULT_ATTEMPTS_SHOWN, 1), MAX_ATTEMPTS_SHOWN);

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
  interfaces: [NodeRef],
  description: 'The delivery of one event to one webhook, with every attempt made.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Unique id: "dlv_" + 16 base62 characters.' }),
    // Loaded for a whole page at once: a page of 100 deliveries reads its webhooks, its
    // events and their attempts in a statement each, not in one per delivery.
    webhook: t.loadable({
      type: WebhookRef,
      description: 'The webhook delivered to.',
      load: async (ids: string[], ctx) => {
        const webhooks = await findWebhooks(ctx.sql, ctx.workspaceId, ids);
        ctx.budget.spend(webhooks.length);
        return inIdOrder('webhook', ids, webhooks);
      },
      resolve: (delivery) => delivery.webhookId,
    }),
    event: t.loadable({
      type: EventRef,
      description: 'The event delivered.',
      load: async (ids: string[], ctx) => {
        const events = await findEvents(ctx.sql, ctx.workspaceId, ids);
        ctx.budget.spend(events.length);
        return inIdOrder('event', ids, events);
      },
      resolve: (delivery) => delivery.eventId,
    }),
    status: t.field({ type: DeliveryStatus, description: 'Where the delivery stands.', resolve: (d) => d.status }),
    attemptCount: t.exposeInt('attemptCount', { description: 'Attempts made so far.' }),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'When the next attempt is due; null once the delivery has succeeded or failed, and while it waits for the delivery before it in its conversation (webhooks with ordering CONVERSATION).',
      resolve: (delivery) => (delivery.waiting ? null : delivery.nextAttemptAt),
    }),
    attempts: t.loadableList({
      type: DeliveryAttempt,
      description: 'The most recent attempts, oldest first.',
      args: {
        last: t.arg.int({
          description: `How many of the most recent attempts to return: 1 to ${MAX_ATTEMPTS_SHOWN}, default ${DEFAULT_ATTEMPTS_SHOWN}.`,
          validate: {
            min: [1, { message: 'must be at least 1' }],
            max: [MAX_ATTEMPTS_SHOWN, { message: `must be at most ${MAX_ATTEMPTS_SHOWN}` }],
          },
        }),
      },
      complexity: (args) => ({ field: 1, multiplier: attemptsShown(args) }),
      byPath: true,
      load: async (ids: string[], ctx, args) => {
        const attempts = await store.listAttemptsOf(ctx.sql, ids, attemptsShown(args));
        ctx.budget.spend([...attempts.values()].reduce((n, list) => n + list.length, 0));
        return ids.map((id) => attempts.get(id) ?? []);
      },
      resolve: (delivery) => delivery.id,
    }),
    createdAt: t.expose('createdAt', {
      type: 'DateTime',
      description: 'When the delivery was created (with its event).',
    }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the delivery last changed.' }),
  }),
});

const DeliveryConnection = connectionOf('Delivery', DeliveryRef, 'delivery', 'deliveries');

/** `deliveries` of a webhook or an event: every parent's page in one statement. */
function deliveriesOf(parent: store.DeliveryParent) {
  return async (parentIds: string[], ctx: Context, args: PageArgs & { status?: store.DeliveryStatus | null }) => {
    const filter = { status: args.status, agentIds: ctx.access.agentIds };
    return resolvePages(
      parentIds,
      args,
      ctx.budget,
      (window, limit) => store.listDeliveriesOf(ctx.sql, ctx.workspaceId, parent, parentIds, filter, window, limit),
      (atMost) => store.countDeliveriesOf(ctx.sql, ctx.workspaceId, parent, parentIds, filter, atMost),
    );
  };
}

builder.objectField(WebhookRef, 'deliveries', (t) =>
  t.loadable({
    type: DeliveryConnection,
    description: 'Deliveries to this webhook, newest first.',
    args: {
      status: t.arg({ type: DeliveryStatus, description: 'Only deliveries in this state.' }),
      ...pageArgs(t.arg),
    },
    complexity: connectionCost,
    byPath: true,
    load: deliveriesOf('webhook'),
    resolve: (webhook) => webhook.id,
  }),
);

builder.objectField(EventRef, 'deliveries', (t) =>
  t.loadable({
    type: DeliveryConnection,
    description: 'Deliveries of this event, one per webhook it went to, newest first.',
    args: {
      status: t.arg({ type: DeliveryStatus, description: 'Only deliveries in this state.' }),
      ...pageArgs(t.arg),
    },
    complexity: connectionCost,
    byPath: true,
    load: deliveriesOf('event'),
    resolve: (event) => event.id,
  }),
);

builder.queryField('delivery', (t) =>
  t.field({
    type: DeliveryRef,
    nullable: true,
    description: 'One delivery of your workspace, or null when there is none with this id.',
    args: { id: t.arg.id({ required: true, description: 'The delivery id ("dlv_…").' }) },
    resolve: (_root, { id }, ctx) =>
      findOwn('delivery', id, (id) => store.findDelivery(ctx.sql, ctx.workspaceId, id, ctx.access.agentIds)),
  }),
);

builder.queryField('deliveries', (t) =>
  t.field({
    type: DeliveryConnection,
    description:
      'Deliveries of your workspace, to any webhook, newest first; the filters combine (e.g. every FAILED delivery of the last day). Each is served by an index, so the first page costs the same however many deliveries there are.',
    complexity: connectionCost,
    args: {
      status: t.arg({ type: DeliveryStatus, description: 'Only deliveries in this state.' }),
      webhookId: t.arg.id({
        description: 'Only deliveries to this webhook ("wh_…"); one of another workspace or none at all lists nothing.',
      }),
      ...timeRangeArgs(t.arg, 'deliveries'),
      ...pageArgs(t.arg),
    },
    resolve: async (_root, args, ctx) => {
      const search = {
        status: args.status,
        webhookId: args.webhookId,
        since: args.since,
        until: args.until,
        agentIds: ctx.access.agentIds,
      };
      // An id of no webhook's shape is not looked up: it lists nothing, as an unknown id does.
      const matchesNothing = args.webhookId != null && !isId('webhook', args.webhookId);
      return resolvePage(
        args,
        ctx.budget,
        async (window, limit) =>
          matchesNothing ? [] : store.searchDeliveries(ctx.sql, ctx.workspaceId, search, window, limit),
        async (atMost) =>
          matchesNothing ? 0 : store.countSearchedDeliveries(ctx.sql, ctx.workspaceId, search, atMost),
        timeRangeIssues(search),
      );
    },
  }),
);

builder.subscriptionField('deliveryUpdates', (t) =>
  t.field({
    type: DeliveryRef,
    description:
      'Every change to a delivery of your workspace (created, attempted, succeeded, failed, retried), as it happens, on whichever instance made it.',
    args: { webhookId: t.arg.id({ description: 'Only deliveries to this webhook.' }) },
    subscribe: (_root, { webhookId }, ctx) => {
      // Refused here, before the stream starts, so the client gets an answer, not an empty stream.
      // A session's streams count among its key's (access.keyId); each ends with its session.
      if (!ctx.liveStreams.hasRoom(ctx.access.keyId)) throw tooManySubscriptions(ctx.config.subscriptionsPerKey);
      // The slot is taken now, not when the stream is first read: subscriptions that arrive
      // together would otherwise all find room before any of them had opened.
      const opening = ctx.liveStreams.open(ctx.apiKeyId, ctx.access.keyId, ctx.access.expiresAt);
      // Freed however it ends, also if it is stopped or its client leaves before the first read.
      const release = () =>
        void opening.then(
          (stream) => stream.close(),
          () => {},
        );
      ctx.request.signal.addEventListener('abort', release, { once: true });
      return stoppable((stopped) => deliveryUpdates(ctx, webhookId ?? null, stopped, opening), release);
    },
    resolve: (delivery) => delivery,
  }),
);

/** The current state of each changed delivery, until the client leaves or stops it, or its key is revoked. */
async function* deliveryUpdates(
  ctx: Context,
  webhookId: string | null,
  stopped: AbortSignal,
  opening: Promise<LiveStream>,
) {
  const stream = await opening;
  // A generator waiting for the next change cannot be stopped from outside until that
  // change comes, so the feed also watches the request: a client that leaves frees its
  // slot at once, not at the workspace's next delivery.
  const until = AbortSignal.any([stream.signal, ctx.request.signal, stopped]);
  try {
    // A key that has been sent its read rate's worth waits; its feed's queue fills meanwhile,
    // and past its bound the feed ends (FellBehind) rather than growing.
    const pace = (signal: AbortSignal) => ctx.readRate.paid(ctx.access.keyId, signal);
    // A portal session hears only of its agents' deliveries: its feed queues no others, and
    // each page is read through the same filter.
    const pages = ctx.deliveryFeed.subscribe({
      workspaceId: ctx.workspaceId,
      webhookId,
      agents: ctx.access.agentIds,
      signal: until,
      pace,
    });
    for await (const page of pages) {
      // One query per page of changes. If the feed falls behind while this page is sent, the
      // rest of the page is dropped and the feed ends (FellBehind) at once.
      const sending = AbortSignal.any([until, page.fellBehind]);
      for (const delivery of await store.findDeliveries(ctx.sql, ctx.workspaceId, page.ids, ctx.access.agentIds)) {
        // Each message waits for the rate, not only each page: twenty streams of one key
        // would otherwise send twenty pages before the first debt was known.
        await pace(sending);
        if (sending.aborted) break;
        // Each change is its own answer: nothing cached or spent for the previous one counts.
        startSubscriptionEvent(ctx);
        yield delivery;
      }
      // A page is sent without a pause; between pages other requests get the event loop.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } catch (error) {
    if (stopped.aborted) return;
    // The client's last message: why its stream ends.
    if (error instanceof KeyRevoked) throw unauthenticated(error.message);
    if (error instanceof FellBehind) throw fellBehind(error.message);
    throw error;
  } finally {
    stream.close();
  }
}

builder.mutationFields((t) => ({
  sendTestEvent: t.field({
    type: DeliveryRef,
    description:
      'Sends a `webhook.test` event to one webhook now, whatever events it subscribes to and even while it is paused. Returns its delivery.',
    args: { webhookId: t.arg.id({ required: true, description: 'The webhook to test.' }) },
    resolve: async (_root, { webhookId }, ctx) => {
      const webhook = await mustFindOwn('webhook', webhookId, (id) => findWebhook(ctx.sql, ctx.workspaceId, id));
      return withPublishSpans(
        ctx.tracing,
        ctx.workspaceId,
        ['webhook.test'],
        async ([traceparent]) => {
          // Deleted since it was read: as if it had not been found.
          const read = (tx: Sql, id: string) => store.findDelivery(tx, ctx.workspaceId, id);
          return mustFindOwn('webhook', webhookId, () => publishTestEvent(ctx.sql, webhook, traceparent, read));
        },
        (delivery) => [{ eventId: delivery.eventId, webhooks: 1, replayed: false }],
      );
    },
  }),
  recoverDeliveries: t.int({
    description:
      "Gives every FAILED delivery of a webhook created in [since, until) a new attempt now, oldest first, and returns how many. Use it once an endpoint that was down works again. Safe to call twice (recovered deliveries are PENDING, no longer FAILED). They follow the webhook's state: held while it is paused, paced by its circuit breaker and rate limit.",
    args: {
      webhookId: t.arg.id({ required: true, description: 'The webhook whose failed deliveries to send again.' }),
      since: t.arg({
        type: 'DateTime',
        required: true,
        description:
          'Deliveries created at or after this; no earlier than the retention period (RETENTION, 30 days) ago.',
      }),
      until: t.arg({
        type: 'DateTime',
        required: false,
        description: 'Deliveries created before this; default now. Not before `since`.',
      }),
    },
    resolve: async (_root, { webhookId, since, until }, ctx) => {
      const now = new Date();
      const end = until && until < now ? until : now;
      if (until && since > until) throw badUserInput([{ path: ['since'], message: 'must not be after until' }]);
      if (since.getTime() < now.getTime() - ctx.config.retentionMs) {
        throw badUserInput([
          { path: ['since'], message: 'must be within the retention period: older deliveries are already pruned' },
        ]);
      }
      const webhook = await mustFindOwn('webhook', webhookId, (id) => findWebhook(ctx.sql, ctx.workspaceId, id));
      return recoverFailedDeliveries(ctx.sql, ctx.workspaceId, webhook.id, since, end);
    },
  }),
  retryDelivery: t.field({
    type: DeliveryRef,
    description:
      'Makes a new attempt now, also for a delivery that has FAILED, and even while the webhook is paused. The delivery is PENDING until the attempt is recorded.',
    args: { id: t.arg.id({ required: true, description: 'The delivery to retry.' }) },
    resolve: async (_root, { id }, ctx) => {
      return mustFindOwn('delivery', id, (id) => store.retryDelivery(ctx.sql, ctx.workspaceId, id));
    },
  }),
}));
