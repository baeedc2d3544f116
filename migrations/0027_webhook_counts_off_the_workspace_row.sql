-- A workspace's webhook count moves off its workspaces row. Every event, webhook, key and
-- session inserted share-locks that row (their foreign keys), so its xmax is nearly always a
-- multixact. A registration refused past MAX_WEBHOOKS_PER_AGENT had updated the row and then
-- rolled back; PostgreSQL 17 could then fail the next registration with "new multixact has
-- more than one updating member" (XX000): its conflict check already sees the abort while
-- the multixact it builds still finds the aborted transaction running. No foreign key points
-- at a row of this table, so nobody share-locks one, and an update rolled back there leaves
-- a plain xmax.
create table workspace_webhook_counts (
  workspace_id text primary key references workspaces (id) on delete cascade,
  webhooks     integer not null
);

insert into workspace_webhook_counts (workspace_id, webhooks)
  select id, webhook_count from workspaces where webhook_count > 0;

-- As 0020's, slots taken in the same order (the workspace's, then the agent's), and a
-- refusal raises before anything of the hot workspaces row is written.
create or replace function take_webhook_slot(ws text, agent text, per_workspace integer, per_agent integer)
returns boolean language plpgsql as $$
begin
  insert into workspace_webhook_counts as c (workspace_id, webhooks) values (ws, 1)
    on conflict (workspace_id) do update set webhooks = c.webhooks + 1
    where per_workspace = 0 or c.webhooks < per_workspace;
  if not found then
    raise exception 'webhook limit reached' using detail = 'MAX_WEBHOOKS_PER_WORKSPACE';
  end if;
  insert into agent_webhook_counts as c (workspace_id, agent_id, webhooks) values (ws, agent, 1)
    on conflict (workspace_id, agent_id) do update set webhooks = c.webhooks + 1
    where per_agent = 0 or c.webhooks < per_agent;
  if not found then
    raise exception 'webhook limit reached' using detail = 'MAX_WEBHOOKS_PER_AGENT';
  end if;
  return true;
end $$;

create or replace function give_back_webhook_slots() returns trigger language plpgsql as $$
begin
  update workspace_webhook_counts c set webhooks = greatest(0, c.webhooks - d.n)
    from (select workspace_id, count(*) as n from gone group by workspace_id) d where c.workspace_id = d.workspace_id;
  update agent_webhook_counts c set webhooks = greatest(0, c.webhooks - d.n)
    from (select workspace_id, agent_id, count(*) as n from gone group by workspace_id, agent_id) d
    where c.workspace_id = d.workspace_id and c.agent_id = d.agent_id;
  return null;
end $$;

alter table workspaces drop column webhook_count;
