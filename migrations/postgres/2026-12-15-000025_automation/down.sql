DROP TABLE automation_runs;
DROP TABLE automation_rules;
