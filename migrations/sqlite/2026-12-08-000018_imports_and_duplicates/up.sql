-- Bulk imports (crm_records::imports): a job's progress checkpoint, written in the same
-- transaction as each chunk of rows, so a job taken over after a crash resumes after the last
-- committed chunk; the uploaded file in chunks (any instance can run the job); the per-row
-- errors; and column mappings saved by name.
ALTER TABLE jobs ADD COLUMN checkpoint TEXT;
CREATE TABLE job_files (
    job_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE TABLE import_errors (
    job_id TEXT NOT NULL,
    row_number BIGINT NOT NULL,
    n INTEGER NOT NULL,
    line BIGINT NOT NULL,
    field TEXT,
    column_name TEXT,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (job_id, row_number, n)
);
CREATE TABLE import_mappings (
    resource TEXT NOT NULL,
    name TEXT NOT NULL,
    mapping TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (resource, name)
);

-- Duplicate detection (crm_quality): the matching rules an admin set, and the pairs the last
-- scan found per resource, best first.
CREATE TABLE duplicate_settings (
    id BIGINT PRIMARY KEY,
    definition TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE duplicate_candidates (
    resource TEXT NOT NULL,
    a_id TEXT NOT NULL,
    b_id TEXT NOT NULL,
    score REAL NOT NULL,
    rules TEXT NOT NULL,
    a_name TEXT NOT NULL,
    b_name TEXT NOT NULL,
    found_at TIMESTAMP NOT NULL,
    PRIMARY KEY (resource, a_id, b_id)
);
CREATE INDEX duplicate_candidates_best ON duplicate_candidates (resource, score DESC, a_id, b_id);
