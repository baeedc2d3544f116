import {
  BREAK,
  type DocumentNode,
  GraphQLError,
  type GraphQLSchema,
  getNamedType,
  getOperationAST,
  TypeInfo,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context, RequestContext } from '../graphql/builder.js';
import { createLru } from '../lib/lru.js';

/** Introspection runs without a key: these plugins see a key only on other operations. */
type MaybeKeyed = RequestContext & Partial<Pick<Context, 'access'>>;

export type RateLimitOptions = {
  /** Sustained mutations per second per API key; 0 turns the limit off. */
  perSecond: number;
  /** How many may come at once before the sustained rate applies. */
  burst: number;
  /** The rate the machine allows when `perSecond` is one API process's share of it (config.ts perApiProcess): what refusals quote. */
  perSecondPerMachine?: number;
};

export type ReadRateLimitOptions = {
  /** Bytes of responses one API key may be sent per second, sustained; 0 turns the limit off. */
  bytesPerSecond: number;
  /** How much may be read at once: at least one request's worth (MAX_RESPONSE_BYTES). */
  burstBytes: number;
};

// Keys seen recently; a full map forgets its oldest entries (a forgotten key starts with a full bucket).
const MAX_TRACKED_KEYS = 10_000;

/** What a key's heavy rates shrink to while the process is crowded (auth/crowding.ts). */
export const CROWDED_SHARE = 1 / 8;

export type Crowded = {
  /** Whether the process is crowded for this key now. */
  when: (keyId: string) => boolean;
  /** The least a crowded bucket holds: what one operation needs (a full publishEvents batch). */
  atLeast?: number;
};

/**
 * Token buckets per API key, in this process's memory: with N instances behind a load
 * balancer a key gets up to N times the rate. A bucket may go into debt (a read is
 * charged after it ran); a key in debt is refused until it has paid it off. With `crowded`,
 * while the process is crowded for a key (its event loop congested, other keys served too)
 * the key's bucket refills at CROWDED_SHARE of the rate and holds at most that share of the
 * burst: the rates are what a key may use of a process that has room, and a loop that is
 * already late for everyone cannot also give one key all of them. A debt run up while
 * crowded is paid off at that share even once the crowding has passed: the work that ran
 * it up is often what crowded the process, and congestion is only seen for a moment after.
 */
export function createBuckets(rate: number, burst: number, now: () => number, crowded?: Crowded) {
  type Bucket = { tokens: number; at: number; crowdedDebt: boolean };
  const buckets = createLru<string, Bucket>({ maxEntries: MAX_TRACKED_KEYS });
  const shareOf = (keyId: string) => (crowded?.when(keyId) ? CROWDED_SHARE : 1);
  // The share a bucket refills at: a crowded debt keeps the crowded share until it is paid.
  const refillShare = (bucket: Bucket, share: number) => (bucket.crowdedDebt ? CROWDED_SHARE : share);
  const current = (keyId: string, share: number) => {
    const t = now();
    const bucket = buckets.get(keyId) ?? { tokens: burst, at: t, crowdedDebt: false };
    const capacity = share === 1 ? burst : Math.max(burst * share, crowded?.atLeast ?? 0);
    bucket.tokens = Math.min(capacity, bucket.tokens + ((t - bucket.at) / 1000) * rate * refillShare(bucket, share));
    bucket.at = t;
    // A debt found while crowded is a crowded debt too: a read is charged when it ends, and the
    // congestion it caused is seen after.
    if (bucket.tokens >= 0) bucket.crowdedDebt = false;
    else if (share < 1) bucket.crowdedDebt = true;
    buckets.set(keyId, bucket);
    return bucket;
  };
  // A crowded debt is paid at the crowded share, what comes after it at the share of now.
  const secondsUntil = (bucket: Bucket, amount: number, share: number) =>
    Math.max(
      1,
      Math.ceil(
        bucket.crowdedDebt
          ? -bucket.tokens / (rate * CROWDED_SHARE) + amount / (rate * share)
          : (amount - bucket.tokens) / (rate * share),
      ),
    );
  return {
    /** Takes `amount` if the bucket holds it; otherwise the seconds until it will. */
    take(keyId: string, amount: number): number {
      const share = shareOf(keyId);
      const bucket = current(keyId, share);
      if (bucket.tokens >= amount) {
        bucket.tokens -= amount;
        return 0;
      }
      return secondsUntil(bucket, amount, share);
    },
    /** Charges `amount` whatever the bucket holds. */
    charge(keyId: string, amount: number) {
      const share = shareOf(keyId);
      const bucket = current(keyId, share);
      bucket.tokens -= amount;
      if (bucket.tokens < 0 && share < 1) bucket.crowdedDebt = true;
    },
    /**
     * Takes `amount` whether the bucket holds it or not (into a debt of at most `burst`), so a
     * caller that keeps knocking while refused stays refused; 0 when it may pass, else the
     * seconds until it may.
     */
    knock(keyId: string, amount = 1): number {
      const share = shareOf(keyId);
      const bucket = current(keyId, share);
      bucket.tokens = Math.max(bucket.tokens - amount, -burst);
      return bucket.tokens >= 0 ? 0 : secondsUntil(bucket, 0, share);
    },
    /** Whether the key's rate is its crowded share now, or it pays a crowded debt (for refusals to say so). */
    crowded: (keyId: string) => shareOf(keyId) < 1 || (buckets.get(keyId)?.crowdedDebt ?? false),
  };
}

