DROP TABLE automation_runs;
DROP TRIGGER automation_rules_fts_au;
DROP TRIGGER automation_rules_fts_ad;
DROP TRIGGER automation_rules_fts_ai;
DROP TABLE automation_rules_fts;
DROP TABLE automation_rules;
