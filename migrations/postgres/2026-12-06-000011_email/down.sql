DROP TABLE server_secrets;
DROP TABLE campaign_sends;
ALTER TABLE campaigns DROP COLUMN email_template_id;
DROP TABLE email_templates;