/** What a refusal adds while the key's rate is its crowded share. */
export const crowdedNote = (crowded: boolean) =>
  crowded ? ` (1/${1 / CROWDED_SHARE} of that while this server is congested and serving other API keys too)` : '';

export function rateLimited(message: string, retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(message, {
    extensions: { code: 'RATE_LIMITED', http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } } },
  });
}

/**
 * Mutations per key, in three buckets: events published (`publishEvent` counts 1,
 * `publishEvents` its list's length) against `publish`, sized for a voice platform's
 * ingest; the deliveries they fan out to against `fanOut`, charged after the commit
 * (one batch may overshoot it by its own fan-out, at most 100 × MAX_WEBHOOKS_PER_AGENT);
 * every other mutation against `mutations`. Charged as each root field starts to
 * execute (graphql/mutation-rate.ts), after aliases, fragments, variables and defaults
 * have been resolved, so what is counted is what runs. A refused field answers HTTP 429,
 * `RATE_LIMITED`, and a Retry-After in seconds, before it does anything.
 */
export function createMutationRate(
  mutations: RateLimitOptions,
  publish: RateLimitOptions,
  fanOut: RateLimitOptions,
  crowded?: Crowded,
  now = () => performance.now(),
) {
  const mutationBuckets = createBuckets(mutations.perSecond, mutations.burst, now);
  // Publishing is where one key's work multiplies (inserts, deliveries, their attempts):
  // its rates shrink while the process is crowded (`crowded.atLeast`: one full batch).
  const publishBuckets = createBuckets(publish.perSecond, publish.burst, now, crowded);
  const fanOutBuckets = createBuckets(fanOut.perSecond, fanOut.burst, now, crowded);
  return {
    /** Takes one mutation from the key's bucket, or throws RATE_LIMITED. */
    mutation(keyId: string) {
      if (mutations.perSecond <= 0) return;
      const retryAfter = mutationBuckets.take(keyId, 1);
      if (retryAfter > 0) {
        throw rateLimited(
          `Rate limit exceeded: at most ${mutations.perSecondPerMachine ?? mutations.perSecond} mutations per second per API key`,
          retryAfter,
        );
      }
    },
    /**
     * Takes `events` published events from the key's bucket, or throws RATE_LIMITED; also
     * when the deliveries its earlier publishes fanned out to are past their rate.
     */
    publish(keyId: string, events: number) {
      const owed = fanOut.perSecond > 0 ? fanOutBuckets.take(keyId, 0) : 0;
      if (owed > 0) {
        throw rateLimited(
          `Rate limit exceeded: publishing may create at most ${fanOut.perSecondPerMachine ?? fanOut.perSecond} deliveries per second per API key${crowdedNote(fanOutBuckets.crowded(keyId))}`,
          owed,
        );
      }
      if (publish.perSecond <= 0) return;
      const retryAfter = publishBuckets.take(keyId, Math.min(events, publish.burst));
      if (retryAfter > 0) {
        throw rateLimited(
          `Rate limit exceeded: at most ${publish.perSecondPerMachine ?? publish.perSecond} events published per second per API key${crowdedNote(publishBuckets.crowded(keyId))}`,
          retryAfter,
        );
      }
    },
    /** Charges the deliveries a publish created, known once it committed (a key in debt waits). */
    fannedOut(keyId: string, deliveries: number) {
      if (fanOut.perSecond > 0 && deliveries > 0) fanOutBuckets.charge(keyId, deliveries);
    },
  };
}

export type MutationRate = ReturnType<typeof createMutationRate>;

/**
 * What responses each key may be sent per second: a key reading flat out would hold a
 * core (and one process's event loop) that other workspaces share. Charged with the
 * bytes each response and each subscription message carried (graphql/read-budget.ts);
 * a key in debt is refused (queries) or waits (subscriptions) until it has paid it off.
 */
