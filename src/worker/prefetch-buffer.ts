import type { ClaimedDelivery } from '../queue/claim.js';

type Queue = { workspaceId: string; share: number; claims: ClaimedDelivery[]; since: number[] };

/** What the buffer needs to know of the slots (worker/slots.ts). */
type SlotCounts = {
  limits: { perWorkspace: number };
  ofWebhook(webhookId: string): number;
  ofWorkspace(workspaceId: string): number;
};

/**
 * Deliveries a worker has claimed (leased) but not started: a share claimed ahead for
 * webhooks that answer quickly, so a finished attempt's slot takes the next delivery at once
 * instead of waiting a claim's round trip. Also whatever a claim returned that had no slot yet.
 *
 * A delivery starts only within the limits a claim would have given it: its webhook below
 * the share the claim computed, its workspace below its share of the worker. Of those that
 * may start, the one whose workspace, then webhook, has the fewest in flight goes first.
 * The same policy as the claim's (queue/claim.ts), applied again at start time: a lease
 * holds up to two shares, and which of them may run now is known only when a slot frees.
 */
export function createPrefetchBuffer() {
  const byWebhook = new Map<string, Queue>();
  let size = 0;

  function remove(webhookId: string, queue: Queue, count: number) {
    const taken = queue.claims.splice(0, count);
    queue.since.splice(0, count);
    size -= taken.length;
    if (queue.claims.length === 0) byWebhook.delete(webhookId);
    return taken;
  }

  /** Everything waiting for one webhook, taken out (its endpoint stopped answering well). */
  function takeWebhook(webhookId: string): ClaimedDelivery[] {
    const queue = byWebhook.get(webhookId);
    return queue ? remove(webhookId, queue, queue.claims.length) : [];
  }

  return {
    byWebhook: byWebhook as ReadonlyMap<string, { workspaceId: string; claims: readonly ClaimedDelivery[] }>,
    size: () => size,
    ofWebhook: (webhookId: string) => byWebhook.get(webhookId)?.claims.length ?? 0,
    put(claim: ClaimedDelivery, now: number) {
      let queue = byWebhook.get(claim.webhookId);
      if (!queue) {
        queue = { workspaceId: claim.workspaceId, share: claim.share, claims: [], since: [] };
        byWebhook.set(claim.webhookId, queue);
      }
      // The latest claim's view of the share (it shrinks as more webhooks share the workspace).
      queue.share = claim.share;
      queue.claims.push(claim);
      queue.since.push(now);
      size++;
    },
    /** The next delivery that may start now, taken out; undefined when none may. */
    next(slots: SlotCounts): ClaimedDelivery | undefined {
      let best: [string, Queue] | undefined;
      let bestWorkspace = 0;
      let bestWebhook = 0;
      for (const entry of byWebhook) {
        const [webhookId, queue] = entry;
        const inWebhook = slots.ofWebhook(webhookId);
        if (inWebhook >= queue.share) continue;
        const inWorkspace = slots.ofWorkspace(queue.workspaceId);
        if (inWorkspace >= slots.limits.perWorkspace) continue;
        if (
          !best ||
          inWorkspace < bestWorkspace ||
          (inWorkspace === bestWorkspace &&
            (inWebhook < bestWebhook ||
              (inWebhook === bestWebhook && (queue.since[0] as number) < (best[1].since[0] as number))))
        ) {
          best = entry;
          bestWorkspace = inWorkspace;
          bestWebhook = inWebhook;
        }
      }
      return best && remove(best[0], best[1], 1)[0];
    },
    takeWebhook,
    /** Everything waiting since before `time`, taken out. */
    takeWaitingSince(time: number): ClaimedDelivery[] {
      const taken: ClaimedDelivery[] = [];
      for (const [webhookId, queue] of byWebhook) {
        const stale = queue.since.findIndex((since) => since >= time);
        taken.push(...remove(webhookId, queue, stale === -1 ? queue.claims.length : stale));
      }
      return taken;
    },
    /** Everything waiting of these events, taken out (they were erased). */
    takeEvents(eventIds: ReadonlySet<string>): ClaimedDelivery[] {
      const taken: ClaimedDelivery[] = [];
      for (const [webhookId, queue] of byWebhook) {
        for (let i = queue.claims.length - 1; i >= 0; i--) {
          const claim = queue.claims[i] as ClaimedDelivery;
          if (!eventIds.has(claim.eventId)) continue;
          queue.claims.splice(i, 1);
          queue.since.splice(i, 1);
          size--;
          taken.push(claim);
        }
        if (queue.claims.length === 0) byWebhook.delete(webhookId);
      }
      return taken;
    },
    takeAll(): ClaimedDelivery[] {
      return [...byWebhook.keys()].flatMap(takeWebhook);
    },
  };
}

export type PrefetchBuffer = ReturnType<typeof createPrefetchBuffer>;
