-- The audit log (issue 22): who did what, from where, to which record, for the acts an auditor
-- asks about (permission changes, API key use, bulk reads, deletions). Append-only: an entry
-- is never changed, and none younger than 28 days can be deleted (retention keeps at least 30).
-- It holds no personal data beyond ids, so an erasure leaves it whole.
CREATE TABLE audit_log (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamp NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    entity text,
    record_id uuid,
    ip text,
    request_id text,
    trace_id text,
    details jsonb NOT NULL
);
CREATE INDEX audit_log_occurred ON audit_log (occurred_at);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action text_pattern_ops, seq);
CREATE INDEX audit_log_record ON audit_log (record_id, seq) WHERE record_id IS NOT NULL;

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' OR TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'the audit log is append-only';
    END IF;
    IF OLD.occurred_at > (now() AT TIME ZONE 'UTC') - interval '28 days' THEN
        RAISE EXCEPTION 'audit entries are kept at least 28 days';
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
