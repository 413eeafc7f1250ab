DROP TABLE server_secrets;
DROP TABLE campaign_sends;
ALTER TABLE campaigns DROP COLUMN email_template_id;
DROP TRIGGER email_templates_fts_au;
DROP TRIGGER email_templates_fts_ad;
DROP TRIGGER email_templates_fts_ai;
DROP TABLE email_templates_fts;
DROP TABLE email_templates;
