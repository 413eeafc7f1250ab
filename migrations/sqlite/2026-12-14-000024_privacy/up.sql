-- Privacy (issue 22): legal holds, which keep a person's data whatever asks to erase it
-- (a live hold blocks erasure; archiving it releases it), and restrictions of processing,
-- under which a person's data is kept but left out of campaigns and analyses.
CREATE TABLE legal_holds (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    contact_id TEXT REFERENCES contacts (id),
    lead_id TEXT REFERENCES leads (id),
    reason TEXT NOT NULL,
    matter TEXT,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT,
    CHECK ((contact_id IS NULL) <> (lead_id IS NULL))
);
CREATE INDEX legal_holds_contact ON legal_holds (contact_id) WHERE archived_at IS NULL;
CREATE INDEX legal_holds_lead ON legal_holds (lead_id) WHERE archived_at IS NULL;
CREATE INDEX legal_holds_created ON legal_holds (created_at, id);
CREATE VIRTUAL TABLE legal_holds_fts USING fts5(
    reason, matter,
    content = 'legal_holds', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER legal_holds_fts_ai AFTER INSERT ON legal_holds BEGIN
    INSERT INTO legal_holds_fts (rowid, reason, matter) VALUES (new.rid, new.reason, new.matter);
END;
CREATE TRIGGER legal_holds_fts_ad AFTER DELETE ON legal_holds BEGIN
    INSERT INTO legal_holds_fts (legal_holds_fts, rowid, reason, matter) VALUES ('delete', old.rid, old.reason, old.matter);
END;
CREATE TRIGGER legal_holds_fts_au AFTER UPDATE OF reason, matter ON legal_holds
WHEN old.reason IS NOT new.reason OR old.matter IS NOT new.matter
BEGIN
    INSERT INTO legal_holds_fts (legal_holds_fts, rowid, reason, matter) VALUES ('delete', old.rid, old.reason, old.matter);
    INSERT INTO legal_holds_fts (rowid, reason, matter) VALUES (new.rid, new.reason, new.matter);
END;

CREATE TABLE processing_restrictions (
    person TEXT NOT NULL,
    person_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    reason TEXT,
    since TEXT NOT NULL,
    PRIMARY KEY (person, person_id)
);

-- Retention policies: which records of a resource are archived or erased once untouched for a
-- number of days (a daily job applies the enabled ones; a dry run says what they would take).
CREATE TABLE retention_policies (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    resource TEXT NOT NULL,
    filter TEXT,
    untouched_days INTEGER NOT NULL,
    action TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX retention_policies_created ON retention_policies (created_at, id);
CREATE VIRTUAL TABLE retention_policies_fts USING fts5(
    name, content = 'retention_policies', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER retention_policies_fts_ai AFTER INSERT ON retention_policies BEGIN
    INSERT INTO retention_policies_fts (rowid, name) VALUES (new.rid, new.name);
END;
CREATE TRIGGER retention_policies_fts_ad AFTER DELETE ON retention_policies BEGIN
    INSERT INTO retention_policies_fts (retention_policies_fts, rowid, name) VALUES ('delete', old.rid, old.name);
END;
CREATE TRIGGER retention_policies_fts_au AFTER UPDATE OF name ON retention_policies
WHEN old.name IS NOT new.name
BEGIN
    INSERT INTO retention_policies_fts (retention_policies_fts, rowid, name) VALUES ('delete', old.rid, old.name);
    INSERT INTO retention_policies_fts (rowid, name) VALUES (new.rid, new.name);
END;
