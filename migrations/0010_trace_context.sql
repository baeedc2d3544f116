-- The W3C traceparent of the span that published an event (null when tracing was off):
-- every delivery attempt of the event, however much later, links its span to it.
-- A nullable column without a default: adding it rewrites nothing.
alter table events add column traceparent text;
