-- Phone and post waves: a phone campaign's call script and its callers (round-robin), and the
-- campaign a call activity works (completing it records the member's response).
ALTER TABLE campaigns ADD COLUMN call_script TEXT;
ALTER TABLE campaigns ADD COLUMN caller_ids TEXT NOT NULL DEFAULT '[]';
ALTER TABLE activities ADD COLUMN campaign_id TEXT REFERENCES campaigns (id);
CREATE INDEX activities_campaign ON activities (campaign_id, status) WHERE campaign_id IS NOT NULL;
