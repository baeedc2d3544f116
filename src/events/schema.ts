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
import { badUserInput, findOwn } from '../graphql/errors.js';
import { NodeRef } from '../graphql/node.js';
import { lineOfText, webhookRules } from '../webhooks/rules.js';
import { WebhookEvent } from '../webhooks/schema.js';
import {
  countSearchedEvents,
  type EventRecord,
  findEvent,
  findPayloads,
  IdempotencyConflict,
  publishEvent,
  searchEvents,
} from './store.js';

export const MAX_DATA_BYTES = 256 * 1024;
/** Deeper JSON is refused: no receiver needs it, and walking it recursively would overflow the stack. */
export const MAX_DATA_DEPTH = 64;

/** Whether `value` has objects or arrays nested more than `max` levels, found without recursion. */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, depth] = next;
    if (typeof item !== 'object' || item === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}

export const EventRef = builder.objectRef<EventRecord>('Event');

/**
 * Payloads are read only when `data` is selected, for a whole page at once; what they
 * weigh is spent from the request's read budget.
 */
const payloadLoader = createContextCache(
  (ctx: Context) =>
    new DataLoader<string, string>(async (ids) => {
      const payloads = await findPayloads(ctx.sql, ctx.workspaceId, ids);
      ctx.budget.spend(
        payloads.size,
        [...payloads.values()].reduce((bytes, payload) => bytes + payload.length, 0),
      );
      return ids.map((id) => payloads.get(id) ?? new Error(`event ${id} is gone`));
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
        'The event type as receivers see it: conversation_started, conversation_ended, conversation_analysed, or webhook.test.',
    }),
    agentId: t.exposeString('agentId', { description: 'The agent whose conversation this event is about.' }),
    data: t.field({
      type: 'JSON',
      description: 'The event data as published.',
      // Up to 256 KiB to parse and send: weighs like a page of small objects.
      complexity: 10,
      resolve: async (event, _args, ctx) => {
        const payload = event.payload ?? (await payloadLoader(ctx).load(event.id));
        return (JSON.parse(payload) as { data: unknown }).data;
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
    type: t.field({ type: WebhookEvent, required: true, description: 'What happened.' }),
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
              : nestedDeeperThan(value, MAX_DATA_DEPTH)
                ? `must not be nested more than ${MAX_DATA_DEPTH} levels deep`
                : Buffer.byteLength(JSON.stringify(value)) > MAX_DATA_BYTES
                  ? 'must be at most 256 KiB of JSON'
                  : undefined;
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
});

builder.queryField('event', (t) =>
  t.field({
    type: EventRef,
    nullable: true,
    description: 'One event of your workspace, or null when there is none with this id.',
    args: { id: t.arg.id({ required: true, description: 'The event id ("evt_…").' }) },
    resolve: (_root, { id }, ctx) => findOwn('event', id, (id) => findEvent(ctx.sql, ctx.workspaceId, id)),
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
      const search = { agentId: args.agentId, type: args.type, since: args.since, until: args.until };
      return resolvePage(
        args,
        ctx.budget,
        (window, limit) => searchEvents(ctx.sql, ctx.workspaceId, search, window, limit),
        () => countSearchedEvents(ctx.sql, ctx.workspaceId, search),
        timeRangeIssues(search),
      );
    },
  }),
);

builder.mutationField('publishEvent', (t) =>
  t.field({
    type: EventRef,
    description:
      'Publishes a conversation event: it is stored, and delivered to every active webhook of the agent subscribed to its type.',
    args: { input: t.arg({ type: PublishEventInput, required: true, description: 'The event.' }) },
    resolve: async (_root, { input }, ctx) => {
      try {
        const { event } = await publishEvent(ctx.sql, {
          workspaceId: ctx.workspaceId,
          agentId: input.agentId,
          type: input.type,
          data: input.data,
          idempotencyKey: input.idempotencyKey,
        });
        return event;
      } catch (error) {
        if (error instanceof IdempotencyConflict) {
          throw badUserInput([
            {
              path: ['input', 'idempotencyKey'],
              message: 'was already used in the last 24 hours for a different event',
            },
          ]);
        }
        throw error;
      }
    },
  }),
);
