import { DELIVERY_UPDATES, type DeliveryChange, decodeChanges } from '../db/channels.js';
import type { Listener, Resync } from '../db/listener.js';
import type { Pool } from '../db/sql.js';
import type { Logger } from '../lib/logger.js';
import { createLru } from '../lib/lru.js';

/** Changed deliveries a subscriber may have waiting; past that it is closed, not its queue grown. */
export const MAX_PENDING_CHANGES = 1_000;
/** Ids read in one statement: a burst of changes is read in pages, never in one read. */
export const FEED_PAGE = 100;
// After a lost LISTEN session, changes since this long before the loss are read again: a
// margin for the notices in flight then and for the database's clock against ours.
const RESYNC_MARGIN_MS = 10_000;
// At most this many changed deliveries are replayed after one loss (the newest); a
// subscriber that cannot take them all falls behind like any other.
const RESYNC_LIMIT = MAX_PENDING_CHANGES + 1;
// Webhooks whose agent this process remembers, for feeds scoped to agents (portal sessions).
// A webhook keeps its agent for life, so what is remembered never goes stale.
const WEBHOOK_AGENTS_KEPT = 20_000;
// Notices of one workspace waiting for their webhooks' agents to be read; past this its
// scoped feeds are closed (they fall behind) rather than the wait grown.
const MAX_NOTICES_WAITING = 50;

/** Why a feed ended: its subscriber fell further behind than MAX_PENDING_CHANGES. */
export class FellBehind extends Error {}

/** Ids of changed deliveries, and a signal that aborts if their subscriber falls behind meanwhile. */
export type FeedPage = { ids: string[]; fellBehind: AbortSignal };

type Subscriber = {
  workspaceId: string;
  webhookId: string | null;
  /** The agents whose deliveries it hears of (a portal session's); null: every agent. */
  agents: ReadonlySet<string> | null;
  /** Ids waiting, each once, oldest first. */
  queue: Set<string>;
  behind: boolean;
  /** Aborted when it falls behind: whatever it waits for (its read rate) ends at once. */
  lagging: AbortController;
  wake?: () => void;
};

/**
 * The process's listening session (db/listener.ts), fanned out to the subscriptions of this
 * process. Each subscriber gets the ids of changed deliveries in pages: what arrived while
 * it was busy, each id once. Notices sent while the session was lost are not replayed:
 * when it listens again, the deliveries of the subscribed workspaces updated since shortly
 * before the loss are read and handed out as changes.
 *
 * A feed scoped to agents queues only their deliveries, so another agent's fan-out cannot
 * fill it: a notice names each delivery's webhook, and the webhook's agent is read once
 * (one statement for a notice's unknown webhooks) and remembered.
 */
