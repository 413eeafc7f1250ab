\set t random(1, 4)
SELECT * FROM contacts WHERE archived_at IS NULL AND search_tsv @@ to_tsquery('simple', (ARRAY['kim:*','lee:*','park:*','smith:*'])[:t]) ORDER BY created_at DESC, id DESC LIMIT 51;
