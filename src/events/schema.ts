import { createContextCache } from '@pothos/core';
import DataLoader from 'dataloader';
import { z } from 'zod';
import { builder, type Context } from '../graphql/builder.js';
import {
  connectionCost,
  connectionOf,
  pageArgs,
  resolvePage,
  timeRangeArgs,
  timeRangeIssues,
} from '../graphql/connection.js';
import { badUserInput, findOwn, goneMeanwhile } from '../graphql/errors.js';
import { CHARGES_PUBLISH_LIMIT } from '../graphql/mutation-rate.js';
import { NodeRef } from '../graphql/node.js';
import { RawJson } from '../graphql/raw-json.js';
import { CHARGES_OWN_BYTES } from '../graphql/response-bytes.js';
import { type PublishedFacts, withPublishSpans } from '../telemetry/tracing.js';
import { NOTICE_TYPES, type WebhookEventType } from '../webhooks/event-types.js';
import { lineOfText, webhookRules } from '../webhooks/rules.js';
import { WebhookEvent } from '../webhooks/schema.js';
import { EVENT_TYPE_INFO, type EventTypeInfo } from './catalogue.js';
import { payloadData } from './payload.js';
import { IdempotencyConflict, type Published, publishEvent, publishEvents } from './publish.js';
import { countSearchedEvents, type EventRecord, findEvent, findPayloads, searchEvents } from './reads.js';

export const MAX_DATA_BYTES = 256 * 1024;
/** Deeper JSON is refused: no receiver needs it, and walking it recursively would overflow the stack. */
export const MAX_DATA_DEPTH = 64;

/**
 * What is wrong with the shape of `value`, found without recursion: objects or arrays
 * nested more than `max` levels, or a number JSON cannot hold (1e400 reads as Infinity,
 * which would be stored as null).
 */
function shapeProblem(value: unknown, max: number): string | undefined {
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, depth] = next;
    if (typeof item === 'number' && !Number.isFinite(item)) return 'must hold only finite numbers';
    if (typeof item !== 'object' || item === null) continue;
    if (depth > max) return `must not be nested more than ${max} levels deep`;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return undefined;
}

export const EventRef = builder.objectRef<EventRecord>('Event');

/**
 * Payloads are read only when `data` is selected, for a whole page at once; each is a
 * row of the request's read budget, and its bytes are charged every time it is sent.
 */
const payloadLoader = createContextCache(
  (ctx: Context) =>
    new DataLoader<string, string>(async (ids) => {
      const payloads = await findPayloads(ctx.sql, ctx.workspaceId, ids);
      ctx.budget.spend(payloads.size);
      return ids.map((id) => payloads.get(id) ?? goneMeanwhile('event', id));
    }),
);

EventRef.implement({
  interfaces: [NodeRef],
  description:
    'Something that happened to a conversation of one of your agents, delivered to the webhooks subscribed to it.',
  fields: (t) => ({
    id: t.exposeID('id', {
      description: 'Unique id: "evt_" + 16 base62 characters. Sent as `webhook-id` with every delivery of this event.',
    }),
    type: t.exposeString('type', {
      description:
        'The event type as receivers see it: conversation_started, conversation_ended, conversation_analysed, the notices webhook.disabled and delivery.failed, or webhook.test (see eventTypes).',
    }),
    agentId: t.exposeString('agentId', { description: 'The agent whose conversation this event is about.' }),
    conversationId: t.exposeString('conversationId', {
      nullable: true,
      description:
        "The conversation it belongs to, when published with one; sent in the payload as `conversationId`. Webhooks with ordering CONVERSATION receive one conversation's events strictly in publish order.",
    }),
    data: t.field({
      type: 'JSON',
      description: 'The event data as published.',
      // Up to 256 KiB to read and send: weighs like a page of small objects.
      complexity: 10,
      // Every copy is sent, so every copy is charged (an id asked for twice included).
      extensions: CHARGES_OWN_BYTES,
      resolve: async (event, _args, ctx) => {
        const payload = event.payload ?? (await payloadLoader(ctx).load(event.id));
        ctx.budget.spend(0, payload.length);
        // The stored text as it is: a JSON answer sends it without parsing it (raw-json.ts).
        return new RawJson(payloadData(payload));
      },
    }),
    createdAt: t.expose('createdAt', {
      type: 'DateTime',
      description: 'When the event was published; the `timestamp` of its payload.',
    }),
  }),
});

