import { z } from 'zod';
import { builder } from '../graphql/builder.js';
import { badUserInput, zodIssues } from '../graphql/errors.js';
import { addHistogram, emptyHistogram, percentile } from '../lib/histogram.js';
import { isId } from '../lib/ids.js';
import { WebhookRef } from '../webhooks/schema.js';
import * as store from './store.js';

/** The most buckets one deliveryStats answer holds: a day of minutes, 60 days of hours. */
export const MAX_STATS_BUCKETS = 1440;

const StatsInterval = builder.enumType('StatsInterval', {
  description: 'The length of each bucket of deliveryStats; buckets start on whole minutes, hours or days (UTC).',
  values: {
    MINUTE: { value: 'minute', description: 'One bucket per minute.' },
    HOUR: { value: 'hour', description: 'One bucket per hour.' },
    DAY: { value: 'day', description: 'One bucket per day, from 00:00 UTC.' },
  } as const,
});

type Figures = { attempts: number; succeeded: number; failed: number; durations: number[] };

const figureFields = {
  attempts: 'Delivery attempts made (HTTP requests sent).',
  succeeded: 'Attempts the endpoint answered with 2xx in time.',
  failed: 'Attempts that failed: another status, a timeout or a network error.',
  p50Ms:
    'Median attempt duration in milliseconds; null without attempts. Read from a log-scale histogram: within 15% (give or take 1 ms) of the exact value.',
  p95Ms:
    '95th percentile of attempt durations in milliseconds; null without attempts. Within 15% (give or take 1 ms), as p50Ms.',
};

const DeliveryStatsBucket = builder.objectRef<Figures & { start: Date }>('DeliveryStatsBucket').implement({
  description: 'The attempts of one bucket of time.',
  fields: (t) => ({
    start: t.expose('start', { type: 'DateTime', description: 'When the bucket starts; it lasts one interval.' }),
    attempts: t.exposeInt('attempts', { description: figureFields.attempts }),
    succeeded: t.exposeInt('succeeded', { description: figureFields.succeeded }),
    failed: t.exposeInt('failed', { description: figureFields.failed }),
    p50Ms: t.int({ nullable: true, description: figureFields.p50Ms, resolve: (b) => percentile(b.durations, 0.5) }),
    p95Ms: t.int({ nullable: true, description: figureFields.p95Ms, resolve: (b) => percentile(b.durations, 0.95) }),
  }),
});

const DeliveryStats = builder
  .objectRef<Figures & { buckets: (Figures & { start: Date })[] }>('DeliveryStats')
  .implement({
    description:
      'Delivery attempts counted by outcome, over a period and in buckets of it. Read from per-minute and per-hour rollups written with the attempts, so a day of a million attempts costs what a day of a thousand does. Figures start from the upgrade that added them (attempts before it are not counted) and are kept as long as events (RETENTION).',
    fields: (t) => ({
      attempts: t.exposeInt('attempts', { description: `${figureFields.attempts} In every bucket together.` }),
      succeeded: t.exposeInt('succeeded', { description: figureFields.succeeded }),
      failed: t.exposeInt('failed', { description: figureFields.failed }),
      successRate: t.float({
        nullable: true,
        description: 'succeeded / attempts, from 0 to 1; null without attempts.',
        resolve: (s) => (s.attempts === 0 ? null : s.succeeded / s.attempts),
      }),
      p50Ms: t.int({ nullable: true, description: figureFields.p50Ms, resolve: (s) => percentile(s.durations, 0.5) }),
      p95Ms: t.int({ nullable: true, description: figureFields.p95Ms, resolve: (s) => percentile(s.durations, 0.95) }),
      buckets: t.field({
        type: [DeliveryStatsBucket],
        description:
          'Every bucket from `since` (rounded down to the interval) to `until`, oldest first; empty ones too.',
        // Already read and charged with the stats themselves.
        complexity: 0,
        resolve: (s) => s.buckets,
      }),
    }),
  });

