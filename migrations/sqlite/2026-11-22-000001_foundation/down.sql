DROP TABLE contacts_fts;
DROP TABLE contacts;
DROP TABLE accounts_fts;
DROP TABLE accounts;
