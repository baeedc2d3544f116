import { useMutation, useQuery } from '@urql/preact';
import { useMemo, useState } from 'preact/hooks';
import { describeError } from '../client.js';
import { formatCount, HEALTH_WORDS, wireName } from '../format.js';
import { RegisterWebhook, WebhookList } from '../operations.js';
import { can } from '../session.js';
import { describeBacklog, useBacklogs } from '../ui/backlog.js';
import { Dialog } from '../ui/dialog.js';
import { Empty, ErrorState, Loading, ShownOnce } from '../ui/states.js';
import { WebhookForm } from './webhook-form.js';

const PAGE = 50;

export function WebhooksScreen() {
  const [after, setAfter] = useState<string | null>(null);
  // An empty list names no Webhook type: say it, so that a registration refreshes the list.
  const context = useMemo(() => ({ additionalTypenames: ['Webhook'] }), []);
  const [{ data, error, fetching }, refetch] = useQuery({
    query: WebhookList,
    variables: { first: PAGE, after },
    context,
  });
  const [registering, setRegistering] = useState(false);
  const connection = data?.webhooks;
  const { backlogs, available: withBacklog } = useBacklogs(connection?.edges.map((e) => e.node.id) ?? []);

  return (
    <>
      <h1 tabIndex={-1}>Webhooks</h1>
      {can('MANAGE_WEBHOOKS') && (
        <p>
          <button type="button" class="primary" onClick={() => setRegistering(true)}>
            Register webhook
          </button>
        </p>
      )}
      {error && <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />}
      {!connection && fetching && <Loading what="webhooks" />}
      {connection && connection.edges.length === 0 && (
        <Empty>
          No webhooks yet.{' '}
          {can('MANAGE_WEBHOOKS') ? 'Register one to start receiving events.' : 'Ask an administrator to register one.'}
        </Empty>
      )}
      {connection && connection.edges.length > 0 && (
        <table>
          <caption>
            {formatCount(connection.boundedCount)} webhook{connection.boundedCount.count === 1 ? '' : 's'}
          </caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Agent</th>
              <th scope="col">URL</th>
              <th scope="col">Events</th>
              <th scope="col">Status</th>
              <th scope="col">Health</th>
              {withBacklog && <th scope="col">Backlog</th>}
            </tr>
          </thead>
          <tbody>
            {connection.edges.map(({ node }) => (
              <tr key={node.id}>
                <th scope="row">
                  <a href={`/dashboard/webhooks/${encodeURIComponent(node.id)}`}>{node.name}</a>
                </th>
                <td>{node.agentId}</td>
                <td class="url">{node.url}</td>
                <td>{node.events.map(wireName).join(', ')}</td>
                <td>{node.active ? 'Active' : node.disabledReason ? 'Disabled' : 'Paused'}</td>
                <td>
                  <span
                    class={`health health-${node.health.state.toLowerCase()}`}
                    title={node.health.reason ?? undefined}
                  >
                    {HEALTH_WORDS[node.health.state]}
                  </span>
                </td>
                {withBacklog && <td>{describeBacklog(backlogs.get(node.id))}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {connection?.pageInfo.hasNextPage && (
        <p>
          <button type="button" onClick={() => setAfter(connection.pageInfo.endCursor ?? null)}>
            Next page
          </button>
        </p>
      )}
      {after && (
        <p>
          <button type="button" onClick={() => setAfter(null)}>
            First page
          </button>
        </p>
      )}
      <RegisterDialog open={registering} onClose={() => setRegistering(false)} />
    </>
  );
}

function RegisterDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const [{ fetching }, register] = useMutation(RegisterWebhook);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ id: string; name: string; secret: string } | null>(null);

  function close() {
    setError(null);
    setCreated(null);
    onClose();
  }

  return (
    <Dialog title={created ? 'Webhook registered' : 'Register webhook'} open={open} onClose={close}>
      {created ? (
        <>
          <ShownOnce
            label="Signing secret"
            value={created.secret}
            note="Copy it now and store it with your receiver: it is shown only this once (Rotate secret gives a new one)."
          />
          <div class="actions">
            <a href={`/dashboard/webhooks/${encodeURIComponent(created.id)}`} onClick={close}>
              Open {created.name}
            </a>
            <button type="button" onClick={close}>
              Done
            </button>
          </div>
        </>
      ) : (
        <WebhookForm
          initial={{ name: '', agentId: '', url: '', events: [], excludedFields: [] }}
          withAgent
          submitLabel="Register"
          busy={fetching}
          error={error}
          onCancel={close}
          onSubmit={async (fields) => {
            if (fields.events.length === 0) {
              setError('Choose at least one event type.');
              return;
            }
            setError(null);
            const result = await register({ input: fields });
            if (result.error) setError(describeError(result.error));
            else if (result.data?.registerWebhook.secret) {
              const { id, name, secret } = result.data.registerWebhook;
              setCreated({ id, name, secret });
            }
          }}
        />
      )}
    </Dialog>
  );
}
