DROP INDEX automation_runs_due;
CREATE INDEX automation_runs_due ON automation_runs (due_at) WHERE status IN ('pending', 'waiting');
DROP TABLE automation_approvals;
ALTER TABLE automation_rules DROP COLUMN change_conditions;
ALTER TABLE automation_rules DROP COLUMN stop_when;
