\set n random(1, @N@)
SELECT c.* FROM contacts c JOIN bench_ids b ON b.id = c.id WHERE b.n = :n;
SELECT entity_id, source, external_id FROM external_ids WHERE entity = 'contact' AND entity_id = (SELECT id FROM bench_ids WHERE n = :n);
