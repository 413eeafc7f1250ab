ALTER TABLE products DROP COLUMN successor_id;
DROP TABLE web_visitors;
DROP TABLE web_events;
ALTER TABLE interactions DROP COLUMN nps;
DROP TABLE alerts;
DROP TABLE product_associations;
DROP TABLE customer_analytics;
DROP TABLE analytics_runs;
DROP TABLE analytics_settings;
