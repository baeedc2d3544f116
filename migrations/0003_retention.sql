-- Retention prunes the oldest events first.
create index events_created on events (created_at);
