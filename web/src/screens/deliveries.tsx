import { useQuery } from '@urql/preact';
import { useMemo } from 'preact/hooks';
import { formatCount, STATUS_WORDS } from '../format.js';
import type { DeliveryStatus } from '../gql/graphql.js';
import { DeliveryList, WebhookChoices } from '../operations.js';
import { navigate } from '../router.js';
import { DeliveriesTable, type DeliveryFilter, useLiveDeliveries } from '../ui/deliveries-table.js';
import { Empty, ErrorState, Loading } from '../ui/states.js';

const PAGE = 50;
const PERIODS: Record<string, { label: string; ms: number }> = {
  '1h': { label: 'Last hour', ms: 3_600_000 },
  '24h': { label: 'Last 24 hours', ms: 86_400_000 },
  '7d': { label: 'Last 7 days', ms: 7 * 86_400_000 },
};
const STATUSES = Object.keys(STATUS_WORDS) as DeliveryStatus[];

/** "3 deliveries, newest first"; "1,000+ …" when there are more than were counted. */
function describeTotal(total: { count: number; exact: boolean }): string {
  return `${formatCount(total)} ${total.count === 1 && total.exact ? 'delivery' : 'deliveries'}, newest first`;
}

/** Filters live in the address (?status=FAILED&webhook=wh_…&period=24h&after=…): links and reloads keep them. */
export function DeliveriesScreen({ query }: { query: URLSearchParams }) {
  const status = STATUSES.find((s) => s === query.get('status'));
  const webhookId = query.get('webhook') || undefined;
  const period = PERIODS[query.get('period') ?? ''] ? (query.get('period') as string) : '';
  const after = query.get('after') || null;
  const since = useMemo(
    () => (period ? new Date(Date.now() - (PERIODS[period]?.ms ?? 0)).toISOString() : undefined),
    [period],
  );
  const filter: DeliveryFilter = { status, webhookId, since };
  const [{ data, error, fetching }, refetch] = useQuery({
    query: DeliveryList,
    variables: { first: PAGE, after, status: status ?? null, webhookId: webhookId ?? null, since: since ?? null },
  });
  const [{ data: choices }] = useQuery({ query: WebhookChoices });
  const page = data?.deliveries;
  const live = useLiveDeliveries(page?.edges.map((e) => e.node) ?? [], filter, !after);

  function setFilter(name: string, value: string) {
    const next = new URLSearchParams(query);
    if (value) next.set(name, value);
    else next.delete(name);
    if (name !== 'after') next.delete('after');
    const search = next.toString();
    navigate(`/dashboard/deliveries${search ? `?${search}` : ''}`, { replace: name !== 'after' });
  }

  return (
    <>
      <h1 tabIndex={-1}>Deliveries</h1>
      <form class="filters" aria-label="Filter deliveries" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select value={status ?? ''} onChange={(e) => setFilter('status', e.currentTarget.value)}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {STATUS_WORDS[s]}
              </option>
            ))}
          </select>
        </label>
        <label>
          Webhook
          <select value={webhookId ?? ''} onChange={(e) => setFilter('webhook', e.currentTarget.value)}>
            <option value="">Any webhook</option>
            {choices?.webhooks.edges.map(({ node }) => (
              <option key={node.id} value={node.id}>
                {node.name}
              </option>
            ))}
            {webhookId && !choices?.webhooks.edges.some((e) => e.node.id === webhookId) && (
              <option value={webhookId}>{webhookId}</option>
            )}
          </select>
        </label>
        <label>
          Created
          <select value={period} onChange={(e) => setFilter('period', e.currentTarget.value)}>
            <option value="">Any time</option>
            {Object.entries(PERIODS).map(([value, { label }]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </form>
      {live.liveError ? (
        <p class="muted" role="status">
          Live updates stopped ({live.liveError.message}); reload the page to see new deliveries.
        </p>
      ) : (
        <p class="muted">New deliveries and status changes appear here as they happen.</p>
      )}
      {error && <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />}
      {!page && fetching && <Loading what="deliveries" />}
      {page && live.rows.length === 0 && (
        <Empty>
          No deliveries match. {status || webhookId || period ? 'Change the filters above, or ' : ''}publish an event or
          send a test event from a webhook's page.
        </Empty>
      )}
      {page && live.rows.length > 0 && (
        <DeliveriesTable
          rows={live.rows}
          caption={describeTotal({ ...page.boundedCount, count: page.boundedCount.count + live.added })}
        />
      )}
      <div class="actions">
        {after && (
          <button type="button" onClick={() => setFilter('after', '')}>
            Newest
          </button>
        )}
        {page?.pageInfo.hasNextPage && (
          <button type="button" onClick={() => setFilter('after', page.pageInfo.endCursor ?? '')}>
            Older
          </button>
        )}
      </div>
    </>
  );
}
