import type { ClaimedDelivery, InFlightCounts } from '../queue/claim.js';
import type { PrefetchBuffer } from './prefetch-buffer.js';
import type { Slots } from './slots.js';

/** Free slots that make a finished attempt trigger a claim. */
const REFILL_BATCH = 4;
/** A webhook is claimed ahead for while its attempts keep succeeding within a quarter of the ahead wait, and for this long after its last. */
export const FLOWING_FOR_MS = 5000;
/** An attempt its endpoint has held this long is set aside: it stops counting against its workspace's share. */
export const SET_ASIDE_AFTER_MS = 1000;

/** `sentAt`: when its request went out (after any wait for its rate-limit slot); `setAside`: see slots.ts. */
export type InFlight = { claim: ClaimedDelivery; abort: AbortController; sentAt?: number; setAside?: boolean };

export type SchedulerOptions = {
  slots: Slots;
  prefetched: PrefetchBuffer;
  /** How long a delivery claimed ahead may wait for a slot before it goes back to the queue. */
  aheadWaitMs: number;
  /** How long an erasure is remembered: a claim is at most a lease old, so one heard longer ago concerns none. */
  leaseMs: number;
  /** The clock, in milliseconds (tests pass a fake one). */
  now?: () => number;
};

/** The reason an erasure cuts short an attempt still waiting to be sent. */
export const ERASED = new Error('the event was erased');

/**
 * What a worker decides by the clock, without I/O: how much the next claim asks for (and for
 * which webhooks one share ahead), which claimed delivery starts when a slot frees, which
 * long waits are set aside, and which claims go back to the queue. The worker does the
 * claiming, sending and writing around it.
 */
