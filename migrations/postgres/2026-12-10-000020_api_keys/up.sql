-- API keys (crm-users): credentials for integrators' scripts, created by an administrator with
-- their own scopes. Only the SHA-256 of a key is kept (`key_hash`, not part of the record a
-- client reads); the key itself is shown once, in the answer that creates it. Archiving a key
-- revokes it.
CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    description text,
    scopes jsonb NOT NULL DEFAULT '[]',
    expires_at timestamp,
    allowed_ips jsonb NOT NULL DEFAULT '[]',
    rate_limit_per_minute bigint,
    key_prefix text NOT NULL,
    last_used_at timestamp,
    last_used_ip text,
    tags jsonb NOT NULL DEFAULT '[]',
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    key_hash text,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, ''))) STORED
);
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);
CREATE INDEX api_keys_created ON api_keys (created_at, id);
CREATE INDEX api_keys_name ON api_keys (name, id);
CREATE INDEX api_keys_search ON api_keys USING gin (search_tsv);
