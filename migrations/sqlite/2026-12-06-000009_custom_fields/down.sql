ALTER TABLE products DROP COLUMN custom_fields;
ALTER TABLE cases DROP COLUMN custom_fields;
ALTER TABLE opportunities DROP COLUMN custom_fields;
ALTER TABLE leads DROP COLUMN custom_fields;
DROP TRIGGER custom_fields_fts_au;
DROP TRIGGER custom_fields_fts_ad;
DROP TRIGGER custom_fields_fts_ai;
DROP TABLE custom_fields_fts;
DROP TABLE custom_fields;
