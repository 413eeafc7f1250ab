-- Privacy (issue 22): legal holds, which keep a person's data whatever asks to erase it
-- (a live hold blocks erasure; archiving it releases it), and restrictions of processing,
-- under which a person's data is kept but left out of campaigns and analyses.
CREATE TABLE legal_holds (
    id uuid PRIMARY KEY,
    contact_id uuid REFERENCES contacts (id),
    lead_id uuid REFERENCES leads (id),
    reason text NOT NULL,
    matter text,
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple',
        coalesce(reason, '') || ' ' || coalesce(matter, ''))) STORED,
    CHECK ((contact_id IS NULL) <> (lead_id IS NULL))
);
CREATE INDEX legal_holds_contact ON legal_holds (contact_id) WHERE archived_at IS NULL;
CREATE INDEX legal_holds_lead ON legal_holds (lead_id) WHERE archived_at IS NULL;
CREATE INDEX legal_holds_created ON legal_holds (created_at, id);
CREATE INDEX legal_holds_search ON legal_holds USING gin (search_tsv);

CREATE TABLE processing_restrictions (
    person text NOT NULL,
    person_id uuid NOT NULL,
    request_id uuid NOT NULL,
    reason text,
    since timestamp NOT NULL,
    PRIMARY KEY (person, person_id)
);

-- Retention policies: which records of a resource are archived or erased once untouched for a
-- number of days (a daily job applies the enabled ones; a dry run says what they would take).
CREATE TABLE retention_policies (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    resource text NOT NULL,
    filter text,
    untouched_days bigint NOT NULL,
    action text NOT NULL,
    enabled boolean NOT NULL,
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(name, ''))) STORED
);
CREATE INDEX retention_policies_created ON retention_policies (created_at, id);
CREATE INDEX retention_policies_search ON retention_policies USING gin (search_tsv);
