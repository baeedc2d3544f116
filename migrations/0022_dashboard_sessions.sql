-- Dashboard sessions (docs/dashboard-sessions.md): a key's sign-in, or a portal session a
-- key made for someone else. Only SHA-256 digests of tokens are stored, never the tokens.
create table dashboard_sessions (
  id                text primary key,
  workspace_id      text not null references workspaces (id) on delete cascade,
  kind              text not null check (kind in ('key', 'portal')),
  -- The session token's digest; null for a portal session until its one-time token is redeemed.
  token_hash        bytea unique,
  -- A portal session's one-time token (the URL's), spent by redemption.
  portal_token_hash bytea unique,
  redeemed_at       timestamptz,
  -- null: every agent of the workspace.
  agent_ids         text[],
  capabilities      text[] not null,
  created_by_key_id text not null references api_keys (id) on delete cascade,
  created_at        timestamptz not null default now(),
  expires_at        timestamptz not null,
  ended_at          timestamptz,
  check ((kind = 'portal') = (portal_token_hash is not null))
);

-- Counting a workspace's live sessions, and ending a key's.
create index dashboard_sessions_workspace on dashboard_sessions (workspace_id, expires_at) where ended_at is null;
create index dashboard_sessions_key on dashboard_sessions (created_by_key_id) where ended_at is null;

-- A revoked key ends every session it made, whichever statement revoked it, and each
-- ended session is announced on the revocation channel (api_key_revoked) by its own id:
-- every instance forgets it and ends its open streams, as for a revoked key.
create function end_sessions_of_revoked_keys() returns trigger language plpgsql as $$
declare
  ended text;
begin
  for ended in
    update dashboard_sessions s set ended_at = now()
    from revoked r
    where s.created_by_key_id = r.id and r.revoked_at is not null and s.ended_at is null
    returning s.id
  loop
    perform pg_notify('api_key_revoked', ended);
  end loop;
  return null;
end $$;

-- Transition tables take no column list: lastUsedAt's writes fire it too, and end nothing.
create trigger api_keys_end_sessions after update on api_keys
  referencing new table as revoked for each statement execute function end_sessions_of_revoked_keys();