export function createScheduler({ slots, prefetched, aheadWaitMs, leaseMs, now = Date.now }: SchedulerOptions) {
  // Webhooks whose last attempt here succeeded quickly, with when: these are claimed ahead.
  const flowing = new Map<string, number>();
  const inFlight = new Map<string, InFlight>();
  // Events erased lately, with when this worker heard: a claim of one is dropped unsent.
  const erasedEvents = new Map<string, number>();

  /**
   * Attempts waiting on hung or slow endpoints stop counting against their workspace's share
   * (slots.ts), so its other webhooks may take the room. Says whether any was set aside.
   */
  function setAsideLongWaits(at: number): boolean {
    let setAside = false;
    for (const entry of inFlight.values()) {
      if (entry.setAside || entry.sentAt === undefined || at - entry.sentAt < SET_ASIDE_AFTER_MS) continue;
      if (slots.setAside(entry.claim)) entry.setAside = setAside = true;
    }
    return setAside;
  }

  /** In flight and waiting in the prefetch buffer, by webhook, for the claim to top up. */
  function claimedByWebhook(at: number): InFlightCounts {
    const isFlowing = (webhookId: string) => at - (flowing.get(webhookId) ?? -FLOWING_FOR_MS) < FLOWING_FOR_MS;
    const counts: InFlightCounts = new Map();
    for (const [webhookId, { workspaceId, count, aside }] of slots.inFlight) {
      counts.set(webhookId, { workspaceId, count, aside, ahead: isFlowing(webhookId) });
    }
    for (const [webhookId, { workspaceId, claims }] of prefetched.byWebhook) {
      const counted = counts.get(webhookId);
      if (counted) counted.count += claims.length;
      else counts.set(webhookId, { workspaceId, count: claims.length, ahead: isFlowing(webhookId) });
    }
    return counts;
  }

  return {
    inFlight: inFlight as ReadonlyMap<string, InFlight>,

    /** Attempts sent at least SET_ASIDE_AFTER_MS ago and still waiting on their endpoints. */
    waitingLong(at: number): number {
      let waiting = 0;
      for (const entry of inFlight.values()) {
        if (entry.sentAt !== undefined && at - entry.sentAt >= SET_ASIDE_AFTER_MS) waiting++;
      }
      return waiting;
    },

    /**
     * What the next claim asks for: `limit` rows, the free slots plus room ahead for the
     * webhooks flowing (a second share each, no more in all than the slots), with what is
     * claimed already by webhook. `room`: the free slots alone.
     */
    claimRequest(): { room: number; limit: number; inFlight: InFlightCounts } {
      const room = slots.free();
      const aheadRoom = flowing.size > 0 ? Math.max(0, Math.min(room, slots.limits.total - prefetched.size())) : 0;
      const at = now();
      // Between sweeps too: a claim should see the room long waits have given back.
      setAsideLongWaits(at);
      return { room, limit: room + aheadRoom, inFlight: claimedByWebhook(at) };
    },

    /** Claimed deliveries wait in the prefetch buffer until a slot of theirs is free. */
    claimed(claims: ClaimedDelivery[]) {
      const at = now();
      for (const claim of claims) prefetched.put(claim, at);
    },

    /** The next claimed delivery that may start now, its slot taken; undefined when none may. */
    start(): InFlight | undefined {
      if (slots.free() <= 0) return undefined;
      const claim = prefetched.next(slots);
      if (!claim) return undefined;
      const entry: InFlight = { claim, abort: new AbortController() };
      inFlight.set(claim.id, entry);
      slots.take(claim);
      return entry;
    },

    /** Its request goes out now: from here a long wait may set it aside. */
    sent(entry: InFlight) {
      entry.sentAt = now();
    },

    /** Gives the attempt's slot back. */
    finished(entry: InFlight) {
      inFlight.delete(entry.claim.id);
      slots.give(entry.claim, entry.setAside);
    },

    /**
     * How the webhook's attempt went. One not `well` (failing: its circuit may be about to
     * open; or slow) keeps nothing claimed ahead: returns what waits for it, for the queue,
     * where the claim applies the circuit and the shares afresh.
     */
    judged(webhookId: string, well: boolean): ClaimedDelivery[] {
      if (well) {
        flowing.set(webhookId, now());
        return [];
      }
      flowing.delete(webhookId);
      return prefetched.takeWebhook(webhookId);
    },

    /**
     * Whether a finished attempt of `claim`'s webhook should trigger a claim. Refills come in
     * batches: a claim per finished attempt would cost the database more than the attempts
     * (new work wakes the worker through NOTIFY at once, whatever this says). A webhook with
     * half a share or more still waiting ahead needs no claim yet.
     */
    wantsClaimAfter(claim: ClaimedDelivery): boolean {
      const stocked = prefetched.ofWebhook(claim.webhookId) * 2 >= claim.share;
      return (slots.free() >= Math.min(REFILL_BATCH, slots.limits.total) || slots.size() === 0) && !stocked;
    },

    /**
     * Every so often (a fraction of the ahead wait): returns what waited in the buffer past
     * `aheadWaitMs` (its webhook's slots stayed busy), for the queue; forgets webhooks that
     * stopped flowing; sets aside long waits, and says whether it did (a slot may start more).
     */
    sweep(): { handBack: ClaimedDelivery[]; setAside: boolean } {
      const at = now();
      const handBack = prefetched.takeWaitingSince(at - aheadWaitMs);
      for (const [webhookId, since] of flowing) if (at - since >= FLOWING_FOR_MS) flowing.delete(webhookId);
      for (const [eventId, heard] of erasedEvents) if (at - heard >= leaseMs) erasedEvents.delete(eventId);
      return { handBack, setAside: setAsideLongWaits(at) };
    },

    /**
     * Events were erased: what waits in the buffer for them is taken out (returned, to be
     * dropped), and attempts of them not yet sent are aborted with ERASED. A request already
     * under way may finish.
     */
    erased(eventIds: readonly string[]): ClaimedDelivery[] {
      const at = now();
      for (const id of eventIds) erasedEvents.set(id, at);
      for (const entry of inFlight.values()) {
        if (entry.sentAt === undefined && erasedEvents.has(entry.claim.eventId)) entry.abort.abort(ERASED);
      }
      return prefetched.takeEvents(new Set(eventIds));
    },

    /** Whether the event was erased since its deliveries could have been claimed. */
    isErased: (eventId: string): boolean => erasedEvents.has(eventId),

    /** Everything waiting in the buffer, taken out (a stop hands it back). */
    takeAllWaiting: (): ClaimedDelivery[] => prefetched.takeAll(),
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;
