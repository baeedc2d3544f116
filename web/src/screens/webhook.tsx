import type { CombinedError } from '@urql/core';
import { useMutation, useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { describeError } from '../client.js';
import { describeCondition, formatTime, HEALTH_WORDS, wireName } from '../format.js';
import {
  DeleteWebhook,
  RecoverDeliveries,
  RotateWebhookSecret,
  SendTestEvent,
  UpdateWebhook,
  WebhookDetail,
} from '../operations.js';
import { navigate } from '../router.js';
import { can } from '../session.js';
import { describeBacklog, useBacklogs } from '../ui/backlog.js';
import { DeliveriesTable, useLiveDeliveries } from '../ui/deliveries-table.js';
import { ConfirmDialog, Dialog } from '../ui/dialog.js';
import { Empty, ErrorState, Loading, ShownOnce } from '../ui/states.js';
import { WebhookForm } from './webhook-form.js';

/** recoverDeliveries gives FAILED deliveries of this period a new attempt. */
const RECOVER_PERIOD_MS = 7 * 86_400_000;

export function WebhookScreen({ id }: { id: string }) {
  const [{ data, error, fetching }, refetch] = useQuery({ query: WebhookDetail, variables: { id } });
  const webhook = data?.webhook;
  const [message, setMessage] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [dialog, setDialog] = useState<'edit' | 'delete' | null>(null);
  const [, sendTest] = useMutation(SendTestEvent);
  const [, update] = useMutation(UpdateWebhook);
  const [, rotate] = useMutation(RotateWebhookSecret);
  const [, recover] = useMutation(RecoverDeliveries);
  const [deleting, remove] = useMutation(DeleteWebhook);
  const [editing, edit] = useMutation(UpdateWebhook);
  const [dialogError, setDialogError] = useState<string | null>(null);
  const { backlogs, available: withBacklog } = useBacklogs(webhook ? [webhook.id] : []);
  const live = useLiveDeliveries(webhook?.deliveries.edges.map((e) => e.node) ?? [], { webhookId: id }, true);

  /** Runs an action and says how it went in the page's status line. */
  async function act(run: () => Promise<{ error?: CombinedError }>, done: string) {
    setMessage(null);
    setFailure(null);
    const result = await run();
    if (result.error) setFailure(describeError(result.error));
    else if (done) setMessage(done);
  }

  if (error) {
    return (
      <>
        <h1 tabIndex={-1}>Webhook</h1>
        <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
      </>
    );
  }
  if (!data && fetching) {
    return (
      <>
        <h1 tabIndex={-1}>Webhook</h1>
        <Loading what="the webhook" />
      </>
    );
  }
  if (!webhook) {
    return (
      <>
        <h1 tabIndex={-1}>Webhook not found</h1>
        <p>
          There is no webhook {id} in this workspace (it may have been deleted). See all{' '}
          <a href="/dashboard/webhooks">Webhooks</a>.
        </p>
      </>
    );
  }

  const manage = can('MANAGE_WEBHOOKS');
  return (
    <>
      <p class="breadcrumb">
        <a href="/dashboard/webhooks">Webhooks</a>
      </p>
      <h1 tabIndex={-1}>{webhook.name}</h1>
      <dl class="facts">
        <dt>ID</dt>
        <dd>{webhook.id}</dd>
        <dt>Agent</dt>
        <dd>{webhook.agentId}</dd>
        <dt>URL</dt>
        <dd class="url">{webhook.url}</dd>
        <dt>Events</dt>
        <dd>{webhook.events.map(wireName).join(', ')}</dd>
        <dt>Conditions</dt>
        <dd>
          {webhook.conditions.length === 0 ? (
            'None: every event of these types'
          ) : (
            <ul class="plain">
              {webhook.conditions.map((condition) => (
                <li key={condition.path + condition.operator}>
                  <code>{describeCondition(condition)}</code>
                </li>
              ))}
            </ul>
          )}
        </dd>
        <dt>Excluded fields</dt>
        <dd>
          {webhook.excludedFields.length === 0 ? (
            'None: receivers get all of the data'
          ) : (
            <ul class="plain">
              {webhook.excludedFields.map((field) => (
                <li key={field}>
                  <code>{field}</code>
                </li>
              ))}
            </ul>
          )}
        </dd>
        <dt>Status</dt>
        <dd>{webhook.active ? 'Active' : webhook.disabledReason ? `Disabled: ${webhook.disabledReason}` : 'Paused'}</dd>
        <dt>Health</dt>
        <dd>
          <span class={`health health-${webhook.health.state.toLowerCase()}`}>
            {HEALTH_WORDS[webhook.health.state]}
          </span>
          {webhook.health.reason && ` — ${webhook.health.reason}`}
          {webhook.health.consecutiveFailures > 0 && ` (${webhook.health.consecutiveFailures} failures in a row)`}
        </dd>
        {withBacklog && (
          <>
            <dt>Backlog</dt>
            <dd>{describeBacklog(backlogs.get(webhook.id))}</dd>
          </>
        )}
        <dt>Created</dt>
        <dd>{formatTime(webhook.createdAt)}</dd>
      </dl>

      {(manage || can('RETRY')) && (
        <div class="actions">
          {manage && (
            <button
              type="button"
              onClick={() => act(() => sendTest({ webhookId: id }), 'Test event sent: its delivery is below.')}
            >
              Send test event
            </button>
          )}
          {manage && (
            <button
              type="button"
              onClick={() =>
                act(
                  () => update({ id, input: { active: !webhook.active } }),
                  webhook.active ? 'Paused: new events wait until you resume.' : 'Resumed: deliveries go out again.',
                )
              }
            >
              {webhook.active ? 'Pause' : 'Resume'}
            </button>
          )}
          {manage && (
            <button
              type="button"
              onClick={async () => {
                setSecret(null);
                await act(async () => {
                  const result = await rotate({ id });
                  setSecret(result.data?.rotateWebhookSecret.secret ?? null);
                  return result;
                }, 'Secret rotated: the previous one keeps signing for 24 hours.');
              }}
            >
              Rotate secret
            </button>
          )}
          {manage && (
            <button type="button" onClick={() => setDialog('edit')}>
              Edit
            </button>
          )}
          {can('RETRY') && (
            <button
              type="button"
              aria-describedby="recover-help"
              onClick={() =>
                act(async () => {
                  const since = new Date(Date.now() - RECOVER_PERIOD_MS).toISOString();
                  const result = await recover({ webhookId: id, since });
                  if (!result.error) setMessage(`Recovered ${result.data?.recoverDeliveries ?? 0} failed deliveries.`);
                  return result;
                }, '')
              }
            >
              Recover failed deliveries
            </button>
          )}
          {manage && (
            <button type="button" class="danger" onClick={() => setDialog('delete')}>
              Delete
            </button>
          )}
        </div>
      )}
      {can('RETRY') && (
        <p id="recover-help" class="muted">
          Recover gives every failed delivery of the last 7 days a new attempt, once the endpoint works again.
        </p>
      )}
      <div aria-live="polite" role="status" class="message">
        {message}
      </div>
      {failure && <p role="alert">{failure}</p>}
      {secret && (
        <ShownOnce
          label="New signing secret"
          value={secret}
          note="Copy it now: it is shown only this once. Deliveries carry both signatures until the old secret expires."
        />
      )}

      <h2>Deliveries</h2>
      {live.rows.length === 0 ? (
        <Empty>No deliveries yet. Send a test event to see one arrive here.</Empty>
      ) : (
        <DeliveriesTable rows={live.rows} caption={`Latest deliveries to ${webhook.name}`} showWebhook={false} />
      )}
      <p>
        <a href={`/dashboard/deliveries?webhook=${encodeURIComponent(id)}`}>All deliveries of this webhook</a>
      </p>

      <Dialog title="Edit webhook" open={dialog === 'edit'} onClose={() => setDialog(null)}>
        <WebhookForm
          initial={{
            name: webhook.name,
            agentId: webhook.agentId,
            url: webhook.url,
            events: webhook.events,
            excludedFields: webhook.excludedFields,
          }}
          withAgent={false}
          submitLabel="Save"
          busy={editing.fetching}
          error={dialogError}
          onCancel={() => setDialog(null)}
          onSubmit={async ({ name, url, events, excludedFields }) => {
            const result = await edit({ id, input: { name, url, events, excludedFields } });
            if (result.error) setDialogError(describeError(result.error));
            else {
              setDialogError(null);
              setDialog(null);
              setMessage('Saved.');
            }
          }}
        />
      </Dialog>
      <ConfirmDialog
        title={`Delete ${webhook.name}?`}
        open={dialog === 'delete'}
        action="Delete"
        busy={deleting.fetching}
        error={dialogError}
        onClose={() => {
          setDialogError(null);
          setDialog(null);
        }}
        onConfirm={async () => {
          const result = await remove({ id }, { additionalTypenames: ['Webhook'] });
          if (result.error) setDialogError(describeError(result.error));
          else {
            setDialog(null);
            navigate('/dashboard/webhooks');
          }
        }}
      >
        <p>It stops receiving events at once, and its pending deliveries are not sent. This cannot be undone.</p>
      </ConfirmDialog>
    </>
  );
}
