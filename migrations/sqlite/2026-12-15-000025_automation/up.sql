-- Workflow automation (crm-automation): rules that act on the records of one resource when an
-- event of the log (the outbox) matches them or when someone runs them on a selection, and the
-- log of their runs. Each rule's matcher reads the log after its cursor and writes one run per
-- matching event, in the transaction that moves the cursor; one instance at a time executes a
-- run, and its actions, its result and its status commit together.
CREATE TABLE automation_rules (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    entity TEXT NOT NULL,
    trigger_kind TEXT NOT NULL,
    events TEXT NOT NULL DEFAULT '[]',
    changed_fields TEXT NOT NULL DEFAULT '[]',
    schedule TEXT,
    time_zone TEXT,
    date_field TEXT,
    time_offset TEXT,
    filter TEXT,
    before_filter TEXT,
    actions TEXT NOT NULL DEFAULT '[]',
    scopes TEXT NOT NULL DEFAULT '[]',
    enabled BOOLEAN NOT NULL,
    enabled_by TEXT,
    disabled_reason TEXT,
    allow_retrigger BOOLEAN NOT NULL,
    max_runs_per_hour INTEGER NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT,
    -- Not part of the record a client reads: the matcher's position in the event log, the
    -- failed runs in a row, the user a round robin gave a record to last, and the clock of
    -- schedule rules (their next firing) and relative rules (the time they looked up to).
    cursor_seq INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_assignee TEXT,
    clock_at TEXT
);
CREATE INDEX automation_rules_created ON automation_rules (created_at, id);
CREATE VIRTUAL TABLE automation_rules_fts USING fts5(
    name, description,
    content = 'automation_rules', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER automation_rules_fts_ai AFTER INSERT ON automation_rules BEGIN
    INSERT INTO automation_rules_fts (rowid, name, description) VALUES (new.rid, new.name, new.description);
END;
CREATE TRIGGER automation_rules_fts_ad AFTER DELETE ON automation_rules BEGIN
    INSERT INTO automation_rules_fts (automation_rules_fts, rowid, name, description) VALUES ('delete', old.rid, old.name, old.description);
END;
CREATE TRIGGER automation_rules_fts_au AFTER UPDATE OF name, description ON automation_rules
WHEN old.name IS NOT new.name OR old.description IS NOT new.description
BEGIN
    INSERT INTO automation_rules_fts (automation_rules_fts, rowid, name, description) VALUES ('delete', old.rid, old.name, old.description);
    INSERT INTO automation_rules_fts (rowid, name, description) VALUES (new.rid, new.name, new.description);
END;

CREATE TABLE automation_runs (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL REFERENCES automation_rules (id),
    rule_version INTEGER NOT NULL,
    trigger_kind TEXT NOT NULL,
    event_seq INTEGER,
    event_id TEXT,
    event_type TEXT,
    entity TEXT NOT NULL,
    record_id TEXT NOT NULL,
    caused_by TEXT NOT NULL,
    depth INTEGER NOT NULL,
    status TEXT NOT NULL,
    conditions TEXT NOT NULL DEFAULT '[]',
    steps TEXT NOT NULL DEFAULT '[]',
    next_step INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    due_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    UNIQUE (rule_id, event_id)
);
CREATE INDEX automation_runs_due ON automation_runs (due_at) WHERE status IN ('pending', 'waiting');
CREATE INDEX automation_runs_rule ON automation_runs (rule_id, created_at);
CREATE INDEX automation_runs_record ON automation_runs (record_id, created_at);
CREATE INDEX automation_runs_hour ON automation_runs (rule_id, status, created_at);