export function createReadRate(options: ReadRateLimitOptions, crowded?: Crowded, now = () => performance.now()) {
  const off = options.bytesPerSecond <= 0;
  const buckets = createBuckets(options.bytesPerSecond, options.burstBytes, now, crowded);
  return {
    options,
    /** Whether `keyId` reads at its crowded share now. */
    crowded: (keyId: string) => buckets.crowded(keyId),
    /** 0 when `keyId` may read now; else the seconds until its debt is paid. */
    owed: (keyId: string): number => (off ? 0 : buckets.take(keyId, 0)),
    charge(keyId: string, bytes: number) {
      if (!off && bytes > 0) buckets.charge(keyId, bytes);
    },
    /** Resolves once `keyId` may read again (at once when it may now), or when `signal` aborts. */
    async paid(keyId: string, signal: AbortSignal): Promise<void> {
      for (let owed = this.owed(keyId); owed > 0 && !signal.aborted; owed = this.owed(keyId)) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, owed * 1000);
          function done() {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            resolve();
          }
          signal.addEventListener('abort', done, { once: true });
        });
      }
    },
  };
}

export type ReadRate = ReturnType<typeof createReadRate>;

/**
 * What one subscription message costs a key's read rate at least: at the default 8 MiB/s
 * a key's streams together are sent at most 512 messages a second (bursts of 1,024).
 */
export const MESSAGE_MIN_BYTES = 16 * 1024;

/**
 * Queries answer 429 RATE_LIMITED while their key is in debt, and so do mutations that read
 * more than what they wrote (a page: `updateWebhook { deliveries { ... } }`); a mutation so
 * refused does nothing. Each of those responses, and each subscription message, is charged
 * what it carried once it is produced. A mutation answering only what it wrote
 * (`publishEvent { id data }`) is neither charged nor held back by the key's reads.
 */
export function useReadRateLimit(rate: ReadRate): Plugin<MaybeKeyed> {
  if (rate.options.bytesPerSecond <= 0) return {};
  // A session reads on its key's rate (access.keyId): signing in many does not multiply it.
  const charge = (context: MaybeKeyed) => {
    if (context.access) rate.charge(context.access.keyId, context.budget.bytesRead);
  };
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const context = args.contextValue;
      const keyId = context.access?.keyId;
      // Subscriptions are charged per message, below. A mutation answering what it wrote is
      // bounded by the request that sent it (and by the mutation and publish rates).
      const operation = getOperationAST(args.document, args.operationName)?.operation;
      if (!keyId || operation === 'subscription') return;
      if (operation === 'mutation' && !readsPages(args.schema, args.document)) return;
      const retryAfter = rate.owed(keyId);
      if (retryAfter > 0) {
        const perSecond = `${Math.round(rate.options.bytesPerSecond / 1024 / 1024)} MiB`;
        throw rateLimited(
          `Rate limit exceeded: at most ${perSecond} of responses per second per API key${crowdedNote(rate.crowded(keyId))}`,
          retryAfter,
        );
      }
      // Charged however execution ends: an operation stopped for its size still made what it made.
      setExecuteFn(async (executeArgs) => {
        try {
          return await executeFn(executeArgs);
        } finally {
          charge(context);
        }
      });
    },
    // Each message of a stream is its own answer, with its own budget (request-state.ts),
    // and costs at least MESSAGE_MIN_BYTES: a change of a few hundred bytes is still a read,
    // an execution and a write, and a key's twenty streams of a fan-out are twenty of each.
    onSubscribe({ args }) {
      const context = args.contextValue;
      return {
        onSubscribeResult: () => ({
          onNext: () => {
            if (context.access) {
              rate.charge(context.access.keyId, Math.max(context.budget.bytesRead, MESSAGE_MIN_BYTES));
            }
          },
        }),
      };
    },
  };
}

const pageReaders = new WeakMap<DocumentNode, boolean>();

/**
 * Whether a document selects a page (a connection) anywhere: a read beyond the records a
 * mutation wrote (those, event data included, are bounded by the request that sent them).
 */
function readsPages(schema: GraphQLSchema, document: DocumentNode): boolean {
  let reads = pageReaders.get(document);
  if (reads === undefined) {
    reads = false;
    const types = new TypeInfo(schema);
    visit(
      document,
      visitWithTypeInfo(types, {
        Field() {
          const field = types.getFieldDef();
          if (!field) return;
          const type = getNamedType(field.type).name;
          if (type.endsWith('Connection')) {
            reads = true;
            return BREAK;
          }
        },
      }),
    );
    pageReaders.set(document, reads);
  }
  return reads;
}
