-- Accounts and contacts. Timestamps are UTC (timestamp without time zone, written by the app).
CREATE TABLE accounts (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    domain text,
    industry text,
    tier text,
    owner_id uuid,
    phone text,
    website text,
    street text,
    city text,
    region text,
    postal_code text,
    country text,
    latitude double precision,
    longitude double precision,
    annual_revenue_minor bigint,
    annual_revenue_currency text,
    employee_count bigint,
    tags jsonb NOT NULL DEFAULT '[]',
    custom_fields jsonb NOT NULL DEFAULT '{}',
    version bigint NOT NULL DEFAULT 1,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple',
        coalesce(name, '') || ' ' || coalesce(domain, '') || ' ' || coalesce(translate(domain, '.', ' '), '') || ' ' ||
        coalesce(industry, '') || ' ' || coalesce(city, ''))) STORED
);
-- One live account per domain: the deduplication key for companies.
CREATE UNIQUE INDEX accounts_domain_live ON accounts (domain) WHERE archived_at IS NULL AND domain IS NOT NULL;
CREATE INDEX accounts_created ON accounts (created_at, id);
CREATE INDEX accounts_name ON accounts (name, id);
CREATE INDEX accounts_city ON accounts (city, id);
CREATE INDEX accounts_search ON accounts USING gin (search_tsv);
CREATE INDEX accounts_tags ON accounts USING gin (tags jsonb_path_ops);

CREATE TABLE contacts (
    id uuid PRIMARY KEY,
    first_name text,
    last_name text,
    email text,
    emails jsonb NOT NULL DEFAULT '[]',
    phone text,
    phones jsonb NOT NULL DEFAULT '[]',
    title text,
    department text,
    account_id uuid REFERENCES accounts (id),
    owner_id uuid,
    lifecycle_stage text NOT NULL,
    email_consent text NOT NULL,
    email_consent_at timestamp,
    do_not_call boolean NOT NULL DEFAULT false,
    street text,
    city text,
    region text,
    postal_code text,
    country text,
    latitude double precision,
    longitude double precision,
    tags jsonb NOT NULL DEFAULT '[]',
    custom_fields jsonb NOT NULL DEFAULT '{}',
    version bigint NOT NULL DEFAULT 1,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple',
        coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, '') || ' ' ||
        coalesce(translate(email, '@.', '  '), '') || ' ' || coalesce(phone, '') || ' ' ||
        coalesce(title, '') || ' ' || coalesce(department, '') || ' ' || coalesce(city, ''))) STORED
);
-- One live contact per primary email: the deduplication key for people.
CREATE UNIQUE INDEX contacts_email_live ON contacts (email) WHERE archived_at IS NULL AND email IS NOT NULL;
CREATE INDEX contacts_account ON contacts (account_id, id);
CREATE INDEX contacts_created ON contacts (created_at, id);
CREATE INDEX contacts_last_name ON contacts (last_name, id);
CREATE INDEX contacts_city_last_name ON contacts (city, last_name, id);
CREATE INDEX contacts_search ON contacts USING gin (search_tsv);
CREATE INDEX contacts_tags ON contacts USING gin (tags jsonb_path_ops);
