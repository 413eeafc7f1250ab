-- The event log. `seq` comes from the single row of event_seq, updated as the last step of a
-- write transaction: the row lock orders commits, so readers see a gap-free, commit-ordered log.
CREATE TABLE event_seq (
    id integer PRIMARY KEY,
    last bigint NOT NULL
);
INSERT INTO event_seq (id, last) VALUES (1, 0);

CREATE TABLE events (
    seq bigint PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    type text NOT NULL,
    entity text NOT NULL,
    entity_id uuid NOT NULL,
    occurred_at timestamp NOT NULL,
    actor text NOT NULL,
    request_id text,
    changed_fields jsonb NOT NULL,
    before_state jsonb,
    after_state jsonb
);
CREATE INDEX events_entity ON events (entity, entity_id, seq);
CREATE INDEX events_occurred ON events (occurred_at);

-- Ids of records in other systems: unique per (entity, source, external id).
CREATE TABLE external_ids (
    entity text NOT NULL,
    source text NOT NULL,
    external_id text NOT NULL,
    entity_id uuid NOT NULL,
    created_at timestamp NOT NULL,
    PRIMARY KEY (entity, source, external_id)
);
CREATE INDEX external_ids_record ON external_ids (entity, entity_id);

-- Stored answers for Idempotency-Key, per caller. status NULL = in progress.
CREATE TABLE idempotency_keys (
    subject text NOT NULL,
    idem_key text NOT NULL,
    request_hash text NOT NULL,
    status integer,
    response_headers jsonb,
    response_body text,
    created_at timestamp NOT NULL,
    expires_at timestamp NOT NULL,
    PRIMARY KEY (subject, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
