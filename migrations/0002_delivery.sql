-- Events, their deliveries (one per matching webhook) and every delivery attempt.

-- Signing-secret rotation: the previous secret keeps signing until it expires.
alter table webhooks
  add column previous_secret_encrypted bytea,
  add column previous_secret_expires_at timestamptz,
  -- Start of the current run of failed attempts; null after any success.
  add column failing_since timestamptz;

create table events (
  id               text primary key,
  workspace_id     text not null references workspaces (id) on delete cascade,
  agent_id         text not null,
  type             text not null,
  -- The exact JSON body every delivery of this event sends (and signs), built once.
  payload          text not null,
  idempotency_key  text,
  created_at       timestamptz not null default now()
);
create unique index events_idempotency on events (workspace_id, idempotency_key) where idempotency_key is not null;
create index events_workspace_page on events (workspace_id, created_at desc, id desc);

create table deliveries (
  id               text primary key,
  workspace_id     text not null,
  event_id         text not null references events (id) on delete cascade,
  webhook_id       text not null references webhooks (id) on delete cascade,
  status           text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
  attempt_count    integer not null default 0,
  -- When a pending delivery is next due. A worker's claim pushes it forward by the lease,
  -- so a crashed worker's claims come due again by themselves.
  next_attempt_at  timestamptz,
  -- Set by a claim; only the holder of the current token may record the attempt's outcome.
  claim_token      text,
  -- Asked for by a person (test event, manual retry): sent even while the webhook is paused.
  manual           boolean not null default false,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  check ((status = 'pending') = (next_attempt_at is not null))
);
-- The worker's claim: due pending deliveries, oldest first.
create index deliveries_due on deliveries (next_attempt_at) where status = 'pending';
create index deliveries_webhook_page on deliveries (webhook_id, created_at desc, id desc);
create index deliveries_event_page on deliveries (event_id, created_at desc, id desc);

create table delivery_attempts (
  id             bigint generated always as identity primary key,
  delivery_id    text not null references deliveries (id) on delete cascade,
  attempted_at   timestamptz not null,
  status_code    integer,
  duration_ms    integer not null,
  error          text,
  response_body  text
);
create index delivery_attempts_delivery on delivery_attempts (delivery_id, id);

-- Ids made inside a statement (one delivery per matching webhook, in a single INSERT … SELECT).
-- Ids identify, they do not authorise, so random() is good enough here.
create function random_id(prefix text) returns text language sql volatile as $$
  select prefix || string_agg(substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + floor(random() * 62)::int, 1), '')
  from generate_series(1, 16)
$$;
