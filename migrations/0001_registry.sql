-- Workspaces, their API keys, and the webhooks they register.

create table workspaces (
  id          text primary key,
  name        text not null,
  created_at  timestamptz not null default now()
);

-- Only a SHA-256 of each key is kept; `prefix` is the short public part shown in listings.
create table api_keys (
  id            text primary key,
  workspace_id  text not null references workspaces (id) on delete cascade,
  prefix        text not null,
  key_hash      bytea not null unique,
  created_at    timestamptz not null default now(),
  revoked_at    timestamptz
);
create index api_keys_workspace on api_keys (workspace_id, created_at desc);


create table webhooks (
  id               text primary key,
  workspace_id     text not null references workspaces (id) on delete cascade,
  name             text not null check (char_length(name) between 1 and 128),
  agent_id         text not null check (char_length(agent_id) between 1 and 64),
  url              text not null check (char_length(url) <= 2048),
  events           text[] not null check (cardinality(events) > 0 and events <@ array['conversation_started', 'conversation_ended', 'conversation_analysed']),
  active           boolean not null default true,
  -- AES-256-GCM: 12-byte nonce || ciphertext || 16-byte tag, bound to the webhook id.
  secret_encrypted bytea not null,
  disabled_reason  text,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now()
);
-- Keyset pagination, newest first, per workspace and per (workspace, agent).
create index webhooks_workspace_page on webhooks (workspace_id, created_at desc, id desc);
create index webhooks_agent_page on webhooks (workspace_id, agent_id, created_at desc, id desc);
