DROP TABLE customer_analytics;
DROP TABLE analytics_runs;
DROP TABLE analytics_settings;
