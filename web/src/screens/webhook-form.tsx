import { useQuery } from '@urql/preact';
import { useState } from 'preact/hooks';
import type { WebhookEvent } from '../gql/graphql.js';
import { EventTypes } from '../operations.js';

export type WebhookFields = {
  name: string;
  agentId: string;
  url: string;
  events: WebhookEvent[];
  excludedFields: string[];
};

/**
 * The fields of a webhook: "Name", "Agent ID" (at registration only), "URL", and one
 * checkbox per event type, labelled with its wire name (`conversation_ended`), and the
 * "Excluded fields" (dotted paths into data, separated by commas; the API checks them).
 */
export function WebhookForm(props: {
  initial: WebhookFields;
  withAgent: boolean;
  submitLabel: string;
  busy: boolean;
  error: string | null;
  onSubmit: (fields: WebhookFields) => void;
  onCancel: () => void;
}) {
  const [{ data, error: typesError }] = useQuery({ query: EventTypes });
  const [events, setEvents] = useState<WebhookEvent[]>(props.initial.events);
  const subscribable = (data?.eventTypes ?? []).filter((type) => type.enumValue);

  function submit(event: Event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    props.onSubmit({
      name: String(form.get('name') ?? ''),
      agentId: String(form.get('agentId') ?? ''),
      url: String(form.get('url') ?? ''),
      events,
      excludedFields: String(form.get('excludedFields') ?? '')
        .split(/[\s,]+/)
        .filter(Boolean),
    });
  }

  return (
    <form onSubmit={submit} class="stacked">
      <label>
        Name
        <input name="name" required maxLength={200} defaultValue={props.initial.name} />
      </label>
      {props.withAgent && (
        <label>
          Agent ID
          <input name="agentId" required maxLength={64} defaultValue={props.initial.agentId} />
        </label>
      )}
      <label>
        URL
        <input name="url" type="url" required placeholder="https://" defaultValue={props.initial.url} />
      </label>
      <fieldset>
        <legend>Events</legend>
        {typesError && <p role="alert">The event types could not be loaded: {typesError.message}</p>}
        {subscribable.map((type) => {
          const value = type.enumValue as WebhookEvent;
          return (
            <label key={type.name} class="check">
              <input
                type="checkbox"
                checked={events.includes(value)}
                onChange={(e) =>
                  setEvents((current) =>
                    e.currentTarget.checked ? [...current, value] : current.filter((other) => other !== value),
                  )
                }
              />
              {type.name}
            </label>
          );
        })}
      </fieldset>
      <label>
        Excluded fields
        <input
          name="excludedFields"
          aria-describedby="excluded-help"
          placeholder="caller.phoneNumber, transcript"
          defaultValue={props.initial.excludedFields.join(', ')}
        />
      </label>
      <p id="excluded-help" class="muted">
        Left out of what this webhook receives (dotted paths into the event's data, separated by commas).
      </p>
      {props.error && <p role="alert">{props.error}</p>}
      <div class="actions">
        <button type="submit" disabled={props.busy}>
          {props.submitLabel}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
