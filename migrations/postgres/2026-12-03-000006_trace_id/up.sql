-- The W3C trace id (traceparent) of the request that wrote the event, beside its request id.
ALTER TABLE events ADD COLUMN trace_id TEXT;
