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

-- The likely-duplicate check on every contact create (and GET /contacts/{id}/duplicates) looks
-- up contacts sharing a phone, or a city and family name case aside: indexes for those branches
-- of its OR (the email and account branches have theirs), so it reads the candidates, not the
-- table.
CREATE INDEX contacts_phone ON contacts (phone) WHERE phone IS NOT NULL;
CREATE INDEX contacts_city_last_name_folded ON contacts (lower(city), lower(last_name));
