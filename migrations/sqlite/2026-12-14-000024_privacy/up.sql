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
