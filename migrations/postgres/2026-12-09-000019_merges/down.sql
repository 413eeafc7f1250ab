DROP TABLE merges;
