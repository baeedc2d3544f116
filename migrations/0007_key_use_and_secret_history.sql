-- When each API key was last used. Written in batches, at most once a minute per key and
-- instance (auth/key-cache.ts), never on the request path.
alter table api_keys add column last_used_at timestamptz;

-- Signing secrets rotated out that still sign, newest first, each until its own expiry:
-- [{"sealed": "<base64 of the AES-256-GCM box, as secret_encrypted>", "expiresAt": "<ISO-8601>"}].
-- It supersedes previous_secret_encrypted / previous_secret_expires_at, whose secret (if
-- still valid) moves here. Those columns stay, unread, so instances of the previous
-- version keep claiming during a rolling upgrade; a later migration can drop them.
alter table webhooks add column retired_secrets jsonb not null default '[]';
update webhooks
set retired_secrets = jsonb_build_array(jsonb_build_object(
  'sealed', translate(encode(previous_secret_encrypted, 'base64'), E'\n', ''),
  'expiresAt', previous_secret_expires_at))
where previous_secret_encrypted is not null and previous_secret_expires_at > now();
