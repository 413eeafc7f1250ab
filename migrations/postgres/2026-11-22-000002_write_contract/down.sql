DROP TABLE idempotency_keys;
DROP TABLE external_ids;
DROP TABLE events;
DROP TABLE event_seq;
