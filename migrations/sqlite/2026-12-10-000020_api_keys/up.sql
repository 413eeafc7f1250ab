-- API keys (crm-users): credentials for integrators' scripts, created by an administrator with
-- their own scopes. Only the SHA-256 of a key is kept (`key_hash`, not part of the record a
-- client reads); the key itself is shown once, in the answer that creates it. Archiving a key
-- revokes it.
CREATE TABLE api_keys (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    scopes TEXT NOT NULL DEFAULT '[]',
    expires_at TEXT,
    allowed_ips TEXT NOT NULL DEFAULT '[]',
    rate_limit_per_minute INTEGER,
    key_prefix TEXT NOT NULL,
    last_used_at TEXT,
    last_used_ip TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT,
    key_hash TEXT
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);
CREATE INDEX api_keys_created ON api_keys (created_at, id);
CREATE INDEX api_keys_name ON api_keys (name, id);
CREATE VIRTUAL TABLE api_keys_fts USING fts5(
    name, description,
    content = 'api_keys', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER api_keys_fts_ai AFTER INSERT ON api_keys BEGIN
    INSERT INTO api_keys_fts (rowid, name, description) VALUES (new.rid, new.name, new.description);
END;
CREATE TRIGGER api_keys_fts_ad AFTER DELETE ON api_keys BEGIN
    INSERT INTO api_keys_fts (api_keys_fts, rowid, name, description) VALUES ('delete', old.rid, old.name, old.description);
END;
CREATE TRIGGER api_keys_fts_au AFTER UPDATE OF name, description ON api_keys
WHEN old.name IS NOT new.name OR old.description IS NOT new.description
BEGIN
    INSERT INTO api_keys_fts (api_keys_fts, rowid, name, description) VALUES ('delete', old.rid, old.name, old.description);
    INSERT INTO api_keys_fts (rowid, name, description) VALUES (new.rid, new.name, new.description);
END;
