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
 * A worker's attempts in flight, counted by webhook (and so by workspace). Claims ask for
 * no more than `free()` and top each share up to its limit (the claim reads `inFlight`),
 * so the limits hold however the endpoints behave.
 */
export function createSlots(limits: SlotLimits) {
  const byWebhook: InFlightCounts = new Map();
  const byWorkspace = new Map<string, number>();
  let total = 0;
  return {
    limits,
    inFlight: byWebhook,
    size: () => total,
    free: () => limits.total - total,
    ofWebhook: (webhookId: string) => byWebhook.get(webhookId)?.count ?? 0,
    ofWorkspace: (workspaceId: string) => byWorkspace.get(workspaceId) ?? 0,
    take({ webhookId, workspaceId }: Holder) {
      total++;
      byWorkspace.set(workspaceId, (byWorkspace.get(workspaceId) ?? 0) + 1);
      const held = byWebhook.get(webhookId);
      if (held) held.count++;
      else byWebhook.set(webhookId, { workspaceId, count: 1 });
    },
    give({ webhookId, workspaceId }: Holder) {
      total--;
      const n = (byWorkspace.get(workspaceId) ?? 1) - 1;
      if (n === 0) byWorkspace.delete(workspaceId);
      else byWorkspace.set(workspaceId, n);
      const held = byWebhook.get(webhookId);
      if (held && --held.count === 0) byWebhook.delete(webhookId);
    },
  };
}
