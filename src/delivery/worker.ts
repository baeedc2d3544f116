import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { DELIVERIES_DUE } from '../db/channels.js';
import type { Pool } from '../db/sql.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { type ClaimedDelivery, claimDueDeliveries } from '../queue/claim.js';
import { type Outcome, recordOutcomes } from '../queue/record.js';
import { releaseClaims } from '../queue/release.js';
import { syncHeldDeliveries } from '../queue/sync-held.js';
import { decryptSecret } from '../webhooks/secrets.js';
import { nextRetry, type RetryPolicy } from './retry-policy.js';
import { type AttemptResult, attemptOutcome, createSender } from './sender.js';
import { webhookHeaders } from './signing.js';

export type WorkerOptions = {
  sql: Pool;
  secretKey: Buffer;
  config: Config;
  log: Logger;
  /** Attempts in flight at once, across all webhooks (default: DELIVERY_CONCURRENCY). */
  concurrency?: number;
  /** Attempts in flight at once to one webhook, so a slow endpoint holds at most this many slots. */
  perWebhook?: number;
  /** Safety-net poll; NOTIFY wakes the worker for new events, this catches retries coming due. */
  pollMs?: number;
  metrics?: Metrics;
};

/**
 * An attempt running longer than this stops counting against DELIVERY_CONCURRENCY: a hung
 * or slow endpoint then holds its per-webhook share of extra sockets (waiting costs
 * little) instead of the slots healthy endpoints need. At most twice the concurrency is
 * ever in flight.
 */
const SLOW_ATTEMPT_MS = 1000;

/**
 * Claims walk the due index from its oldest end, where a saturated webhook's backlog and
 * dead entries not yet vacuumed pile up: a walk that grows with them. So a claim starts a
 * little before the oldest delivery the previous claim took, and only every
 * FULL_WALK_MS, or when a saturated webhook frees a slot, from the very start. A delivery
 * that commits late below that point (a slow publish, a resumed webhook) waits at most
 * FULL_WALK_MS.
 */
const FULL_WALK_MS = 1000;
const WALK_MARGIN_MS = 200;

type InFlight = { claim: ClaimedDelivery; abort: AbortController; startedAt: number };

/**
 * Claims due deliveries, sends them, and records every attempt. Several workers (in one
 * process or many) share the queue through row claims with a lease; see store.ts.
 */
