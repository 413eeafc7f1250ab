DROP TABLE duplicate_candidates;
DROP TABLE duplicate_settings;
DROP TABLE import_mappings;
DROP TABLE import_errors;
DROP TABLE job_files;
ALTER TABLE jobs DROP COLUMN checkpoint;
