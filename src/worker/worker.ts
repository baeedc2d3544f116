import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { DELIVERIES_DUE, EVENTS_ERASED } from '../db/channels.js';
import { createListener, type Listener } from '../db/listener.js';
import type { Pool } from '../db/sql.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { type ClaimedDelivery, claimDueDeliveries } from '../queue/claim.js';
import { putOffClaims, releaseClaims } from '../queue/release.js';
import { syncHeldDeliveries, syncSwitchedBacklogs } from '../queue/sync-held.js';
import type { AttemptSpan, Tracing } from '../telemetry/tracing.js';
import { openingKeys } from '../webhooks/secrets.js';
import { decideOutcome, prepareAttempt } from './attempt.js';
import { createCustomHeaders } from './custom-headers.js';
import { createPayloadShapes } from './excluded-fields.js';
import { createLoopPressure } from './loop-pressure.js';
import { createOpenedSecrets } from './opened-secrets.js';
import { createOutcomeWriter } from './outcome-writer.js';
import { createPrefetchBuffer } from './prefetch-buffer.js';
import type { RetryPolicy } from './retry-policy.js';
import { createScheduler, type InFlight } from './scheduler.js';
import { type AttemptResult, attemptOutcome, createSender } from './sender.js';
import { createSlots } from './slots.js';

export type WorkerOptions = {
  sql: Pool;
  /** The process's listening session (db/listener.ts); by default one of the worker's own, on the pool's settings. */
  listener?: Listener;
  /** The current key; with config.secretEncryptionOldKeys, the keys that open sealed secrets and headers. */
  secretKey: Buffer;
  config: Config;
  log: Logger;
  /** Attempts in flight at once (default: DELIVERY_CONCURRENCY). */
  concurrency?: number;
  /** Of those, for one workspace (default: DELIVERY_CONCURRENCY_PER_WORKSPACE). */
  perWorkspace?: number;
  /** Of those, to one webhook (default: DELIVERY_CONCURRENCY_PER_WEBHOOK). */
  perWebhook?: number;
  /** Safety-net poll; NOTIFY wakes the worker for new events, this catches retries coming due. */
  pollMs?: number;
  metrics?: Metrics;
  /** A span per attempt and a `traceparent` header on its request; without it, neither. */
  tracing?: Tracing;
  /** How long a delivery claimed ahead may wait for a slot before it is handed back (default 1 s; at most a quarter of the lease). */
  aheadWaitMs?: number;
  /**
   * The process also serves the API (ROLE=all): fewer attempts at once while the event loop
   * is congested, so requests are not answered behind a fan-out (loop-pressure.ts).
   */
  sharesLoopWithApi?: boolean;
};

/** Attempts at once however congested a loop shared with the API is (sharesLoopWithApi). */
const LOOP_SHARE_FLOOR = 8;

/** The reason a stop cuts an attempt short with (a timeout aborts the same controller with its own). */
const STOPPED = new Error('the worker stopped; the claim is handed back');

/**
 * Claims due deliveries and sends them, one stage after another:
 *   claim (queue/claim.ts: fair shares, circuit, rate limit) → prepare (decrypt, sign) →
 *   send (sender.ts) → decide (attempt.ts, pure) → write (batched, queue/record.ts).
 * Several workers, in one process or many, share the queue through row claims with a lease.
 * What is decided by the clock (how much to claim, what starts, what goes back) is the
 * scheduler's (scheduler.ts); here are the timers, the claims, and runAttempt.
 */
