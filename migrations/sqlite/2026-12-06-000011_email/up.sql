-- Campaign email: templates, the outbox of messages (one per member of an email wave, sent by
-- the mail worker), and the server's own secrets (the key that signs tracking links, made on
-- first use and shared by every instance).
CREATE TABLE email_templates (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    subject TEXT NOT NULL,
    html TEXT NOT NULL,
    text_body TEXT,
    from_name TEXT,
    from_email TEXT,
    reply_to TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX email_templates_created ON email_templates (created_at, id);
CREATE VIRTUAL TABLE email_templates_fts USING fts5(
    name, subject, description,
    content = 'email_templates', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER email_templates_fts_ai AFTER INSERT ON email_templates BEGIN
    INSERT INTO email_templates_fts (rowid, name, subject, description) VALUES (new.rid, new.name, new.subject, new.description);
END;
CREATE TRIGGER email_templates_fts_ad AFTER DELETE ON email_templates BEGIN
    INSERT INTO email_templates_fts (email_templates_fts, rowid, name, subject, description) VALUES ('delete', old.rid, old.name, old.subject, old.description);
END;
CREATE TRIGGER email_templates_fts_au AFTER UPDATE OF name, subject, description ON email_templates
WHEN old.name IS NOT new.name OR old.subject IS NOT new.subject OR old.description IS NOT new.description
BEGIN
    INSERT INTO email_templates_fts (email_templates_fts, rowid, name, subject, description) VALUES ('delete', old.rid, old.name, old.subject, old.description);
    INSERT INTO email_templates_fts (rowid, name, subject, description) VALUES (new.rid, new.name, new.subject, new.description);
END;

ALTER TABLE campaigns ADD COLUMN email_template_id TEXT REFERENCES email_templates (id);

CREATE TABLE campaign_sends (
    id TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL REFERENCES campaigns (id),
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    to_address TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_owner TEXT,
    lease_until TEXT,
    links TEXT NOT NULL DEFAULT '[]',
    last_error TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    UNIQUE (campaign_id, contact_id)
);
CREATE INDEX campaign_sends_due ON campaign_sends (next_attempt_at) WHERE status = 'queued';
CREATE INDEX campaign_sends_sending ON campaign_sends (lease_until) WHERE status = 'sending';
CREATE INDEX campaign_sends_campaign ON campaign_sends (campaign_id, status, sent_at);

CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);