export function createDeliveryFeed(sql: Pool, options: { listener: Listener; log?: Logger }) {
  const subscribers = new Set<Subscriber>();
  let listening: Promise<{ unsubscribe: () => Promise<void> }> | undefined;
  const agentOf = createLru<string, string | null>({ maxEntries: WEBHOOK_AGENTS_KEPT });
  // Per workspace with scoped feeds: the notices waiting for their webhooks' agents, in order.
  const waitingForAgents = new Map<string, { notices: number; handedOut: Promise<void> }>();

  const fallBehind = (subscriber: Subscriber) => {
    subscriber.behind = true;
    subscriber.queue.clear();
    subscriber.lagging.abort();
    subscriber.wake?.();
  };
  const accepts = (subscriber: Subscriber, change: DeliveryChange) => {
    if (subscriber.behind || change.workspaceId !== subscriber.workspaceId) return false;
    if (subscriber.webhookId && change.webhookId !== subscriber.webhookId) return false;
    if (!subscriber.agents) return true;
    const agent = agentOf.get(change.webhookId);
    // An agent that could not be read: the change is queued, and its read filters it.
    return agent === undefined || (agent !== null && subscriber.agents.has(agent));
  };
  const handOut = (changes: DeliveryChange[], scoped: boolean) => {
    for (const change of changes) {
      for (const subscriber of subscribers) {
        if ((subscriber.agents !== null) !== scoped || !accepts(subscriber, change)) continue;
        subscriber.queue.add(change.deliveryId);
        if (subscriber.queue.size > MAX_PENDING_CHANGES) fallBehind(subscriber);
        else subscriber.wake?.();
      }
    }
  };
  const readAgents = async (webhookIds: string[]) => {
    if (webhookIds.length === 0) return;
    // On the pool, so within its statement_timeout: a read that cannot finish ends.
    const rows = await sql<{ id: string; agentId: string }[]>`/* webhooks.agents */
      select id, agent_id from webhooks where id = any(${webhookIds}::text[])`;
    for (const id of webhookIds) agentOf.set(id, null);
    for (const row of rows) agentOf.set(row.id, row.agentId);
  };
  /** A workspace's changes to its scoped feeds, once their webhooks' agents are known, in order. */
  const handOutScoped = (workspaceId: string, changes: DeliveryChange[]) => {
    const unknown = new Set<string>();
    for (const change of changes) if (agentOf.get(change.webhookId) === undefined) unknown.add(change.webhookId);
    const waiting = waitingForAgents.get(workspaceId);
    if (unknown.size === 0 && !waiting) return handOut(changes, true);
    const line = waiting ?? { notices: 0, handedOut: Promise.resolve() };
    if (line.notices >= MAX_NOTICES_WAITING) {
      for (const subscriber of subscribers)
        if (subscriber.agents && subscriber.workspaceId === workspaceId) fallBehind(subscriber);
      return;
    }
    waitingForAgents.set(workspaceId, line);
    line.notices += 1;
    line.handedOut = line.handedOut
      .then(() => readAgents([...unknown]))
      .catch((error: unknown) =>
        options.log?.warn({ err: error }, "reading the agents of changed deliveries' webhooks failed"),
      )
      .then(() => handOut(changes, true))
      .finally(() => {
        line.notices -= 1;
        if (line.notices === 0 && waitingForAgents.get(workspaceId) === line) waitingForAgents.delete(workspaceId);
      });
  };
  /** Hands changes to every feed: unscoped ones now, scoped ones per workspace as handOutScoped says. */
  const receive = (changes: DeliveryChange[]) => {
    handOut(changes, false);
    const scopedWorkspaces = new Set<string>();
    for (const subscriber of subscribers) if (subscriber.agents) scopedWorkspaces.add(subscriber.workspaceId);
    if (scopedWorkspaces.size === 0) return;
    const byWorkspace = new Map<string, DeliveryChange[]>();
    for (const change of changes) {
      if (!scopedWorkspaces.has(change.workspaceId)) continue;
      const list = byWorkspace.get(change.workspaceId) ?? [];
      list.push(change);
      byWorkspace.set(change.workspaceId, list);
    }
    for (const [workspaceId, ofWorkspace] of byWorkspace) handOutScoped(workspaceId, ofWorkspace);
  };
  const resync = async ({ reconnected, lostAt }: Resync) => {
    const workspaces = [...new Set([...subscribers].map((s) => s.workspaceId))];
    if (!reconnected || lostAt === undefined || workspaces.length === 0) return;
    const since = new Date(lostAt - RESYNC_MARGIN_MS);
    const changed = await sql<DeliveryChange[]>`/* deliveries.changed-since */
      select workspace_id, webhook_id, id as delivery_id from deliveries
      where workspace_id = any(${workspaces}::text[]) and updated_at >= ${since}
      order by updated_at desc limit ${RESYNC_LIMIT}`;
    receive(changed);
  };
  const ensureListening = () => {
    listening ??= options.listener.subscribe(DELIVERY_UPDATES, {
      onNotify: (payload) => receive(decodeChanges(payload)),
      onListen: (state) =>
        void resync(state).catch((error: unknown) =>
          options.log?.warn({ err: error }, 'reading the deliveries changed while LISTEN was lost failed'),
        ),
    });
    return listening;
  };

  return {
    /**
     * Pages of at most FEED_PAGE ids of changed deliveries of `workspaceId`, optionally of
     * one webhook only (`webhookId`) or of some agents' webhooks only (`agents`), until
     * `signal` aborts: then the stream ends with the signal's reason. A subscriber that lets
     * more than MAX_PENDING_CHANGES pile up (it reads too slowly, or a fan-out changed more
     * than anyone could follow) ends with FellBehind: it must re-read what it needs and
     * subscribe again; each page's `fellBehind` aborts then, so the page in hand is dropped
     * rather than read out at the pace that let it fall behind. `pace` is awaited before
     * each page (the key's read rate); it must end when its signal aborts.
     */
    async *subscribe({
      workspaceId,
      webhookId = null,
      agents = null,
      signal,
      pace = async () => {},
    }: {
      workspaceId: string;
      webhookId?: string | null;
      agents?: readonly string[] | null;
      signal: AbortSignal;
      pace?: (signal: AbortSignal) => Promise<void>;
    }): AsyncGenerator<FeedPage> {
      const subscriber: Subscriber = {
        workspaceId,
        webhookId,
        agents: agents ? new Set(agents) : null,
        queue: new Set(),
        behind: false,
        lagging: new AbortController(),
      };
      const paceUntil = AbortSignal.any([signal, subscriber.lagging.signal]);
      const onAbort = () => subscriber.wake?.();
      signal.addEventListener('abort', onAbort);
      subscribers.add(subscriber);
      try {
        await ensureListening();
        for (;;) {
          signal.throwIfAborted();
          if (subscriber.queue.size === 0 && !subscriber.behind) {
            await new Promise<void>((resolve) => {
              subscriber.wake = resolve;
            });
            subscriber.wake = undefined;
            signal.throwIfAborted();
          }
          await pace(paceUntil);
          signal.throwIfAborted();
          if (subscriber.behind) {
            throw new FellBehind(
              `This subscription fell more than ${MAX_PENDING_CHANGES} changes behind and was closed: read the deliveries you need (Query.deliveries with since) and subscribe again`,
            );
          }
          const page: string[] = [];
          for (const id of subscriber.queue) {
            subscriber.queue.delete(id);
            page.push(id);
            if (page.length === FEED_PAGE) break;
          }
          if (page.length > 0) yield { ids: page, fellBehind: subscriber.lagging.signal };
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        subscribers.delete(subscriber);
      }
    },
    async close() {
      await (await listening)?.unsubscribe();
    },
  };
}

export type DeliveryFeed = ReturnType<typeof createDeliveryFeed>;
