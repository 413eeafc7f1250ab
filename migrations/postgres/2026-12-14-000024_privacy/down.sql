DROP TABLE retention_policies;
DROP TABLE processing_restrictions;
DROP TABLE legal_holds;
