DROP TRIGGER api_keys_fts_au;
DROP TRIGGER api_keys_fts_ad;
DROP TRIGGER api_keys_fts_ai;
DROP TABLE api_keys_fts;
DROP TABLE api_keys;
