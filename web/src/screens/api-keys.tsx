import { useMutation, useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import { describeError } from '../client.js';
import { formatTime } from '../format.js';
import { ApiKeys, CreateApiKey, RevokeApiKey } from '../operations.js';
import { ConfirmDialog } from '../ui/dialog.js';
import { ErrorState, Loading, ShownOnce } from '../ui/states.js';

export function ApiKeysScreen() {
  const [{ data, error, fetching }, refetch] = useQuery({ query: ApiKeys });
  const [creating, create] = useMutation(CreateApiKey);
  const [revoking, revoke] = useMutation(RevokeApiKey);
  const [created, setCreated] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<{ id: string; prefix: string } | null>(null);
  const [confirmError, setConfirmError] = useState<string | null>(null);

  return (
    <>
      <h1 tabIndex={-1}>API keys</h1>
      <p>Keys authenticate requests to the API (header X-API-Key) and sign in here. Each can do everything.</p>
      <p>
        <button
          type="button"
          class="primary"
          disabled={creating.fetching}
          onClick={async () => {
            setCreated(null);
            setFailure(null);
            const result = await create({}, { additionalTypenames: ['ApiKey'] });
            if (result.error) setFailure(describeError(result.error));
            else setCreated(result.data?.createApiKey.apiKey ?? null);
          }}
        >
          Create API key
        </button>
      </p>
      {failure && <p role="alert">{failure}</p>}
      {created && (
        <div role="status">
          <ShownOnce
            label="New API key"
            value={created}
            note="Copy it now and keep it secret: it is shown only this once, and the service keeps only its hash."
          />
        </div>
      )}
      {error && <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />}
      {!data && fetching && <Loading what="API keys" />}
      {data && (
        <table>
          <caption>Active keys first, then recently revoked ones</caption>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Status</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data.apiKeys.map((key) => (
              <tr key={key.id}>
                <th scope="row">
                  <code>{key.prefix}…</code>
                </th>
                <td>{formatTime(key.createdAt)}</td>
                <td>{key.lastUsedAt ? formatTime(key.lastUsedAt) : 'Never'}</td>
                <td>{key.revokedAt ? `Revoked ${formatTime(key.revokedAt)}` : 'Active'}</td>
                <td>
                  {!key.revokedAt && (
                    <button type="button" class="danger" onClick={() => setConfirm({ id: key.id, prefix: key.prefix })}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ConfirmDialog
        title={`Revoke ${confirm?.prefix ?? ''}…?`}
        open={confirm !== null}
        action="Revoke"
        busy={revoking.fetching}
        error={confirmError}
        onClose={() => {
          setConfirm(null);
          setConfirmError(null);
        }}
        onConfirm={async () => {
          if (!confirm) return;
          const result = await revoke({ id: confirm.id });
          if (result.error) setConfirmError(describeError(result.error));
          else setConfirm(null);
        }}
      >
        <p>
          Within a second it authenticates nothing, on every instance. Programs using it must switch to another key.
        </p>
      </ConfirmDialog>
    </>
  );
}
