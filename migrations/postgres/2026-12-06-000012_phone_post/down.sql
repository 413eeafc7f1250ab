DROP INDEX activities_campaign;
ALTER TABLE activities DROP COLUMN campaign_id;
ALTER TABLE campaigns DROP COLUMN caller_ids;
ALTER TABLE campaigns DROP COLUMN call_script;
