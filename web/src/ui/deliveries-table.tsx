import { useSubscription } from '@urql/preact';
import { useRef, useState } from 'preact/hooks';
import { formatShortTime, formatTime, STATUS_WORDS } from '../format.js';
import type { DeliveryRowFragment, DeliveryStatus } from '../gql/graphql.js';
import { DeliveryUpdates } from '../operations.js';

export type DeliveryFilter = { status?: DeliveryStatus; webhookId?: string; since?: string };

/**
 * The rows of a page of deliveries, kept current by the `deliveryUpdates` subscription
 * (server-sent events): status changes replace rows in place, new deliveries that match
 * the filter come in at the top, without reloading.
 */
export function useLiveDeliveries(rows: DeliveryRowFragment[], filter: DeliveryFilter, pageIsFirst: boolean) {
  // What came live belongs to one filter: another filter (or page) starts from its own rows.
  const view = `${filter.status ?? ''}|${filter.webhookId ?? ''}|${filter.since ?? ''}|${pageIsFirst}`;
  type Live = { view: string; updated: Map<string, DeliveryRowFragment>; added: DeliveryRowFragment[] };
  const [live, setLive] = useState<Live>({ view, updated: new Map(), added: [] });
  // The handler may outlive this render: read the page and filter as they are now.
  const current = useRef({ rows, filter, pageIsFirst, view });
  current.current = { rows, filter, pageIsFirst, view };
  const [{ error }] = useSubscription(
    { query: DeliveryUpdates, variables: { webhookId: filter.webhookId ?? null } },
    (_previous, data) => {
      const delivery = data.deliveryUpdates;
      const { rows, filter, pageIsFirst, view } = current.current;
      setLive((state) => {
        const base = state.view === view ? state : { view, updated: new Map(), added: [] };
        const updated = new Map(base.updated).set(delivery.id, delivery);
        const known = rows.some((row) => row.id === delivery.id) || base.added.some((row) => row.id === delivery.id);
        const matches =
          (!filter.status || delivery.status === filter.status) &&
          (!filter.since || delivery.createdAt >= filter.since);
        const added = !known && matches && pageIsFirst ? [delivery, ...base.added] : base.added;
        return { view, updated, added };
      });
      return data;
    },
  );
  const state = live.view === view ? live : { updated: new Map<string, DeliveryRowFragment>(), added: [] };
  const merged = [...state.added.filter((row) => !rows.some((r) => r.id === row.id)), ...rows].map(
    (row) => state.updated.get(row.id) ?? row,
  );
  // New deliveries that arrived live, for a count read when the page loaded.
  return { rows: merged, added: merged.length - rows.length, liveError: error };
}

export function DeliveriesTable({
  rows,
  caption,
  showWebhook = true,
}: {
  rows: DeliveryRowFragment[];
  caption: string;
  showWebhook?: boolean;
}) {
  return (
    <table>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Delivery</th>
          <th scope="col">Status</th>
          <th scope="col">Event</th>
          {showWebhook && <th scope="col">Webhook</th>}
          <th scope="col">Attempts</th>
          <th scope="col">Created</th>
          <th scope="col">Updated</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.id}>
            <th scope="row">
              <a href={`/dashboard/deliveries/${encodeURIComponent(row.id)}`}>{row.id}</a>
            </th>
            <td>
              <StatusWord status={row.status} />
            </td>
            <td>{row.event.type}</td>
            {showWebhook && (
              <td>
                <a href={`/dashboard/webhooks/${encodeURIComponent(row.webhook.id)}`}>{row.webhook.name}</a>
              </td>
            )}
            <td>{row.attemptCount}</td>
            <td class="time">
              <time dateTime={row.createdAt} title={formatTime(row.createdAt)}>
                {formatShortTime(row.createdAt)}
              </time>
            </td>
            <td class="time">
              <time dateTime={row.updatedAt} title={formatTime(row.updatedAt)}>
                {formatShortTime(row.updatedAt)}
              </time>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function StatusWord({ status }: { status: DeliveryStatus }) {
  return <span class={`status status-${status.toLowerCase()}`}>{STATUS_WORDS[status]}</span>;
}
