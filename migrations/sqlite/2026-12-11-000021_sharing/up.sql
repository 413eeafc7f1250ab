-- Record visibility (issue 22): who manages whom, how widely each resource's records are
-- shared (a sharing rule overrides the resource's default level), and explicit shares of one
-- record with a user or a team. Archiving a share revokes it.
ALTER TABLE users ADD COLUMN manager_id TEXT REFERENCES users (id);
CREATE INDEX users_manager ON users (manager_id) WHERE manager_id IS NOT NULL;
CREATE INDEX users_team ON users (team) WHERE team IS NOT NULL;

CREATE TABLE sharing_rules (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    entity TEXT NOT NULL,
    level TEXT NOT NULL,
    note TEXT,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE UNIQUE INDEX sharing_rules_entity_live ON sharing_rules (entity) WHERE archived_at IS NULL;
CREATE INDEX sharing_rules_created ON sharing_rules (created_at, id);
CREATE VIRTUAL TABLE sharing_rules_fts USING fts5(
    entity, note,
    content = 'sharing_rules', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER sharing_rules_fts_ai AFTER INSERT ON sharing_rules BEGIN
    INSERT INTO sharing_rules_fts (rowid, entity, note) VALUES (new.rid, new.entity, new.note);
END;
CREATE TRIGGER sharing_rules_fts_ad AFTER DELETE ON sharing_rules BEGIN
    INSERT INTO sharing_rules_fts (sharing_rules_fts, rowid, entity, note) VALUES ('delete', old.rid, old.entity, old.note);
END;
CREATE TRIGGER sharing_rules_fts_au AFTER UPDATE OF entity, note ON sharing_rules
WHEN old.entity IS NOT new.entity OR old.note IS NOT new.note
BEGIN
    INSERT INTO sharing_rules_fts (sharing_rules_fts, rowid, entity, note) VALUES ('delete', old.rid, old.entity, old.note);
    INSERT INTO sharing_rules_fts (rowid, entity, note) VALUES (new.rid, new.entity, new.note);
END;

CREATE TABLE record_shares (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    entity TEXT NOT NULL,
    record_id TEXT NOT NULL,
    user_id TEXT REFERENCES users (id),
    team TEXT,
    granted_by TEXT REFERENCES users (id),
    note TEXT,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT,
    CHECK (user_id IS NOT NULL OR team IS NOT NULL)
);
CREATE INDEX record_shares_user ON record_shares (entity, user_id) WHERE archived_at IS NULL AND user_id IS NOT NULL;
CREATE INDEX record_shares_team ON record_shares (entity, team) WHERE archived_at IS NULL AND team IS NOT NULL;
CREATE INDEX record_shares_record ON record_shares (entity, record_id);
CREATE INDEX record_shares_created ON record_shares (created_at, id);
CREATE VIRTUAL TABLE record_shares_fts USING fts5(
    team, note,
    content = 'record_shares', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER record_shares_fts_ai AFTER INSERT ON record_shares BEGIN
    INSERT INTO record_shares_fts (rowid, team, note) VALUES (new.rid, new.team, new.note);
END;
CREATE TRIGGER record_shares_fts_ad AFTER DELETE ON record_shares BEGIN
    INSERT INTO record_shares_fts (record_shares_fts, rowid, team, note) VALUES ('delete', old.rid, old.team, old.note);
END;
CREATE TRIGGER record_shares_fts_au AFTER UPDATE OF team, note ON record_shares
WHEN old.team IS NOT new.team OR old.note IS NOT new.note
BEGIN
    INSERT INTO record_shares_fts (record_shares_fts, rowid, team, note) VALUES ('delete', old.rid, old.team, old.note);
    INSERT INTO record_shares_fts (rowid, team, note) VALUES (new.rid, new.team, new.note);
END;
