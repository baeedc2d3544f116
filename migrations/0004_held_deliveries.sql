-- A paused or disabled webhook's pending deliveries wait for it, often for days and in
-- their thousands. Left in the due index they sit at its oldest end, where every claim
-- walks past them. `held` takes them out of that index until the webhook is resumed.
alter table deliveries add column held boolean not null default false;

-- Finds a webhook's pending deliveries when it is paused or resumed.
create index deliveries_webhook_pending on deliveries (webhook_id) where status = 'pending';

drop index deliveries_due;
create index deliveries_due on deliveries (next_attempt_at) where status = 'pending' and not held;

-- Every way a webhook is switched off or on (updateWebhook, 410 Gone, the disable-after
-- rule, an operator's UPDATE) holds or releases its backlog in the same transaction.
-- Deliveries a person asked for (manual) are sent while paused, so they are never held.
create function hold_deliveries_with_webhook() returns trigger language plpgsql as $$
begin
  update deliveries set held = not new.active
  where webhook_id = new.id and status = 'pending' and not manual and held = new.active;
  return null;
end $$;

create trigger webhooks_hold_deliveries after update of active on webhooks
  for each row when (old.active is distinct from new.active)
  execute function hold_deliveries_with_webhook();

update deliveries d set held = true
from webhooks w
where w.id = d.webhook_id and not w.active and d.status = 'pending' and not d.manual;