const PublishEventInput = builder.inputType('PublishEventInput', {
  description: 'A conversation event to deliver to every matching webhook.',
  fields: (t) => ({
    agentId: t.string({
      required: true,
      description: 'The agent the event is about, 1 to 64 characters. Only webhooks of this agent receive it.',
      validate: { schema: webhookRules.agentId },
    }),
    type: t.field({
      type: WebhookEvent,
      required: true,
      description:
        'What happened: a conversation event (notices such as WEBHOOK_DISABLED are emitted by the service only).',
    }),
    conversationId: t.string({
      required: false,
      description:
        'Optional: the conversation this event belongs to, 1 to 128 characters. Sent in the payload as `conversationId`; webhooks with ordering CONVERSATION get the events of one conversation one at a time, in publish order.',
      validate: { schema: lineOfText(1, 128) },
    }),
    data: t.field({
      type: 'JSON',
      required: true,
      description:
        "The event data: a JSON object of at most 256 KiB and 64 levels of nesting, delivered as the payload's `data`.",
      validate: {
        schema: z.unknown().superRefine((value, ctx) => {
          // In this order: the size check serialises the value, which a deep one would overflow.
          const problem =
            typeof value !== 'object' || value === null || Array.isArray(value)
              ? 'must be a JSON object'
              : (shapeProblem(value, MAX_DATA_DEPTH) ??
                (Buffer.byteLength(JSON.stringify(value)) > MAX_DATA_BYTES
                  ? 'must be at most 256 KiB of JSON'
                  : undefined));
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
      },
    }),
    idempotencyKey: t.string({
      required: false,
      description:
        'Optional. Publishing again with the same key within 24 hours returns the first event and delivers nothing twice. 1 to 255 characters.',
      validate: { schema: lineOfText(1, 255) },
    }),
  }),
  validate: {
    refine: [
      [
        (input) => !NOTICE_TYPES.has(input.type as string),
        { message: 'is an operational notice, which only the service emits', path: ['type'] },
      ],
    ],
  },
});

builder.queryField('event', (t) =>
  t.field({
    type: EventRef,
    nullable: true,
    description: 'One event of your workspace, or null when there is none with this id.',
    args: { id: t.arg.id({ required: true, description: 'The event id ("evt_…").' }) },
    resolve: (_root, { id }, ctx) =>
      findOwn('event', id, (id) => findEvent(ctx.sql, ctx.workspaceId, id, ctx.access.agentIds)),
  }),
);

const EventConnection = connectionOf('Event', EventRef, 'event');

builder.queryField('events', (t) =>
  t.field({
    type: EventConnection,
    description:
      'Events of your workspace, newest first; the filters combine. Each filter is served by an index, so the first page costs the same however many events there are.',
    complexity: connectionCost,
    args: {
      agentId: t.arg.string({
        description: 'Only events of this agent.',
        validate: { schema: webhookRules.agentId },
      }),
      type: t.arg({ type: WebhookEvent, description: 'Only events of this type.' }),
      ...timeRangeArgs(t.arg, 'events'),
      ...pageArgs(t.arg),
    },
    resolve: (_root, args, ctx) => {
      const search = {
        agentId: args.agentId,
        type: args.type,
        since: args.since,
        until: args.until,
        agentIds: ctx.access.agentIds,
      };
      return resolvePage(
        args,
        ctx.budget,
        (window, limit) => searchEvents(ctx.sql, ctx.workspaceId, search, window, limit),
        (atMost) => countSearchedEvents(ctx.sql, ctx.workspaceId, search, atMost),
        timeRangeIssues(search),
      );
    },
  }),
);

/** The stored event for a validated input of this workspace. */
const newEvent = (ctx: Context, input: typeof PublishEventInput.$inferInput) => ({
  workspaceId: ctx.workspaceId,
  agentId: input.agentId,
  conversationId: input.conversationId,
  type: input.type,
  data: input.data,
  idempotencyKey: input.idempotencyKey,
});

/** A reused idempotency key is the caller's mistake: named at its place in the input. */
function idempotencyConflict(error: unknown, path: (string | number)[]): unknown {
  if (!(error instanceof IdempotencyConflict)) return error;
  return badUserInput([
    { path: [...path, 'idempotencyKey'], message: 'was already used in the last 24 hours for a different event' },
  ]);
}

export const MAX_EVENTS_PER_BATCH = 100;

/** What a publish span records of a published event. */
const publishedFacts = ({ event, webhooks, created }: Published): PublishedFacts => ({
  eventId: event.id,
  webhooks,
  replayed: !created,
});

builder.mutationFields((t) => ({
  publishEvent: t.field({
    type: EventRef,
    description:
      'Publishes a conversation event: it is stored, and delivered to every active webhook of the agent subscribed to its type.',
    args: { input: t.arg({ type: PublishEventInput, required: true, description: 'The event.' }) },
    extensions: CHARGES_PUBLISH_LIMIT,
    resolve: async (_root, { input }, ctx) => {
      ctx.mutationRate.publish(ctx.access.keyId, 1);
      try {
        const { event, webhooks } = await withPublishSpans(
          ctx.tracing,
          ctx.workspaceId,
          [input.type],
          ([traceparent]) => publishEvent(ctx.sql, { ...newEvent(ctx, input), traceparent }),
          (published) => [publishedFacts(published)],
        );
        ctx.mutationRate.fannedOut(ctx.access.keyId, webhooks);
        return event;
      } catch (error) {
        throw idempotencyConflict(error, ['input']);
      }
    },
  }),
  publishEvents: t.field({
    type: [EventRef],
    description: `Publishes 1 to ${MAX_EVENTS_PER_BATCH} events in one transaction, in order: all of them, or none when any is invalid. Returns them in the order given; an item whose idempotency key was used in the last 24 hours, or by an earlier item of the batch, returns that event (the same key for a different event is refused). Each event counts against the publish rate limit.`,
    args: {
      inputs: t.arg({
        type: [PublishEventInput],
        required: true,
        description: `The events, 1 to ${MAX_EVENTS_PER_BATCH}. A bad one is named by its index: ["inputs", 3, "agentId"].`,
      }),
    },
    extensions: CHARGES_PUBLISH_LIMIT,
    resolve: async (_root, { inputs }, ctx) => {
      if (inputs.length < 1 || inputs.length > MAX_EVENTS_PER_BATCH) {
        throw badUserInput([{ path: ['inputs'], message: `must hold 1 to ${MAX_EVENTS_PER_BATCH} events` }]);
      }
      ctx.mutationRate.publish(ctx.access.keyId, inputs.length);
      try {
        const published = await withPublishSpans(
          ctx.tracing,
          ctx.workspaceId,
          inputs.map((input) => input.type),
          (traceparents) =>
            publishEvents(
              ctx.sql,
              inputs.map((input, i) => ({ ...newEvent(ctx, input), traceparent: traceparents[i] })),
            ),
          (published) => published.map(publishedFacts),
        );
        for (const { webhooks } of published) ctx.mutationRate.fannedOut(ctx.access.keyId, webhooks);
        return published.map(({ event }) => event);
      } catch (error) {
        throw idempotencyConflict(error, ['inputs', error instanceof IdempotencyConflict ? error.index : 0]);
      }
    },
  }),
}));

const EventTypeRef = builder.objectRef<EventTypeInfo>('EventType').implement({
  description: 'A kind of event a receiver can get, with an example payload: the catalogue the README shows too.',
  fields: (t) => ({
    name: t.exposeString('name', {
      description: 'The `type` in the payload: conversation_ended, webhook.disabled, webhook.test…',
    }),
    enumValue: t.field({
      type: WebhookEvent,
      nullable: true,
      description: "The WebhookEvent value a webhook subscribes to it with; null for webhook.test (sendTestEvent's).",
      // The enum's internal values are the payload names.
      resolve: (type) => (type.enumValue ? (type.name as WebhookEventType) : null),
    }),
    description: t.exposeString('description', { description: 'What the event means and who receives it.' }),
    example: t.field({
      type: 'JSON',
      description: 'A whole payload as a receiver gets it (ids and times made up).',
      resolve: (type) => JSON.parse(type.example),
    }),
  }),
});

builder.queryField('eventTypes', (t) =>
  t.field({
    type: [EventTypeRef],
    description:
      'Every event type a webhook can receive, with what it means and an example payload: conversation events, operational notices, and the test event.',
    resolve: () => [...EVENT_TYPE_INFO],
  }),
);
