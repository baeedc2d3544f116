-- Query.deliveryStats reads these rollups, never the attempts: each outcome batch adds its
-- attempts to one row per webhook per minute and one per webhook per hour (queue/record.ts),
-- in the transaction that writes the attempts. A day of a million attempts is at most
-- 1,440 minute rows or 24 hour rows per webhook, whatever the traffic.
-- `durations` counts attempts per duration bucket of delivery/stats-histogram.ts (a fixed
-- log scale, 1 ms to 60 s); percentiles are read from it. `agent_id` is the webhook's (it
-- never changes), kept so a view scoped to some agents sums only theirs.
-- No foreign key to webhooks: a deleted webhook's attempts still happened, and stay in the
-- workspace's figures until retention deletes them (delivery/retention.ts).
create table delivery_stats_minute (
  webhook_id   text not null,
  starts_at    timestamptz not null,
  workspace_id text not null references workspaces (id) on delete cascade,
  agent_id     text not null,
  attempts     integer not null,
  succeeded    integer not null,
  failed       integer not null,
  durations    integer[] not null,
  primary key (webhook_id, starts_at)
);
create index delivery_stats_minute_workspace on delivery_stats_minute (workspace_id, starts_at);

create table delivery_stats_hour (
  webhook_id   text not null,
  starts_at    timestamptz not null,
  workspace_id text not null references workspaces (id) on delete cascade,
  agent_id     text not null,
  attempts     integer not null,
  succeeded    integer not null,
  failed       integer not null,
  durations    integer[] not null,
  primary key (webhook_id, starts_at)
);
create index delivery_stats_hour_workspace on delivery_stats_hour (workspace_id, starts_at);

-- Webhook.backlog: a webhook's pending deliveries, oldest first, so its oldest pending one is
-- the index's first entry and a bounded count is a short index-only walk. It replaces the
-- index on webhook_id alone (migration 0004), which served the same lookups by webhook.
create index deliveries_webhook_pending_age on deliveries (webhook_id, created_at) where status = 'pending';
drop index deliveries_webhook_pending;
