-- random_id, the ids made inside a statement (a fan-out's deliveries), now led by the time
-- as src/lib/ids.ts's newId makes them: the prefix, 7 base62 digits of the transaction's
-- start in milliseconds since 1970 (the deliveries' created_at), then 9 random ones (53 bits,
-- so a fan-out of thousands in one millisecond does not collide). Rows made together are
-- then neighbours in every index keyed by id (deliveries' primary key, deliveries by event,
-- attempts by delivery): inserts and the outcome writes after them land on the few pages at
-- the right edge, not on random pages of a 10-million-row index, and expired rows lie
-- together for retention. The order is an implementation detail: nothing may rely on it.
-- now() (stable), not clock_timestamp(): each digit reads the time again, and only a
-- stable time gives seven digits of one instant. Still one expression without a FROM,
-- so PostgreSQL inlines it into the calling statement (see 0013).
create or replace function random_id(prefix text) returns text language sql volatile as $$
  select prefix
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + (floor(date_part('epoch', now()) * 1000)::int8 / 56800235584 % 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + (floor(date_part('epoch', now()) * 1000)::int8 / 916132832 % 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + (floor(date_part('epoch', now()) * 1000)::int8 / 14776336 % 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + (floor(date_part('epoch', now()) * 1000)::int8 / 238328 % 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + (floor(date_part('epoch', now()) * 1000)::int8 / 3844 % 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + (floor(date_part('epoch', now()) * 1000)::int8 / 62 % 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + (floor(date_part('epoch', now()) * 1000)::int8 % 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + floor(random() * 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + floor(random() * 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + floor(random() * 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + floor(random() * 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + floor(random() * 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + floor(random() * 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + floor(random() * 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + floor(random() * 62)::int, 1)
    || substr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 1 + floor(random() * 62)::int, 1)
$$;

-- Attempts go with their delivery by one set-based delete per statement, instead of the
-- foreign key's ON DELETE CASCADE, which ran a DELETE of its own for every delivery deleted
-- (retention: a million of them for a million expired deliveries, about two thirds of the
-- pruner's time). What the key also did on insert, the one statement that inserts attempts
-- (queue/record.ts) does itself: it locks the delivery FOR KEY SHARE, as the key's check did,
-- so a delivery deleted at the same moment either goes first (no attempt is written) or
-- waits, and this trigger, in a later statement, then sees the attempt and deletes it.
alter table delivery_attempts drop constraint delivery_attempts_delivery_id_fkey;
create function delete_attempts_of_deleted_deliveries() returns trigger language plpgsql as $$
begin
  delete from delivery_attempts a where a.delivery_id = any(array(select id from deleted_deliveries));
  return null;
end
$$;
create trigger deliveries_delete_attempts after delete on deliveries
  referencing old table as deleted_deliveries
  for each statement execute function delete_attempts_of_deleted_deliveries();
