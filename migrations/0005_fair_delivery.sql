-- Fair, failure-aware delivery: claims walk each webhook's queue head (not one global
-- oldest-first line), a circuit breaker per webhook, and a rate limit shared by every worker.

alter table webhooks
  -- null: unlimited.
  add column rate_limit_per_second integer check (rate_limit_per_second between 1 and 10000),
  -- The rate limit as a GCRA: the theoretical time of the next send. Claims may run ahead
  -- of it by the burst, and move it on by one interval per delivery they take.
  add column rate_next_at timestamptz,
  -- Failed attempts since the last success (attempts, not deliveries).
  add column consecutive_failures integer not null default 0,
  -- Circuit breaker: set while the webhook is failing (open), with why. While open it gets
  -- one attempt at a time (a probe), no sooner than next_probe_at; a success closes it.
  add column circuit_opened_at timestamptz,
  add column circuit_reason text,
  add column next_probe_at timestamptz,
  -- The latest probe. It is in flight while that delivery is claimed and its lease has
  -- not run out: a worker that dies, or a claim that never took it, frees the webhook.
  add column probe_delivery_id text;

create index webhooks_circuit_open on webhooks (circuit_opened_at) where circuit_opened_at is not null;

-- One queue per webhook: a claim visits each webhook's oldest claimable delivery (a skip
-- scan of this index) and shares the slots out across workspaces, then webhooks.
drop index deliveries_due;
create index deliveries_due on deliveries (webhook_id, next_attempt_at) where status = 'pending' and not held;
