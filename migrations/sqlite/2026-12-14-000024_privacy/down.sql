DROP TABLE processing_restrictions;
DROP TABLE legal_holds_fts;
DROP TABLE legal_holds;
