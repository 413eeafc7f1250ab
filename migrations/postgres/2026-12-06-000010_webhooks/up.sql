-- Webhooks (crm-webhooks): subscriptions, the deliveries matched from the event log, and every
-- attempt to deliver them. The event log is the outbox: an event is written in the same
-- transaction as its change; each subscription's matcher reads the log after its cursor and
-- writes one delivery per matching event, which one instance at a time attempts.
CREATE TABLE webhooks (
    id uuid PRIMARY KEY,
    url text NOT NULL,
    description text,
    event_types jsonb NOT NULL DEFAULT '[]',
    filter text,
    fields jsonb NOT NULL DEFAULT '[]',
    enabled boolean NOT NULL,
    disabled_reason text,
    secret_rotated_at timestamp,
    tags jsonb NOT NULL DEFAULT '[]',
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    -- Not part of the record a client reads: the signing secrets, the matcher's position in the
    -- event log, and since when deliveries fail.
    secret text,
    previous_secret text,
    previous_secret_until timestamp,
    cursor_seq bigint NOT NULL DEFAULT 0,
    failing_since timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(url, '') || ' ' || coalesce(description, ''))) STORED
);
CREATE INDEX webhooks_created ON webhooks (created_at, id);
CREATE INDEX webhooks_search ON webhooks USING gin (search_tsv);

CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY,
    webhook_id uuid NOT NULL REFERENCES webhooks (id),
    event_seq bigint NOT NULL,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    entity_id uuid NOT NULL,
    payload text NOT NULL,
    status text NOT NULL,
    attempts bigint NOT NULL DEFAULT 0,
    round_start bigint NOT NULL DEFAULT 0,
    next_attempt_at timestamp NOT NULL,
    lease_owner text,
    lease_until timestamp,
    last_attempt_at timestamp,
    last_status bigint,
    last_error text,
    created_at timestamp NOT NULL,
    delivered_at timestamp,
    UNIQUE (webhook_id, event_seq)
);
-- What is due, and what comes before a delivery for the same record (deliveries of one record
-- go out in order).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_record ON webhook_deliveries (webhook_id, entity_id, event_seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, event_seq);

CREATE TABLE webhook_attempts (
    delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt bigint NOT NULL,
    attempted_at timestamp NOT NULL,
    status_code bigint,
    latency_ms bigint NOT NULL,
    error text,
    response_excerpt text,
    PRIMARY KEY (delivery_id, attempt)
);
