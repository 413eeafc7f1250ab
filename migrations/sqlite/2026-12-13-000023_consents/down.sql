DROP TABLE consents_fts;
DROP TABLE consents;
