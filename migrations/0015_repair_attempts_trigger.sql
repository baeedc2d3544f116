-- Repairs history. 0014 was edited after it had been committed: the edit (commit 2f54a22)
-- added the statement-level trigger that deletes a deleted delivery's attempts, and dropped
-- the foreign key's per-row cascade it replaces. A database that ran 0014 before the edit
-- recorded it as applied and never got either, so retention there still pays the cascade.
-- This makes every database the same, whichever 0014 it ran; on one that ran the edited
-- 0014 it changes nothing. Migrations are history: fixes go in a new file, never an old one.
alter table delivery_attempts drop constraint if exists delivery_attempts_delivery_id_fkey;

create or replace function delete_attempts_of_deleted_deliveries() returns trigger language plpgsql as $$
begin
  delete from delivery_attempts a where a.delivery_id = any(array(select id from deleted_deliveries));
  return null;
end
$$;

create or replace trigger deliveries_delete_attempts after delete on deliveries
  referencing old table as deleted_deliveries
  for each statement execute function delete_attempts_of_deleted_deliveries();
