-- Custom request headers per webhook, and operational notices as event types.

-- The webhook's extra request headers, a JSON list of {name, value} sealed like the
-- signing secret (AES-256-GCM, bound to the webhook id): they often carry credentials.
-- null: none.
alter table webhooks add column headers_encrypted bytea;

-- Webhooks may subscribe to the workspace-wide notices too.
alter table webhooks drop constraint webhooks_events_check;
alter table webhooks add constraint webhooks_events_check check (
  cardinality(events) > 0 and events <@ array[
    'conversation_started', 'conversation_ended', 'conversation_analysed',
    'webhook.disabled', 'delivery.failed'
  ]
);