export function startDeliveryWorker(options: WorkerOptions) {
  const { sql, secretKey, config, log, metrics, tracing } = options;
  const total = options.concurrency ?? config.deliveryConcurrency;
  const pressure = options.sharesLoopWithApi
    ? createLoopPressure({
        ceiling: total,
        floor: Math.min(total, LOOP_SHARE_FLOOR),
        // Attempts waiting long on their endpoints hold slots without loading the loop: only
        // the others are halved, and counted against the limit (below). Else one tenant's hung
        // endpoints plus anyone's congestion would stop every tenant's deliveries.
        inFlight: () => slots.size() - scheduler.waitingLong(Date.now()),
        // What waits ahead starts; more is claimed if the queue has it.
        onRaise: () => {
          dispatch();
          void wake();
        },
      })
    : undefined;
  const slots = createSlots(
    {
      total,
      perWorkspace: options.perWorkspace ?? config.deliveryConcurrencyPerWorkspace,
      perWebhook: options.perWebhook ?? config.deliveryConcurrencyPerWebhook,
    },
    pressure && (() => pressure.limit() + scheduler.waitingLong(Date.now())),
  );
  // ±20% around each scheduled delay, so retries of one outage do not all land at once.
  const policy: RetryPolicy = { schedule: config.retrySchedule, jitter: 0.2 };
  // Long enough for the attempt and writing its outcome; a claim older than this is
  // presumed lost (its worker died) and the delivery comes due again.
  const leaseMs = leaseFor(config.deliveryTimeoutMs);
  // Claimed ahead, a delivery's lease runs while it waits: it starts well within it or goes back.
  const aheadWaitMs = Math.min(options.aheadWaitMs ?? 1000, leaseMs / 4);
  const scheduler = createScheduler({ slots, prefetched: createPrefetchBuffer(), aheadWaitMs, leaseMs });
  const sender = createSender({
    timeoutMs: config.deliveryTimeoutMs,
    allowPrivateTargets: config.allowPrivateTargets,
    // Webhooks often share a receiving host; the slots, not the pool, bound the sockets.
    connectionsPerOrigin: slots.limits.total,
    onSockets: (open) => metrics?.deliverySockets.set(open),
    dns: {
      ...config.dns,
      onLookup: (outcome, seconds) => {
        metrics?.dnsLookups.inc({ outcome });
        metrics?.dnsLookupDuration.observe({ outcome }, seconds);
      },
    },
  });
  const writer = createOutcomeWriter(
    sql,
    {
      disableAfterMs: config.disableAfterMs,
      circuitFailures: config.circuitBreaker.failures,
      probeIntervalMs: config.circuitBreaker.probeIntervalMs,
    },
    log,
    () => metrics?.internalErrors.inc({ stage: 'record' }),
    ({ failedForGood }) => metrics?.deliveriesFailed.inc(failedForGood),
  );
  const secretKeys = openingKeys(secretKey, config.secretEncryptionOldKeys);
  const customHeaders = createCustomHeaders(secretKeys);
  const openSecret = createOpenedSecrets(secretKeys);
  const payloads = createPayloadShapes();
  const { inFlight } = scheduler;
  /** Deliveries being put off (putOff): a stop waits for these writes before the pool closes. */
  const puttingOff = new Set<Promise<void>>();
  let stopping = false;
  let stopped: Promise<{ released: number }> | undefined;
  let idle: (() => void) | undefined;

  /** Claims until the slots are full or nothing more is due. */
  async function claimDue() {
    while (!stopping && slots.free() > 0) {
      const { limit, inFlight: claimedAlready } = scheduler.claimRequest();
      const claimed = await claimDueDeliveries(sql, {
        limit,
        perWebhook: slots.limits.perWebhook,
        perWorkspace: slots.limits.perWorkspace,
        inFlight: claimedAlready,
        leaseMs,
        claimToken: randomBytes(9).toString('base64url'),
      });
      scheduler.claimed(claimed);
      dispatch();
      if (claimed.length < limit) return;
    }
  }
  const wake = singleFlight(
    claimDue,
    () => stopping,
    log,
    () => metrics?.internalErrors.inc({ stage: 'claim' }),
  );

  /** Starts what waits ahead while its shares have room. */
  function dispatch() {
    while (!stopping) {
      const entry = scheduler.start();
      if (!entry) return;
      void runAttempt(entry);
    }
  }

  /** Hands deliveries claimed ahead back to the queue, for any worker (or this one's next claim). */
  function handBack(claims: ClaimedDelivery[]) {
    if (claims.length === 0) return;
    void releaseClaims(sql, claims).then(
      () => void wake(),
      (error: unknown) =>
        log.warn({ err: error }, 'handing back deliveries claimed ahead failed; their leases will expire'),
    );
  }

  /** One attempt: prepare → send → decide → write, with its span, log line and metrics. */
  async function runAttempt(entry: InFlight) {
    const { claim, abort } = entry;
    metrics?.deliveriesInFlight.set(slots.size());
    let span: AttemptSpan | undefined;
    let result: AttemptResult;
    try {
      const request = prepareAttempt(claim, secretKeys, Date.now(), customHeaders, openSecret, payloads);
      // A rate-limited delivery holds its slot here until its turn (at most a second).
      if (claim.sendAt) await sleepUntil(claim.sendAt, abort.signal);
      // Erased since it was claimed: its rows are gone; it is not sent.
      if (scheduler.isErased(claim.eventId)) {
        dropUnsent(claim, entry);
        return;
      }
      span = tracing?.startAttempt(attemptFacts(claim));
      // The receiver's own spans can join the attempt's trace.
      if (span?.traceparent) request.headers.traceparent = span.traceparent;
      scheduler.sent(entry);
      // The sender makes every failure of the endpoint or the network a result: what throws is ours.
      result = await sender.send(request.url, request.headers, request.body, abort, claim.workspaceId);
    } catch (error) {
      putOff(claim, entry, error);
      return;
    }
    const attemptedAt = new Date(Date.now() - result.durationMs);
    finish(claim, entry, result.ok && result.durationMs < aheadWaitMs / 4);
    // Cut short by a stop: not an attempt the receiver judged; the claim is released instead.
    if (abort.signal.reason === STOPPED) {
      span?.end(result, attemptOutcome(result), 'released');
    } else {
      const outcome = decideOutcome(claim, attemptedAt, result, policy);
      writer.write(outcome);
      span?.end(result, attemptOutcome(result), outcome.status);
      // Not the URL: query strings often carry tokens.
      if (!result.ok) {
        log.info(
          {
            deliveryId: claim.id,
            webhookId: claim.webhookId,
            workspaceId: claim.workspaceId,
            attempt: claim.attemptCount + 1,
            outcome: attemptOutcome(result),
            statusCode: result.statusCode,
            error: result.error,
            ms: result.durationMs,
            next: outcome.status === 'pending' ? outcome.nextAttemptAt : outcome.status,
          },
          'delivery attempt failed',
        );
      }
      metrics?.attempts.inc({ outcome: attemptOutcome(result) });
      if (result.ok) metrics?.latency.observe((Date.now() - claim.createdAt.getTime()) / 1000);
    }
    refill(claim);
  }

  /**
   * Events were erased (events/erasure.ts): what this worker claimed of them and has not
   * sent is dropped: waiting ahead, or waiting for its rate-limit slot. A request already
   * under way may finish; its outcome then finds no row to write (queue/record.ts).
   */
  function dropErased(eventIds: string[]) {
    const dropped = scheduler.erased(eventIds);
    if (dropped.length > 0) log.info({ dropped: dropped.length }, 'dropped claimed deliveries of erased events');
    dispatch();
  }

  /** An attempt dropped before its request: its slot is given back, nothing is written. */
  function dropUnsent(claim: ClaimedDelivery, entry: InFlight) {
    scheduler.finished(entry);
    metrics?.deliveriesInFlight.set(slots.size());
    refill(claim);
  }

  /** Gives the attempt's slot back; a webhook not `flowing` (failing, slow) keeps nothing claimed ahead. */
  function finish(claim: ClaimedDelivery, entry: InFlight, flowingWell: boolean) {
    scheduler.finished(entry);
    metrics?.deliveriesInFlight.set(slots.size());
    if (stopping) return;
    handBack(scheduler.judged(claim.webhookId, flowingWell));
  }

  /**
   * A failure of ours before or around the request (a secret or header that would not open, signing):
   * not an attempt. The delivery is put off by DELIVERY_INTERNAL_RETRY_DELAY with its attempt
   * count, its webhook's health and its attempt log untouched: nothing the endpoint did is
   * recorded against it. Should putting it off fail too, its lease runs out and it comes due again.
   */
  function putOff(claim: ClaimedDelivery, entry: InFlight, error: unknown) {
    finish(claim, entry, false);
    metrics?.internalErrors.inc({ stage: 'prepare' });
    // The error says which step failed (e.g. AES-GCM's "unable to authenticate data"), never a secret.
    log.error(
      {
        err: error,
        deliveryId: claim.id,
        webhookId: claim.webhookId,
        workspaceId: claim.workspaceId,
        retryInMs: config.internalRetryDelayMs,
      },
      'cannot prepare delivery (a secret or header would not open with SECRET_ENCRYPTION_KEY or SECRET_ENCRYPTION_OLD_KEYS?); put off, not counted against the endpoint',
    );
    const writing = putOffClaims(sql, [claim], config.internalRetryDelayMs)
      .catch((failure: unknown) =>
        log.warn({ err: failure, deliveryId: claim.id }, 'putting a delivery off failed; its lease will expire'),
      )
      .finally(() => puttingOff.delete(writing));
    puttingOff.add(writing);
    refill(claim);
  }

  /** After an attempt: what waits ahead takes the slot, and a claim tops up when enough is free. */
  function refill(claim: ClaimedDelivery) {
    if (inFlight.size === 0) idle?.();
    // The slot takes what waits ahead at once, without a round trip.
    dispatch();
    if (scheduler.wantsClaimAfter(claim)) void wake();
  }

  // Backlogs of webhooks paused or resumed, held or released in batches: on every poll and wake-up.
  // Wake-ups come with every publish: at most one look every 200 ms (a cheap one, on a partial index).
  let syncingBacklogs = false;
  let backlogsLookedAt = 0;
  // A look asked for while one runs, or within the 200 ms, is made when it may be: dropping
  // it would leave a resume heard just then to the next poll.
  let lookAgain = false;
  let lookLater: NodeJS.Timeout | undefined;
  const syncBacklogs = () => {
    if (stopping) return;
    if (syncingBacklogs) {
      lookAgain = true;
      return;
    }
    const wait = 200 - (performance.now() - backlogsLookedAt);
    if (wait > 0) {
      lookLater ??= setTimeout(() => {
        lookLater = undefined;
        syncBacklogs();
      }, wait).unref();
      return;
    }
    syncingBacklogs = true;
    backlogsLookedAt = performance.now();
    void syncSwitchedBacklogs(sql)
      .then(
        (moved) => moved > 0 && void wake(),
        (error: unknown) => log.warn({ err: error }, 'holding or releasing a switched backlog failed; trying again'),
      )
      .finally(() => {
        syncingBacklogs = false;
        if (lookAgain) {
          lookAgain = false;
          syncBacklogs();
        }
      });
  };
  const poll = setInterval(() => {
    syncBacklogs();
    void wake();
  }, options.pollMs ?? 1000);
  const syncHeld = setInterval(
    () =>
      void syncHeldDeliveries(sql).then(
        (moved) => moved > 0 && log.info({ moved }, 'held or released deliveries that missed a pause or resume'),
        (error: unknown) => log.warn({ err: error }, 'syncing held deliveries failed; trying again later'),
      ),
    5 * 60_000,
  );
  syncHeld.unref();
  const sweep = setInterval(
    () => {
      const { handBack: late, setAside } = scheduler.sweep();
      // Not started in time (its webhook's slots stayed busy): back to the queue.
      handBack(late);
      if (setAside) {
        dispatch();
        void wake();
      }
    },
    Math.max(10, aheadWaitMs / 2),
  );
  sweep.unref();
  // Re-sweeps on every (re)connect of the listening session: wake-ups sent while it was
  // down are not replayed, so look for due work ourselves (polling covers the outage).
  const ownListener = options.listener ? undefined : createListener(sql, { log });
  const listener = options.listener ?? (ownListener as Listener);
  const listening = listener.subscribe(DELIVERIES_DUE, {
    onNotify: () => {
      syncBacklogs();
      void wake();
    },
    onListen: () => void wake(),
  });
  const listeningForErasures = listener.subscribe(EVENTS_ERASED, {
    onNotify: (payload) => {
      try {
        dropErased(JSON.parse(payload) as string[]);
      } catch (error) {
        log.warn({ err: error }, 'an erasure notice could not be read');
      }
    },
  });

  async function stopOnce(graceMs: number) {
    stopping = true;
    pressure?.stop();
    clearInterval(poll);
    clearInterval(syncHeld);
    clearInterval(sweep);
    clearTimeout(lookLater);
    await (await listening).unsubscribe();
    await (await listeningForErasures).unsubscribe();
    await ownListener?.close();
    // What waits ahead goes back at once (after the claim under way, which may add to it).
    await wake.settled();
    const waiting = scheduler.takeAllWaiting();
    await releaseClaims(sql, waiting).catch((error: unknown) =>
      log.warn({ err: error }, 'releasing claims failed; their leases will expire'),
    );
    if (inFlight.size > 0) {
      await Promise.race([
        new Promise<void>((resolve) => {
          idle = resolve;
        }),
        new Promise((resolve) => setTimeout(resolve, graceMs)),
      ]);
    }
    const unfinished = [...inFlight.values()].map(({ claim, abort }) => {
      abort.abort(STOPPED);
      return claim;
    });
    await writer.drain();
    await Promise.all(puttingOff);
    await releaseClaims(sql, unfinished).catch((error: unknown) =>
      log.warn({ err: error }, 'releasing claims failed; their leases will expire'),
    );
    await sender.close();
    return { released: unfinished.length + waiting.length };
  }

  return {
    /**
     * Stops claiming, lets attempts in flight finish for up to `graceMs`, cuts the rest
     * short and hands their claims back, then writes every outcome it has.
     */
    stop(graceMs = Math.min(config.shutdownGraceMs, config.deliveryTimeoutMs)) {
      // A second call (a signal during a stop, a test's cleanup) waits for the first.
      stopped ??= stopOnce(graceMs);
      return stopped;
    },
  };
}

