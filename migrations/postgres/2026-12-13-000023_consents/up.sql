-- Consent records (issue 22): what a contact or a lead agreed to, or withdrew, for one purpose
-- on one channel (null: every channel). One live record per person, purpose and channel
-- (`key`); its history is the ledger.
CREATE TABLE consents (
    id uuid PRIMARY KEY,
    contact_id uuid REFERENCES contacts (id),
    lead_id uuid REFERENCES leads (id),
    purpose text NOT NULL,
    channel text,
    status text NOT NULL,
    source text NOT NULL,
    text_version text,
    captured_at timestamp NOT NULL,
    evidence text,
    key text NOT NULL,
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple',
        coalesce(source, '') || ' ' || coalesce(text_version, '') || ' ' || coalesce(evidence, ''))) STORED,
    CHECK ((contact_id IS NULL) <> (lead_id IS NULL))
);
CREATE UNIQUE INDEX consents_key_live ON consents (key) WHERE archived_at IS NULL;
CREATE INDEX consents_contact ON consents (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX consents_lead ON consents (lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX consents_created ON consents (created_at, id);
CREATE INDEX consents_captured ON consents (captured_at, id);
CREATE INDEX consents_search ON consents USING gin (search_tsv);
