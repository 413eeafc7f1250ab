-- Merged duplicates: each loser of a merge points at the record it was merged into (a
-- tombstone: the loser is archived, GET answers 301 to the survivor, writes answer 409).
CREATE TABLE merges (
    entity text NOT NULL,
    loser_id uuid NOT NULL,
    survivor_id uuid NOT NULL,
    merged_at timestamp NOT NULL,
    actor text NOT NULL,
    PRIMARY KEY (entity, loser_id)
);
CREATE INDEX merges_survivor ON merges (entity, survivor_id);