export type DeliveryWorker = ReturnType<typeof startDeliveryWorker>;

const leaseFor = (deliveryTimeoutMs: number) => 2 * deliveryTimeoutMs + 5_000;

const attemptFacts = (claim: ClaimedDelivery) => ({
  deliveryId: claim.id,
  webhookId: claim.webhookId,
  eventId: claim.eventId,
  workspaceId: claim.workspaceId,
  attempt: claim.attemptCount + 1,
  publishTraceparent: claim.traceparent,
});

/** Resolves at `time`, or at once when `signal` aborts. */
function sleepUntil(time: Date, signal: AbortSignal): Promise<void> {
  const ms = time.getTime() - Date.now();
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Runs `task` one at a time: a call while it runs asks for one more run afterwards, so
 * a burst of wake-ups becomes one or two claims rather than a queue of them.
 */
function singleFlight(task: () => Promise<void>, stopping: () => boolean, log: Logger, onFailure: () => void) {
  let running: Promise<void> | undefined;
  let again = false;
  async function loop() {
    try {
      do {
        again = false;
        await task();
      } while (again && !stopping());
    } catch (error) {
      onFailure();
      log.warn({ err: error }, 'claiming deliveries failed; retrying on the next poll');
    } finally {
      running = undefined;
    }
  }
  function run(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = loop();
    return running;
  }
  /** Resolves when no run is under way. */
  run.settled = () => running ?? Promise.resolve();
  return run;
}
