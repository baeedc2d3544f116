import { useMutation, useQuery, useSubscription } from '@urql/preact';
import { useState } from 'preact/hooks';
import { describeError } from '../client.js';
import { formatTime } from '../format.js';
import { DeliveryDetail, DeliveryUpdates, RetryDelivery } from '../operations.js';
import { can } from '../session.js';
import { StatusWord } from '../ui/deliveries-table.js';
import { Empty, ErrorState, Loading } from '../ui/states.js';

export function DeliveryScreen({ id }: { id: string }) {
  const [{ data, error, fetching }, refetch] = useQuery({ query: DeliveryDetail, variables: { id } });
  const delivery = data?.delivery;
  const [retrying, retry] = useMutation(RetryDelivery);
  const [message, setMessage] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  // Attempts are not in the live feed: re-read the delivery when the feed says it changed.
  useSubscription(
    { query: DeliveryUpdates, variables: { webhookId: delivery?.webhook.id ?? null }, pause: !delivery },
    (_previous, update) => {
      if (update.deliveryUpdates.id === id) refetch({ requestPolicy: 'network-only' });
      return update;
    },
  );

  const heading = <h1 tabIndex={-1}>Delivery {id}</h1>;
  if (error) {
    return (
      <>
        {heading}
        <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
      </>
    );
  }
  if (!data && fetching) {
    return (
      <>
        {heading}
        <Loading what="the delivery" />
      </>
    );
  }
  if (!delivery) {
    return (
      <>
        {heading}
        <p>
          There is no such delivery in this workspace (deliveries older than the retention period are removed). See{' '}
          <a href="/dashboard/deliveries">Deliveries</a>.
        </p>
      </>
    );
  }

  return (
    <>
      <p class="breadcrumb">
        <a href="/dashboard/deliveries">Deliveries</a>
      </p>
      {heading}
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <StatusWord status={delivery.status} />
          {delivery.nextAttemptAt && ` — next attempt ${formatTime(delivery.nextAttemptAt)}`}
        </dd>
        <dt>Webhook</dt>
        <dd>
          <a href={`/dashboard/webhooks/${encodeURIComponent(delivery.webhook.id)}`}>{delivery.webhook.name}</a>
        </dd>
        <dt>Event</dt>
        <dd>
          {delivery.event.type} ({delivery.event.id}), agent {delivery.event.agentId}
          {delivery.event.conversationId && `, conversation ${delivery.event.conversationId}`}
        </dd>
        <dt>Created</dt>
        <dd>{formatTime(delivery.createdAt)}</dd>
      </dl>
      {can('RETRY') && (
        <p>
          <button
            type="button"
            disabled={retrying.fetching}
            onClick={async () => {
              setMessage(null);
              setFailure(null);
              const result = await retry({ id });
              if (result.error) setFailure(describeError(result.error));
              else setMessage('A new attempt is on its way.');
            }}
          >
            Retry
          </button>
        </p>
      )}
      <div role="status" class="message">
        {message}
      </div>
      {failure && <p role="alert">{failure}</p>}
      <h2>Attempts</h2>
      {delivery.attempts.length === 0 ? (
        <Empty>No attempt yet: the first one is due {formatTime(delivery.nextAttemptAt)}.</Empty>
      ) : (
        <table>
          <caption>{delivery.attempts.length} attempts, oldest first</caption>
          <thead>
            <tr>
              <th scope="col">Attempted</th>
              <th scope="col">Status code</th>
              <th scope="col">Duration</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {delivery.attempts.map((attempt) => (
              <tr key={attempt.attemptedAt}>
                <td>{formatTime(attempt.attemptedAt)}</td>
                <td>{attempt.statusCode ?? '—'}</td>
                <td>{attempt.durationMs} ms</td>
                <td>{attempt.error ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
