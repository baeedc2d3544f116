-- Per-conversation ordering: a webhook with ordering 'conversation' gets the deliveries
-- of one conversation strictly one after another, in publish order.

alter table webhooks
  add column ordering text not null default 'none' check (ordering in ('none', 'conversation'));

alter table events add column conversation_id text;

alter table deliveries
  -- Set only on deliveries to a webhook that orders by conversation: the chain they wait in.
  add column conversation_id text,
  -- Publish order within the chain (a sequence, taken under the conversation's lock).
  add column conversation_position bigint,
  -- Waiting for the delivery before it in its chain to end (succeed or fail for good).
  -- Like `held`, it keeps the row out of the due index: claims never walk past a long chain.
  add column waiting boolean not null default false;

create sequence deliveries_conversation_position;

-- A chain's pending deliveries, in order: whether a new one must wait, and which one goes next.
create index deliveries_conversation on deliveries (webhook_id, conversation_id, conversation_position)
  where status = 'pending' and conversation_id is not null;

drop index deliveries_due;
create index deliveries_due on deliveries (webhook_id, next_attempt_at) where status = 'pending' and not held and not waiting;
