-- Query.events and Query.deliveries: each filter walks an index in page order, so the
-- first page costs the same at a thousand rows or a million.

-- A workspace's deliveries by status, newest first. Without a status the list reads each
-- status's range of it and merges them (delivery/store.ts): one index serves both, where
-- a second one on (workspace_id, created_at) would be written at every change of every
-- delivery (each claim and outcome updates an indexed column, so none of those is HOT).
create index deliveries_workspace_status_page on deliveries (workspace_id, status, created_at desc, id desc);

-- A webhook's failed deliveries (Query.deliveries(webhookId, status: FAILED) and
-- Webhook.deliveries(status: FAILED)): few among many succeeded, so a walk of
-- deliveries_webhook_page could read all of them to fill a page. Written only when a
-- delivery fails for good. Pending ones are the newest, found at once by that walk.
create index deliveries_webhook_failed_page on deliveries (webhook_id, created_at desc, id desc) where status = 'failed';

-- An agent's events; `type` last, so agentId and type together are checked inside the index.
create index events_agent_page on events (workspace_id, agent_id, created_at desc, id desc, type);
create index events_type_page on events (workspace_id, type, created_at desc, id desc);
