-- How many webhooks each workspace and each of its agents has, so registration can hold
-- MAX_WEBHOOKS_PER_WORKSPACE and MAX_WEBHOOKS_PER_AGENT under concurrency: a registration
-- takes its slots (row locks on the two counters) in the statement that inserts it.
alter table workspaces add column webhook_count integer not null default 0;

create table agent_webhook_counts (
  workspace_id text not null references workspaces (id) on delete cascade,
  agent_id     text not null,
  webhooks     integer not null,
  primary key (workspace_id, agent_id)
);

update workspaces w set webhook_count = (select count(*) from webhooks where workspace_id = w.id);
insert into agent_webhook_counts (workspace_id, agent_id, webhooks)
  select workspace_id, agent_id, count(*) from webhooks group by workspace_id, agent_id;

-- Takes one slot of the workspace and one of the agent, or raises (SQLSTATE P0001) naming
-- the limit that is full; 0 means no limit. Called by the INSERT, so a refusal writes nothing.
create function take_webhook_slot(ws text, agent text, per_workspace integer, per_agent integer)
returns boolean language plpgsql as $$
begin
  update workspaces set webhook_count = webhook_count + 1
    where id = ws and (per_workspace = 0 or webhook_count < per_workspace);
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

-- A deleted webhook gives its slots back, whichever statement deleted it.
create function give_back_webhook_slots() returns trigger language plpgsql as $$
begin
  update workspaces w set webhook_count = greatest(0, w.webhook_count - d.n)
    from (select workspace_id, count(*) as n from gone group by workspace_id) d where w.id = d.workspace_id;
  update agent_webhook_counts c set webhooks = greatest(0, c.webhooks - d.n)
    from (select workspace_id, agent_id, count(*) as n from gone group by workspace_id, agent_id) d
    where c.workspace_id = d.workspace_id and c.agent_id = d.agent_id;
  return null;
end $$;

create trigger webhooks_give_back_slots after delete on webhooks
  referencing old table as gone for each statement execute function give_back_webhook_slots();
