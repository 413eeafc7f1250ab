-- The audit log (issue 22): who did what, from where, to which record, for the acts an auditor
-- asks about (permission changes, API key use, bulk reads, deletions). Append-only: an entry
-- is never changed, and none younger than 28 days can be deleted (retention keeps at least 30).
-- It holds no personal data beyond ids, so an erasure leaves it whole.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT,
    record_id TEXT,
    ip TEXT,
    request_id TEXT,
    trace_id TEXT,
    details TEXT NOT NULL
);
CREATE INDEX audit_log_occurred ON audit_log (occurred_at);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_record ON audit_log (record_id, seq) WHERE record_id IS NOT NULL;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_kept BEFORE DELETE ON audit_log
WHEN old.occurred_at > strftime('%Y-%m-%d %H:%M:%f', 'now', '-28 days')
BEGIN
    SELECT RAISE(ABORT, 'audit entries are kept at least 28 days');
END;
