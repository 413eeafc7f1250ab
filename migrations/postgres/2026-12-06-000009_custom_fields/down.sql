ALTER TABLE products DROP COLUMN custom_fields;
ALTER TABLE cases DROP COLUMN custom_fields;
ALTER TABLE opportunities DROP COLUMN custom_fields;
ALTER TABLE leads DROP COLUMN custom_fields;
DROP TABLE custom_fields;
