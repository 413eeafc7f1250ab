-- Record visibility (issue 22): who manages whom, how widely each resource's records are
-- shared (a sharing rule overrides the resource's default level), and explicit shares of one
-- record with a user or a team. Archiving a share revokes it.
ALTER TABLE users ADD COLUMN manager_id uuid REFERENCES users (id);
CREATE INDEX users_manager ON users (manager_id) WHERE manager_id IS NOT NULL;
CREATE INDEX users_team ON users (team) WHERE team IS NOT NULL;

CREATE TABLE sharing_rules (
    id uuid PRIMARY KEY,
    entity text NOT NULL,
    level text NOT NULL,
    note text,
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(entity, '') || ' ' || coalesce(note, ''))) STORED
);
CREATE UNIQUE INDEX sharing_rules_entity_live ON sharing_rules (entity) WHERE archived_at IS NULL;
CREATE INDEX sharing_rules_created ON sharing_rules (created_at, id);
CREATE INDEX sharing_rules_search ON sharing_rules USING gin (search_tsv);

CREATE TABLE record_shares (
    id uuid PRIMARY KEY,
    entity text NOT NULL,
    record_id uuid NOT NULL,
    user_id uuid REFERENCES users (id),
    team text,
    granted_by uuid REFERENCES users (id),
    note text,
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(team, '') || ' ' || coalesce(note, ''))) STORED,
    CHECK (user_id IS NOT NULL OR team IS NOT NULL)
);
CREATE INDEX record_shares_user ON record_shares (entity, user_id) WHERE archived_at IS NULL AND user_id IS NOT NULL;
CREATE INDEX record_shares_team ON record_shares (entity, team) WHERE archived_at IS NULL AND team IS NOT NULL;
CREATE INDEX record_shares_record ON record_shares (entity, record_id);
CREATE INDEX record_shares_created ON record_shares (created_at, id);
CREATE INDEX record_shares_search ON record_shares USING gin (search_tsv);
