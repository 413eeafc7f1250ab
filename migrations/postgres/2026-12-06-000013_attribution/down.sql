DROP INDEX leads_campaign;
ALTER TABLE leads DROP COLUMN campaign_id;
DROP TABLE campaign_attributions;
