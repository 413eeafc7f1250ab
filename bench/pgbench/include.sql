SELECT * FROM contacts WHERE archived_at IS NULL AND city = 'Seoul' ORDER BY last_name ASC NULLS LAST, id ASC LIMIT 51;
SELECT entity_id, source, external_id FROM external_ids WHERE entity = 'contact' AND entity_id IN (SELECT id FROM contacts WHERE archived_at IS NULL AND city = 'Seoul' ORDER BY last_name ASC NULLS LAST, id ASC LIMIT 50);
SELECT * FROM accounts WHERE id IN (SELECT account_id FROM contacts WHERE archived_at IS NULL AND city = 'Seoul' ORDER BY last_name ASC NULLS LAST, id ASC LIMIT 50);
SELECT entity_id, source, external_id FROM external_ids WHERE entity = 'account' AND entity_id IN (SELECT account_id FROM contacts WHERE archived_at IS NULL AND city = 'Seoul' ORDER BY last_name ASC NULLS LAST, id ASC LIMIT 50);
