-- The event log. `seq` comes from the single row of event_seq, updated as the last step of a
-- write transaction: the row lock orders commits, so readers see a gap-free, commit-ordered log.
CREATE TABLE event_seq (
    id INTEGER PRIMARY KEY,
    last INTEGER NOT NULL
);
INSERT INTO event_seq (id, last) VALUES (1, 0);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    request_id TEXT,
    changed_fields TEXT NOT NULL,
    before_state TEXT,
    after_state TEXT
);
CREATE INDEX events_entity ON events (entity, entity_id, seq);
CREATE INDEX events_occurred ON events (occurred_at);

-- Ids of records in other systems: unique per (entity, source, external id).
CREATE TABLE external_ids (
    entity TEXT NOT NULL,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (entity, source, external_id)
);
CREATE INDEX external_ids_record ON external_ids (entity, entity_id);

-- Stored answers for Idempotency-Key, per caller. status NULL = in progress.
CREATE TABLE idempotency_keys (
    subject TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER,
    response_headers TEXT,
    response_body TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (subject, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
