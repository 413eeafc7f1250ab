DROP TABLE record_shares;
DROP TABLE sharing_rules;
DROP INDEX users_team;
DROP INDEX users_manager;
ALTER TABLE users DROP COLUMN manager_id;
