-- Consent records (issue 22): what a contact or a lead agreed to, or withdrew, for one purpose
-- on one channel (null: every channel). One live record per person, purpose and channel
-- (`key`); its history is the ledger.
CREATE TABLE consents (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    contact_id TEXT REFERENCES contacts (id),
    lead_id TEXT REFERENCES leads (id),
    purpose TEXT NOT NULL,
    channel TEXT,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    text_version TEXT,
    captured_at TEXT NOT NULL,
    evidence TEXT,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT,
    CHECK ((contact_id IS NULL) <> (lead_id IS NULL))
);
CREATE UNIQUE INDEX consents_key_live ON consents (key) WHERE archived_at IS NULL;
CREATE INDEX consents_contact ON consents (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX consents_lead ON consents (lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX consents_created ON consents (created_at, id);
CREATE INDEX consents_captured ON consents (captured_at, id);
CREATE VIRTUAL TABLE consents_fts USING fts5(
    source, text_version, evidence,
    content = 'consents', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER consents_fts_ai AFTER INSERT ON consents BEGIN
    INSERT INTO consents_fts (rowid, source, text_version, evidence) VALUES (new.rid, new.source, new.text_version, new.evidence);
END;
CREATE TRIGGER consents_fts_ad AFTER DELETE ON consents BEGIN
    INSERT INTO consents_fts (consents_fts, rowid, source, text_version, evidence)
    VALUES ('delete', old.rid, old.source, old.text_version, old.evidence);
END;
CREATE TRIGGER consents_fts_au AFTER UPDATE OF source, text_version, evidence ON consents
WHEN old.source IS NOT new.source OR old.text_version IS NOT new.text_version OR old.evidence IS NOT new.evidence
BEGIN
    INSERT INTO consents_fts (consents_fts, rowid, source, text_version, evidence)
    VALUES ('delete', old.rid, old.source, old.text_version, old.evidence);
    INSERT INTO consents_fts (rowid, source, text_version, evidence) VALUES (new.rid, new.source, new.text_version, new.evidence);
END;
