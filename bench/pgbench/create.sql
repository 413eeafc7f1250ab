\set r random(1, 2000000000)
BEGIN;
SELECT * FROM custom_fields WHERE archived_at IS NULL AND resource = 'contacts' ORDER BY resource, position, id;
SELECT id FROM contacts WHERE email = 'pgbench-' || :r || '@load.example.com' AND archived_at IS NULL LIMIT 1;
INSERT INTO contacts (id, first_name, last_name, email, lifecycle_stage, email_consent, do_not_call, city, created_at, updated_at)
  VALUES (gen_random_uuid(), 'Bench', 'User', 'pgbench-' || gen_random_uuid() || '@load.example.com', 'lead', 'unknown', false, 'Seoul', now(), now());
UPDATE event_seq SET last = last + 1 WHERE id = 1 RETURNING last \gset
INSERT INTO events (seq, id, type, entity, entity_id, occurred_at, actor, changed_fields, after_state)
  VALUES (:last, gen_random_uuid(), 'contact.created', 'contact', gen_random_uuid(), now(), 'pgbench', '["last_name"]', '{"first_name":"Bench","last_name":"User"}');
COMMIT;
