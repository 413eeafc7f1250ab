-- Bulk imports (crm_records::imports): a job's progress checkpoint, written in the same
-- transaction as each chunk of rows, so a job taken over after a crash resumes after the last
-- committed chunk; the uploaded file in chunks (any instance can run the job); the per-row
-- errors; and column mappings saved by name.
ALTER TABLE jobs ADD COLUMN checkpoint text;
CREATE TABLE job_files (
    job_id uuid NOT NULL,
    seq integer NOT NULL,
    data bytea NOT NULL,
    created_at timestamp NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE TABLE import_errors (
    job_id uuid NOT NULL,
    row_number bigint NOT NULL,
    n integer NOT NULL,
    line bigint NOT NULL,
    field text,
    column_name text,
    code text NOT NULL,
    message text NOT NULL,
    PRIMARY KEY (job_id, row_number, n)
);
CREATE TABLE import_mappings (
    resource text NOT NULL,
    name text NOT NULL,
    mapping text NOT NULL,
    updated_by text NOT NULL,
    updated_at timestamp NOT NULL,
    PRIMARY KEY (resource, name)
);

-- Duplicate detection (crm_quality): the matching rules an admin set, and the pairs the last
-- scan found per resource, best first.
CREATE TABLE duplicate_settings (
    id bigint PRIMARY KEY,
    definition text NOT NULL,
    updated_at timestamp NOT NULL
);
CREATE TABLE duplicate_candidates (
    resource text NOT NULL,
    a_id uuid NOT NULL,
    b_id uuid NOT NULL,
    score double precision NOT NULL,
    rules text NOT NULL,
    a_name text NOT NULL,
    b_name text NOT NULL,
    found_at timestamp NOT NULL,
    PRIMARY KEY (resource, a_id, b_id)
);
CREATE INDEX duplicate_candidates_best ON duplicate_candidates (resource, score DESC, a_id, b_id);
