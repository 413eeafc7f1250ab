DROP TABLE retention_policies_fts;
DROP TABLE retention_policies;
DROP TABLE processing_restrictions;
DROP TABLE legal_holds_fts;
DROP TABLE legal_holds;
