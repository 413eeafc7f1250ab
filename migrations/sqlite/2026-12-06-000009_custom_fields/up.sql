-- Custom fields: typed fields an administrator adds to a resource (crm_records::custom). The
-- values stay in each record's `custom_fields` object; this table holds their definitions.
-- Definitions are archived, never deleted, so SUM(version) grows with every change (the
-- generation that GraphQL and OpenAPI rebuild their typed fields on).
CREATE TABLE custom_fields (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    resource TEXT NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    label TEXT NOT NULL,
    field_type TEXT NOT NULL,
    description TEXT,
    required BOOLEAN NOT NULL,
    default_value TEXT,
    options TEXT NOT NULL DEFAULT '[]',
    reference_to TEXT,
    min_value REAL,
    max_value REAL,
    max_length INTEGER,
    position INTEGER NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE UNIQUE INDEX custom_fields_key_live ON custom_fields (key) WHERE archived_at IS NULL;
CREATE INDEX custom_fields_resource ON custom_fields (resource, position, id);
CREATE INDEX custom_fields_created ON custom_fields (created_at, id);
CREATE VIRTUAL TABLE custom_fields_fts USING fts5(
    name, label, description,
    content = 'custom_fields', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER custom_fields_fts_ai AFTER INSERT ON custom_fields BEGIN
    INSERT INTO custom_fields_fts (rowid, name, label, description) VALUES (new.rid, new.name, new.label, new.description);
END;
CREATE TRIGGER custom_fields_fts_ad AFTER DELETE ON custom_fields BEGIN
    INSERT INTO custom_fields_fts (custom_fields_fts, rowid, name, label, description) VALUES ('delete', old.rid, old.name, old.label, old.description);
END;
CREATE TRIGGER custom_fields_fts_au AFTER UPDATE OF name, label, description ON custom_fields
WHEN old.name IS NOT new.name OR old.label IS NOT new.label OR old.description IS NOT new.description
BEGIN
    INSERT INTO custom_fields_fts (custom_fields_fts, rowid, name, label, description) VALUES ('delete', old.rid, old.name, old.label, old.description);
    INSERT INTO custom_fields_fts (rowid, name, label, description) VALUES (new.rid, new.name, new.label, new.description);
END;

-- The resources that carry custom fields beside accounts and contacts.
ALTER TABLE leads ADD COLUMN custom_fields TEXT NOT NULL DEFAULT '{}';
ALTER TABLE opportunities ADD COLUMN custom_fields TEXT NOT NULL DEFAULT '{}';
ALTER TABLE cases ADD COLUMN custom_fields TEXT NOT NULL DEFAULT '{}';
ALTER TABLE products ADD COLUMN custom_fields TEXT NOT NULL DEFAULT '{}';
