import type { InFlightCounts } from '../queue/claim.js';

export type SlotLimits = {
  /** Attempts in flight in this worker: the ceiling on its sockets, whatever the endpoints do. */
  total: number;
  /** Of those, for one workspace: what one tenant's endpoints can hold. */
  perWorkspace: number;
  /** Of those, to one webhook. */
  perWebhook: number;
};

type Holder = { webhookId: string; workspaceId: string };

/**
 * A worker's attempts in flight, counted by webhook and workspace. Claims ask for no more
 * than `free()` and top each share up to its limit (the claim reads `inFlight`), so the
 * limits hold however the endpoints behave.
 */
export function createSlots(limits: SlotLimits) {
  const counts: InFlightCounts = { webhooks: new Map(), workspaces: new Map() };
  let total = 0;

  const add = (map: Map<string, number>, key: string, by: number) => {
    const n = (map.get(key) ?? 0) + by;
    if (n > 0) map.set(key, n);
    else map.delete(key);
  };

  return {
    limits,
    inFlight: counts,
    size: () => total,
    free: () => limits.total - total,
    take(holder: Holder) {
      total++;
      add(counts.webhooks, holder.webhookId, 1);
      add(counts.workspaces, holder.workspaceId, 1);
    },
    give(holder: Holder) {
      total--;
      add(counts.webhooks, holder.webhookId, -1);
      add(counts.workspaces, holder.workspaceId, -1);
    },
  };
}

export type Slots = ReturnType<typeof createSlots>;
