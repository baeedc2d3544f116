import { useSubscription } from '@urql/preact';
import { useRef, useState } from 'preact/hooks';
import { formatTime, STATUS_WORDS } from '../format.js';
import type { DeliveryRowFragment, DeliveryStatus } from '../gql/graphql.js';
import { DeliveryUpdates } from '../operations.js';

export type DeliveryFilter = { status?: DeliveryStatus; webhookId?: string; since?: string };

/**
 * The rows of a page of deliveries, kept current by the `deliveryUpdates` subscription
 * (server-sent events): status changes replace rows in place, new deliveries that match
 * the filter come in at the top, without reloading.
 */
export function useLiveDeliveries(rows: DeliveryRowFragment[], filter: DeliveryFilter, pageIsFirst: boolean) {
  const [live, setLive] = useState<{ updated: Map<string, DeliveryRowFragment>; added: DeliveryRowFragment[] }>({
    updated: new Map(),
    added: [],
  });
  // The handler may outlive this render: read the page and filter as they are now.
  const current = useRef({ rows, filter, pageIsFirst });
  current.current = { rows, filter, pageIsFirst };
  const [{ error }] = useSubscription(
    { query: DeliveryUpdates, variables: { webhookId: filter.webhookId ?? null } },
    (_previous, data) => {
      const delivery = data.deliveryUpdates;
      const { rows, filter, pageIsFirst } = current.current;
      setLive((state) => {
        const updated = new Map(state.updated).set(delivery.id, delivery);
        const known = rows.some((row) => row.id === delivery.id) || state.added.some((row) => row.id === delivery.id);
        const matches =
          (!filter.status || delivery.status === filter.status) &&
          (!filter.since || delivery.createdAt >= filter.since);
        const added = !known && matches && pageIsFirst ? [delivery, ...state.added] : state.added;
        return { updated, added };
      });
      return data;
    },
  );
  const merged = [...live.added.filter((row) => !rows.some((r) => r.id === row.id)), ...rows].map(
    (row) => live.updated.get(row.id) ?? row,
  );
  return { rows: merged, liveError: error };
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
            <td>{formatTime(row.createdAt)}</td>
            <td>{formatTime(row.updatedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function StatusWord({ status }: { status: DeliveryStatus }) {
  return <span class={`status status-${status.toLowerCase()}`}>{STATUS_WORDS[status]}</span>;
}
