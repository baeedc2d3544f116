-- A claim walks the workspaces with something due (one descent each), then the queues of
-- those with room in its worker: a tenant whose share is full costs one descent however
-- many of its webhooks have deliveries due (src/queue/claim.ts, queueHeads).
drop index deliveries_due;
create index deliveries_due on deliveries (workspace_id, webhook_id, next_attempt_at)
  where status = 'pending' and not held and not waiting;
