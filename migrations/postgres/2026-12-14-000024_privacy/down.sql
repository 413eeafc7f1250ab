DROP TABLE processing_restrictions;
DROP TABLE legal_holds;
