-- Pausing or resuming a webhook no longer rewrites its backlog in the same statement (a
-- paused webhook with 135k pending deliveries made its updateWebhook take 9-14 s): the
-- switch only marks the webhook, and the workers hold or release its backlog in batches
-- (src/queue/sync-held.ts). Claims never depended on `held` for correctness: they check
-- the webhook's state themselves; `held` keeps a paused backlog out of the due index.
alter table webhooks add column backlog_synced boolean not null default true;

create index webhooks_backlog_unsynced on webhooks (id) where not backlog_synced;

drop trigger webhooks_hold_deliveries on webhooks;
drop function hold_deliveries_with_webhook();

-- Every way a webhook is switched off or on (updateWebhook, 410 Gone, the disable-after
-- rule, an operator's UPDATE) marks its backlog for the workers.
create function mark_backlog_unsynced() returns trigger language plpgsql as $$
begin
  new.backlog_synced := false;
  return new;
end $$;

create trigger webhooks_mark_backlog_unsynced before update of active on webhooks
  for each row when (old.active is distinct from new.active)
  execute function mark_backlog_unsynced();
