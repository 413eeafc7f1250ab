-- Webhooks (crm-webhooks): subscriptions, the deliveries matched from the event log, and every
-- attempt to deliver them. The event log is the outbox: an event is written in the same
-- transaction as its change; each subscription's matcher reads the log after its cursor and
-- writes one delivery per matching event, which one instance at a time attempts.
CREATE TABLE webhooks (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    description TEXT,
    event_types TEXT NOT NULL DEFAULT '[]',
    filter TEXT,
    fields TEXT NOT NULL DEFAULT '[]',
    enabled BOOLEAN NOT NULL,
    disabled_reason TEXT,
    secret_rotated_at TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT,
    -- Not part of the record a client reads: the signing secrets, the matcher's position in the
    -- event log, and since when deliveries fail.
    secret TEXT,
    previous_secret TEXT,
    previous_secret_until TEXT,
    cursor_seq INTEGER NOT NULL DEFAULT 0,
    failing_since TEXT
);
CREATE INDEX webhooks_created ON webhooks (created_at, id);
CREATE VIRTUAL TABLE webhooks_fts USING fts5(
    url, description,
    content = 'webhooks', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER webhooks_fts_ai AFTER INSERT ON webhooks BEGIN
    INSERT INTO webhooks_fts (rowid, url, description) VALUES (new.rid, new.url, new.description);
END;
CREATE TRIGGER webhooks_fts_ad AFTER DELETE ON webhooks BEGIN
    INSERT INTO webhooks_fts (webhooks_fts, rowid, url, description) VALUES ('delete', old.rid, old.url, old.description);
END;
CREATE TRIGGER webhooks_fts_au AFTER UPDATE OF url, description ON webhooks
WHEN old.url IS NOT new.url OR old.description IS NOT new.description
BEGIN
    INSERT INTO webhooks_fts (webhooks_fts, rowid, url, description) VALUES ('delete', old.rid, old.url, old.description);
    INSERT INTO webhooks_fts (rowid, url, description) VALUES (new.rid, new.url, new.description);
END;

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id),
    event_seq INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    round_start INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_owner TEXT,
    lease_until TEXT,
    last_attempt_at TEXT,
    last_status INTEGER,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    UNIQUE (webhook_id, event_seq)
);
-- What is due, and what comes before a delivery for the same record (deliveries of one record
-- go out in order).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_record ON webhook_deliveries (webhook_id, entity_id, event_seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, event_seq);

CREATE TABLE webhook_attempts (
    delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    attempted_at TEXT NOT NULL,
    status_code INTEGER,
    latency_ms INTEGER NOT NULL,
    error TEXT,
    response_excerpt TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
