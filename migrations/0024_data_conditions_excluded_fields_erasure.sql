-- Conditions on event data, fields kept out of payloads, and erasure (issue 30).
--
-- `conditions` is what the client set (read back as Webhook.conditions). The fan-out does
-- not interpret it: it runs `conditions_match`, the same conditions compiled once, at
-- write time, into one strict-mode SQL/JSON path predicate with the values as its
-- variables (`conditions_vars`), so a publish evaluates each webhook's conditions with one
-- C-level jsonb_path_match call (src/webhooks/conditions.ts compiles it). Null: no conditions.
alter table webhooks
  add column conditions jsonb not null default '[]',
  add column conditions_match jsonpath,
  add column conditions_vars jsonb not null default '{}',
  add column excluded_fields text[] not null default '{}';

-- Whether an agent has any webhook with conditions: the fan-out parses an event's data as
-- jsonb only then. Without conditions (the usual case) this is an empty index probe.
create index webhooks_with_conditions on webhooks (workspace_id, agent_id) where conditions_match is not null;

-- eraseConversation finds a workspace's events of one conversation.
create index events_conversation on events (workspace_id, conversation_id) where conversation_id is not null;