export function startDeliveryWorker(options: WorkerOptions) {
  const { sql, secretKey, config, log } = options;
  const concurrency = options.concurrency ?? config.deliveryConcurrency;
  const perWebhookCap = options.perWebhook ?? config.deliveryConcurrencyPerWebhook;
  // ±20% around each scheduled delay, so retries of one outage do not all land at once.
  const policy: RetryPolicy = { schedule: config.retrySchedule, jitter: 0.2 };
  // Long enough for the attempt and writing its outcome; a claim older than this is
  // presumed lost (its worker died) and the delivery comes due again.
  const leaseMs = leaseFor(config.deliveryTimeoutMs);
  // As many sockets per receiving origin as attempts in flight: several webhooks often share
  // one endpoint's host, and a lower cap would queue their attempts behind each other.
  const sender = createSender({
    timeoutMs: config.deliveryTimeoutMs,
    allowPrivateTargets: config.allowPrivateTargets,
    connectionsPerOrigin: 2 * concurrency,
  });

  const inFlight = new Map<string, InFlight>();
  const inFlightPerWebhook = new Map<string, number>();
  const outcomes: Outcome[] = [];
  let claiming = false;
  let walkFrom: { at: Date; since: number } | undefined;
  let claimAgain = false;
  let flushing: Promise<void> | undefined;
  let stopping = false;
  let stopped: Promise<{ released: number }> | undefined;
  let idle: (() => void) | undefined;

  async function claimDue(): Promise<void> {
    if (stopping) return;
    if (claiming) {
      claimAgain = true;
      return;
    }
    claiming = true;
    try {
      do {
        claimAgain = false;
        const room = freeSlots();
        if (room <= 0) break;
        if (walkFrom && performance.now() - walkFrom.since > FULL_WALK_MS) walkFrom = undefined;
        const claimed = await claimDueDeliveries(sql, {
          limit: room,
          perWebhook: perWebhookCap,
          leaseMs,
          claimToken: randomBytes(9).toString('base64url'),
          inFlight: inFlightPerWebhook,
          walkFrom: walkFrom?.at,
        });
        if (claimed.length > 0) {
          const oldest = Math.min(...claimed.map((c) => c.dueAt.getTime())) - WALK_MARGIN_MS;
          walkFrom = {
            at: new Date(Math.max(oldest, walkFrom?.at.getTime() ?? oldest)),
            since: walkFrom?.since ?? performance.now(),
          };
        }
        for (const delivery of claimed) dispatch(delivery);
        // A full batch suggests more is due; otherwise wait for a wake-up.
        if (claimed.length === room) claimAgain = true;
      } while (claimAgain && !stopping);
    } catch (error) {
      log.warn({ err: error }, 'claiming deliveries failed; retrying on the next poll');
    } finally {
      claiming = false;
    }
  }

  /** Slots for new attempts: slow attempts (see SLOW_ATTEMPT_MS) leave theirs to others. */
  function freeSlots(): number {
    const now = performance.now();
    let fast = 0;
    for (const attempt of inFlight.values()) if (now - attempt.startedAt < SLOW_ATTEMPT_MS) fast++;
    return Math.min(concurrency - fast, 2 * concurrency - inFlight.size);
  }

  function dispatch(claim: ClaimedDelivery) {
    const abort = new AbortController();
    inFlight.set(claim.id, { claim, abort, startedAt: performance.now() });
    inFlightPerWebhook.set(claim.webhookId, (inFlightPerWebhook.get(claim.webhookId) ?? 0) + 1);
    const attemptedAt = new Date();
    let headers: Record<string, string>;
    try {
      headers = webhookHeaders(signingSecrets(claim), claim.eventId, claim.payload);
    } catch (error) {
      log.error({ err: error, deliveryId: claim.id }, 'cannot sign delivery (secret undecryptable?)');
      settle(claim, attemptedAt, {
        kind: 'internal',
        ok: false,
        statusCode: null,
        durationMs: 0,
        error: 'internal error: cannot sign',
        responseBody: null,
      });
      return;
    }
    void sender.send(claim.url, headers, claim.payload, abort.signal).then((result) => {
      // Cut short by a stop: not an attempt the receiver judged; the claim is released instead.
      if (stopping && abort.signal.aborted) return done(claim);
      settle(claim, attemptedAt, result);
    });
  }

  function settle(claim: ClaimedDelivery, attemptedAt: Date, result: AttemptResult) {
    outcomes.push(decide(claim, attemptedAt, result));
    options.metrics?.attempts.inc({ outcome: attemptOutcome(result) });
    if (result.ok) options.metrics?.latency.observe((Date.now() - claim.createdAt.getTime()) / 1000);
    done(claim);
    void flush();
  }

  function done(claim: ClaimedDelivery) {
    inFlight.delete(claim.id);
    const left = (inFlightPerWebhook.get(claim.webhookId) ?? 1) - 1;
    // A saturated webhook's backlog lies before the walk's start: look from the start again.
    if (left === perWebhookCap - 1) walkFrom = undefined;
    if (left > 0) inFlightPerWebhook.set(claim.webhookId, left);
    else inFlightPerWebhook.delete(claim.webhookId);
    if (inFlight.size === 0) idle?.();
    void claimDue();
  }

  function decide(claim: ClaimedDelivery, attemptedAt: Date, result: AttemptResult): Outcome {
    const base = {
      deliveryId: claim.id,
      workspaceId: claim.workspaceId,
      claimToken: claim.claimToken,
      webhookId: claim.webhookId,
      attempt: { attemptedAt, ...result },
    };
    if (result.ok) return { ...base, status: 'succeeded', nextAttemptAt: null, gone: false };
    if (result.statusCode === 410) return { ...base, status: 'failed', nextAttemptAt: null, gone: true };
    const retry = nextRetry(policy, claim.attemptCount + 1, result.retryAfterMs);
    return retry.retry
      ? { ...base, status: 'pending', nextAttemptAt: new Date(Date.now() + retry.delayMs), gone: false }
      : { ...base, status: 'failed', nextAttemptAt: null, gone: false };
  }

  function signingSecrets(claim: ClaimedDelivery): string[] {
    const secrets = [decryptSecret(secretKey, claim.secretEncrypted, claim.webhookId)];
    if (
      claim.previousSecretEncrypted &&
      claim.previousSecretExpiresAt &&
      claim.previousSecretExpiresAt.getTime() > Date.now()
    ) {
      secrets.push(decryptSecret(secretKey, claim.previousSecretEncrypted, claim.webhookId));
    }
    return secrets;
  }

  /**
   * Outcomes are written in batches: while one batch is being written the next ones
   * gather. A failed write is retried; until it succeeds the deliveries stay claimed,
   * and if this process dies first, the lease runs out and they are sent again
   * (at least once, never lost).
   */
  function flush(): Promise<void> {
    flushing ??= (async () => {
      try {
        while (outcomes.length > 0) {
          const batch = outcomes.splice(0, 500);
          try {
            await recordOutcomes(sql, batch, config.disableAfterMs);
          } catch (error) {
            outcomes.unshift(...batch);
            log.warn({ err: error, pending: outcomes.length }, 'recording delivery outcomes failed; retrying');
            await new Promise((resolve) => setTimeout(resolve, 1000));
            if (stopping && outcomes.length > 0 && !(await databaseReachable())) return;
          }
        }
      } finally {
        flushing = undefined;
      }
    })();
    return flushing;
  }

  const databaseReachable = () =>
    sql`select 1`.then(
      () => true,
      () => false,
    );

  const poll = setInterval(() => void claimDue(), options.pollMs ?? 1000);
  const syncHeld = setInterval(
    () =>
      void syncHeldDeliveries(sql).then(
        (moved) => moved > 0 && log.info({ moved }, 'held or released deliveries that missed a pause or resume'),
        (error: unknown) => log.warn({ err: error }, 'syncing held deliveries failed; trying again later'),
      ),
    5 * 60_000,
  );
  syncHeld.unref();
  // Re-sweeps on every (re)connect of the listening connection: wake-ups sent while it
  // was down are not replayed, so look for due work ourselves.
  const listening = sql
    .listen(
      DELIVERIES_DUE,
      () => void claimDue(),
      () => void claimDue(),
    )
    .catch((error: unknown) => {
      log.warn({ err: error }, 'LISTEN failed; relying on polling');
      return undefined;
    });

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

  async function stopOnce(graceMs: number) {
    stopping = true;
    clearInterval(poll);
    clearInterval(syncHeld);
    await (await listening)?.unlisten().catch(() => {});
    if (inFlight.size > 0) {
      await Promise.race([
        new Promise<void>((resolve) => {
          idle = resolve;
        }),
        new Promise((resolve) => setTimeout(resolve, graceMs)),
      ]);
    }
    const unfinished = [...inFlight.values()].map(({ claim, abort }) => {
      abort.abort();
      return claim;
    });
    await flush();
    await releaseClaims(sql, unfinished).catch((error: unknown) =>
      log.warn({ err: error }, 'releasing claims failed; their leases will expire'),
    );
    await sender.close();
    return { released: unfinished.length };
  }
}

export type DeliveryWorker = ReturnType<typeof startDeliveryWorker>;

export const leaseFor = (deliveryTimeoutMs: number) => 2 * deliveryTimeoutMs + 5_000;
