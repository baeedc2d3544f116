-- A withdrawn 0025 (due_queues_by_workspace, on main for an hour and never released) led
-- deliveries_due with workspace_id; its claim plan depended on the planner's statistics.
-- A database that applied it gets back the index the claim reads (0009's); on any other
-- this changes nothing, so no table is locked to rebuild an index that is already right.
do $$
begin
  if exists (
    select 1 from pg_indexes
    where schemaname = current_schema() and indexname = 'deliveries_due'
      and indexdef like '%(workspace_id, webhook_id, next_attempt_at)%'
  ) then
    drop index deliveries_due;
    create index deliveries_due on deliveries (webhook_id, next_attempt_at)
      where status = 'pending' and not held and not waiting;
  end if;
end $$;
