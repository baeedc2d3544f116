-- A claim's lease in a column of its own. A claim used to push next_attempt_at on by the
-- lease, and next_attempt_at is in the due index, so every claim wrote a new version of the
-- row into each of the table's indexes (six) for a value nobody looks up. Now a claim
-- changes no indexed column and, with room left on the row's page, is a HOT update: no
-- index is touched. A claimed delivery stays at its place in the due index; claims pass
-- over it until its lease runs out (claimed_until) or its claim ends (claim_token null).
-- A nullable column without a default: adding it rewrites nothing.
alter table deliveries add column claimed_until timestamptz;
-- Room on each page for a claim's new row version (HOT needs the same page); pages
-- written from now on keep a quarter free.
alter table deliveries set (fillfactor = 75);
