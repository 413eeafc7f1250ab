DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TRIGGER webhooks_fts_au;
DROP TRIGGER webhooks_fts_ad;
DROP TRIGGER webhooks_fts_ai;
DROP TABLE webhooks_fts;
DROP TABLE webhooks;
