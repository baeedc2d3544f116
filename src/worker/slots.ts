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
 *
 * An attempt that has waited long on its endpoint can be set aside: it still holds its
 * slot of the worker and of its webhook's share, but no longer counts against its
 * workspace's, so a few hung endpoints do not starve the same tenant's healthy ones. At
 * most a quarter of the workspace's share at a time, so a tenant's thousand hung endpoints
 * still hold a bounded part of the worker (with the defaults, 64 + 16 of 256 slots).
 */
export function createSlots(limits: SlotLimits, ceiling: () => number = () => limits.total) {
  const asidePerWorkspace = Math.ceil(limits.perWorkspace / 4);
  const byWebhook: InFlightCounts = new Map();
  const byWorkspace = new Map<string, { counted: number; aside: number }>();
  let total = 0;
  return {
    limits,
    inFlight: byWebhook,
    size: () => total,
    /** Slots free now: under `total`, and under `ceiling` while the event loop is congested (loop-pressure.ts). */
    free: () => Math.max(0, Math.min(limits.total, ceiling()) - total),
    ofWebhook: (webhookId: string) => byWebhook.get(webhookId)?.count ?? 0,
    /** In flight for the workspace and counted against its share (not set aside). */
    ofWorkspace: (workspaceId: string) => byWorkspace.get(workspaceId)?.counted ?? 0,
    take({ webhookId, workspaceId }: Holder) {
      total++;
      const workspace = byWorkspace.get(workspaceId);
      if (workspace) workspace.counted++;
      else byWorkspace.set(workspaceId, { counted: 1, aside: 0 });
      const held = byWebhook.get(webhookId);
      if (held) held.count++;
      else byWebhook.set(webhookId, { workspaceId, count: 1 });
    },
    /** Stops counting one taken slot against its workspace, if the workspace has room aside; says whether it did. */
    setAside({ webhookId, workspaceId }: Holder): boolean {
      const workspace = byWorkspace.get(workspaceId);
      const held = byWebhook.get(webhookId);
      if (!workspace || !held || workspace.aside >= asidePerWorkspace || workspace.counted === 0) return false;
      workspace.counted--;
      workspace.aside++;
      held.aside = (held.aside ?? 0) + 1;
      return true;
    },
    /** Frees a taken slot; `setAside`: it had been set aside. */
    give({ webhookId, workspaceId }: Holder, setAside = false) {
      total--;
      const workspace = byWorkspace.get(workspaceId);
      if (workspace) {
        if (setAside) workspace.aside--;
        else workspace.counted--;
        if (workspace.counted + workspace.aside === 0) byWorkspace.delete(workspaceId);
      }
      const held = byWebhook.get(webhookId);
      if (held) {
        if (setAside) held.aside = (held.aside ?? 1) - 1;
        if (--held.count === 0) byWebhook.delete(webhookId);
      }
    },
  };
}

export type Slots = ReturnType<typeof createSlots>;
