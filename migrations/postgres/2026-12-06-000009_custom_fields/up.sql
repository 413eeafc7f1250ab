-- Custom fields: typed fields an administrator adds to a resource (crm_records::custom). The
-- values stay in each record's `custom_fields` object; this table holds their definitions.
-- Definitions are archived, never deleted, so SUM(version) grows with every change (the
-- generation that GraphQL and OpenAPI rebuild their typed fields on).
CREATE TABLE custom_fields (
    id uuid PRIMARY KEY,
    resource text NOT NULL,
    name text NOT NULL,
    key text NOT NULL,
    label text NOT NULL,
    field_type text NOT NULL,
    description text,
    required boolean NOT NULL,
    default_value jsonb,
    options jsonb NOT NULL DEFAULT '[]',
    reference_to text,
    min_value double precision,
    max_value double precision,
    max_length bigint,
    position bigint NOT NULL,
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(label, '') || ' ' || coalesce(description, ''))) STORED
);
CREATE UNIQUE INDEX custom_fields_key_live ON custom_fields (key) WHERE archived_at IS NULL;
CREATE INDEX custom_fields_resource ON custom_fields (resource, position, id);
CREATE INDEX custom_fields_created ON custom_fields (created_at, id);
CREATE INDEX custom_fields_search ON custom_fields USING gin (search_tsv);

-- The resources that carry custom fields beside accounts and contacts.
ALTER TABLE leads ADD COLUMN custom_fields jsonb NOT NULL DEFAULT '{}';
ALTER TABLE opportunities ADD COLUMN custom_fields jsonb NOT NULL DEFAULT '{}';
ALTER TABLE cases ADD COLUMN custom_fields jsonb NOT NULL DEFAULT '{}';
ALTER TABLE products ADD COLUMN custom_fields jsonb NOT NULL DEFAULT '{}';