/** Checks the arguments together; each problem names its argument. */
const statsArgs = z
  .object({ since: z.date(), until: z.date(), interval: z.enum(['minute', 'hour', 'day']) })
  .superRefine((args, issues) => {
    if (args.since >= args.until) {
      issues.addIssue({ code: 'custom', path: ['since'], message: 'must be before until (default: now)' });
      return;
    }
    const buckets = store.bucketCount(args.since, args.until, args.interval);
    if (buckets > MAX_STATS_BUCKETS) {
      issues.addIssue({
        code: 'custom',
        path: ['interval'],
        message: `${args.interval.toUpperCase()} buckets from since to until would be ${buckets}, more than ${MAX_STATS_BUCKETS}: choose a longer interval or a later since`,
      });
    }
  });

builder.queryField('deliveryStats', (t) =>
  t.field({
    type: DeliveryStats,
    description: `Delivery attempts of your workspace (or of one webhook) by outcome and duration, in buckets of \`interval\` from \`since\` to \`until\`; at most ${MAX_STATS_BUCKETS} buckets (a day of MINUTE, 60 days of HOUR).`,
    complexity: 10,
    args: {
      webhookId: t.arg.id({
        description: 'Only attempts to this webhook ("wh_…"); one of another workspace or none at all counts nothing.',
      }),
      since: t.arg({
        type: 'DateTime',
        required: true,
        description: 'Start of the period, rounded down to a whole interval.',
      }),
      until: t.arg({
        type: 'DateTime',
        description: 'End of the period (exclusive); default now. Must be after since.',
      }),
      interval: t.arg({ type: StatsInterval, required: true, description: 'How long each bucket is.' }),
    },
    resolve: async (_root, args, ctx) => {
      const parsed = statsArgs.safeParse({
        since: args.since,
        until: args.until ?? new Date(),
        interval: args.interval,
      });
      if (!parsed.success) throw badUserInput(zodIssues(parsed.error));
      const { since, until, interval } = parsed.data;
      // An id of no webhook's shape is not looked up: it counts nothing, as an unknown id does.
      const webhookId = args.webhookId ?? null;
      const query = { workspaceId: ctx.workspaceId, webhookId, agentIds: ctx.access.agentIds, since, until, interval };
      const { buckets, rowsRead } =
        webhookId !== null && !isId('webhook', webhookId)
          ? { buckets: store.emptyBuckets(query), rowsRead: 0 }
          : await store.readDeliveryStats(ctx.sql, query);
      ctx.budget.spend(rowsRead);
      const total = { attempts: 0, succeeded: 0, failed: 0, durations: emptyHistogram() };
      for (const bucket of buckets) {
        total.attempts += bucket.attempts;
        total.succeeded += bucket.succeeded;
        total.failed += bucket.failed;
        addHistogram(total.durations, bucket.durations);
      }
      return { ...total, buckets };
    },
  }),
);

const WebhookBacklog = builder.objectRef<store.Backlog>('WebhookBacklog').implement({
  description: "A webhook's deliveries not yet succeeded or failed.",
  fields: (t) => ({
    pending: t.exposeInt('pending', {
      description: `Pending deliveries (due, scheduled for a retry, held while paused, or waiting behind an earlier one of their conversation), counted up to ${store.BACKLOG_COUNT_LIMIT.toLocaleString('en')}: ${store.BACKLOG_COUNT_LIMIT} means that many or more.`,
    }),
    oldestPendingAt: t.expose('oldestPendingAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the oldest pending delivery was created; null when none is pending.',
    }),
  }),
});

builder.objectField(WebhookRef, 'backlog', (t) =>
  t.loadable({
    type: WebhookBacklog,
    description: `What is waiting to be delivered to this webhook. Read for a whole page of webhooks in one statement; the count stops at ${store.BACKLOG_COUNT_LIMIT.toLocaleString('en')}.`,
    load: async (ids: string[], ctx) => {
      const backlogs = await store.readBacklogs(ctx.sql, ids);
      ctx.budget.spend(ids.length);
      return ids.map((id) => backlogs.get(id) ?? { pending: 0, oldestPendingAt: null });
    },
    resolve: (webhook) => webhook.id,
  }),
);
