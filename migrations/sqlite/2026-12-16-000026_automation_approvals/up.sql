-- Sequences, approvals and change conditions (issue 23). A rule may stop its runs when the person it is about
-- replies, converts or opts out (`stop_when`, checked before each segment of a run); an action
-- may ask a user to approve before the run goes on (`automation_approvals`: one request per
-- paused run, decided once; a run awaiting a decision is due again when the request expires).
ALTER TABLE automation_rules ADD COLUMN stop_when TEXT NOT NULL DEFAULT '[]';
-- Conditions on how an update changed a number ("amount increased by more than 20%").
ALTER TABLE automation_rules ADD COLUMN change_conditions TEXT NOT NULL DEFAULT '[]';

CREATE TABLE automation_approvals (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES automation_runs (id),
    rule_id TEXT NOT NULL REFERENCES automation_rules (id),
    step TEXT NOT NULL,
    entity TEXT NOT NULL,
    record_id TEXT NOT NULL,
    approver_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    decided_by TEXT,
    comment TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    decided_at TEXT
);
CREATE INDEX automation_approvals_approver ON automation_approvals (approver_id, status, created_at);
CREATE INDEX automation_approvals_run ON automation_approvals (run_id);
CREATE INDEX automation_approvals_record ON automation_approvals (record_id, created_at);

DROP INDEX automation_runs_due;
CREATE INDEX automation_runs_due ON automation_runs (due_at) WHERE status IN ('pending', 'waiting', 'awaiting_approval');
