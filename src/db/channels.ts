/**
 * The PostgreSQL NOTIFY channels instances talk over, and what each carries. Notices of
 * deliveries are sent after the writer's commit, in one statement (queue/enqueue.ts:
 * announceDue, announceChanges), so a listener never hears of a row it cannot read yet and
 * commits do not queue on the notification lock; a crash in between loses a wake-up, which
 * the workers' poll covers. Notices sent while a listener is disconnected are lost too, so
 * every listener looks for itself when it (re)connects.
 */

/** Deliveries became due: wakes the delivery workers (no payload). */
export const DELIVERIES_DUE = 'deliveries_due';

/** Deliveries changed: carries [workspaceId, webhookId, deliveryId] triples to live subscriptions (Subscription.deliveryUpdates). */
export const DELIVERY_UPDATES = 'delivery_updates';

/**
 * Events were erased (events/erasure.ts): carries a JSON list of their ids, so every worker
 * drops what it claimed of them and has not sent yet.
 */
export const EVENTS_ERASED = 'events_erased';
/** Event ids per EVENTS_ERASED notice: about 23 bytes each, well under NOTIFY's 8000. */
export const ERASED_PER_NOTICE = 200;

/** An API key was revoked: carries its id, so every instance ends the key's open streams. */
export const API_KEY_REVOKED = 'api_key_revoked';

/** Which delivery changed, and whose it is; a subscriber reads the rest from the database. */
export type DeliveryChange = { workspaceId: string; webhookId: string; deliveryId: string };

// NOTIFY payloads must stay under 8000 bytes; a change takes about 70.
export const CHANGES_PER_NOTICE = 100;

export function encodeChanges(changes: DeliveryChange[]): string {
  return JSON.stringify(changes.map((c) => [c.workspaceId, c.webhookId, c.deliveryId]));
}

export function decodeChanges(payload: string): DeliveryChange[] {
  return (JSON.parse(payload) as [string, string, string][]).map(([workspaceId, webhookId, deliveryId]) => ({
    workspaceId,
    webhookId,
    deliveryId,
  }));
}
