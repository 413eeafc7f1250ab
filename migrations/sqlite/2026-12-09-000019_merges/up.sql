-- Merged duplicates: each loser of a merge points at the record it was merged into (a
-- tombstone: the loser is archived, GET answers 301 to the survivor, writes answer 409).
CREATE TABLE merges (
    entity TEXT NOT NULL,
    loser_id TEXT NOT NULL,
    survivor_id TEXT NOT NULL,
    merged_at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    PRIMARY KEY (entity, loser_id)
);
CREATE INDEX merges_survivor ON merges (entity, survivor_id);
