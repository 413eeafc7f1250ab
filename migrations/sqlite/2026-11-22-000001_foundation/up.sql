-- Accounts and contacts. `rid` is a stable integer rowid (it survives VACUUM) for the FTS5
-- indexes; `id` is the public UUID. Timestamps are UTC text written by the app.
CREATE TABLE accounts (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    domain TEXT,
    industry TEXT,
    tier TEXT,
    owner_id TEXT,
    phone TEXT,
    website TEXT,
    street TEXT,
    city TEXT,
    region TEXT,
    postal_code TEXT,
    country TEXT,
    latitude REAL,
    longitude REAL,
    annual_revenue_minor INTEGER,
    annual_revenue_currency TEXT,
    employee_count INTEGER,
    tags TEXT NOT NULL DEFAULT '[]',
    custom_fields TEXT NOT NULL DEFAULT '{}',
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE UNIQUE INDEX accounts_domain_live ON accounts (domain) WHERE archived_at IS NULL AND domain IS NOT NULL;
CREATE INDEX accounts_created ON accounts (created_at, id);
CREATE INDEX accounts_name ON accounts (name, id);
CREATE INDEX accounts_city ON accounts (city, id);

CREATE VIRTUAL TABLE accounts_fts USING fts5(
    name, domain, industry, city,
    content = 'accounts', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER accounts_fts_ai AFTER INSERT ON accounts BEGIN
    INSERT INTO accounts_fts (rowid, name, domain, industry, city)
    VALUES (new.rid, new.name, new.domain, new.industry, new.city);
END;
CREATE TRIGGER accounts_fts_ad AFTER DELETE ON accounts BEGIN
    INSERT INTO accounts_fts (accounts_fts, rowid, name, domain, industry, city)
    VALUES ('delete', old.rid, old.name, old.domain, old.industry, old.city);
END;
-- Full-row updates list every column, so the trigger also checks that an indexed value changed.
CREATE TRIGGER accounts_fts_au AFTER UPDATE OF name, domain, industry, city ON accounts
WHEN old.name IS NOT new.name OR old.domain IS NOT new.domain OR old.industry IS NOT new.industry
    OR old.city IS NOT new.city
BEGIN
    INSERT INTO accounts_fts (accounts_fts, rowid, name, domain, industry, city)
    VALUES ('delete', old.rid, old.name, old.domain, old.industry, old.city);
    INSERT INTO accounts_fts (rowid, name, domain, industry, city)
    VALUES (new.rid, new.name, new.domain, new.industry, new.city);
END;

CREATE TABLE contacts (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    first_name TEXT,
    last_name TEXT,
    email TEXT,
    emails TEXT NOT NULL DEFAULT '[]',
    phone TEXT,
    phones TEXT NOT NULL DEFAULT '[]',
    title TEXT,
    department TEXT,
    account_id TEXT REFERENCES accounts (id),
    owner_id TEXT,
    lifecycle_stage TEXT NOT NULL,
    email_consent TEXT NOT NULL,
    email_consent_at TEXT,
    do_not_call INTEGER NOT NULL DEFAULT 0,
    street TEXT,
    city TEXT,
    region TEXT,
    postal_code TEXT,
    country TEXT,
    latitude REAL,
    longitude REAL,
    tags TEXT NOT NULL DEFAULT '[]',
    custom_fields TEXT NOT NULL DEFAULT '{}',
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE UNIQUE INDEX contacts_email_live ON contacts (email) WHERE archived_at IS NULL AND email IS NOT NULL;
CREATE INDEX contacts_account ON contacts (account_id, id);
CREATE INDEX contacts_created ON contacts (created_at, id);
CREATE INDEX contacts_last_name ON contacts (last_name, id);
CREATE INDEX contacts_city_last_name ON contacts (city, last_name, id);

CREATE VIRTUAL TABLE contacts_fts USING fts5(
    first_name, last_name, email, phone, title, department, city,
    content = 'contacts', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER contacts_fts_ai AFTER INSERT ON contacts BEGIN
    INSERT INTO contacts_fts (rowid, first_name, last_name, email, phone, title, department, city)
    VALUES (new.rid, new.first_name, new.last_name, new.email, new.phone, new.title, new.department, new.city);
END;
CREATE TRIGGER contacts_fts_ad AFTER DELETE ON contacts BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, first_name, last_name, email, phone, title, department, city)
    VALUES ('delete', old.rid, old.first_name, old.last_name, old.email, old.phone, old.title, old.department, old.city);
END;
CREATE TRIGGER contacts_fts_au AFTER UPDATE OF first_name, last_name, email, phone, title, department, city ON contacts
WHEN old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name OR old.email IS NOT new.email
    OR old.phone IS NOT new.phone OR old.title IS NOT new.title OR old.department IS NOT new.department
    OR old.city IS NOT new.city
BEGIN
    INSERT INTO contacts_fts (contacts_fts, rowid, first_name, last_name, email, phone, title, department, city)
    VALUES ('delete', old.rid, old.first_name, old.last_name, old.email, old.phone, old.title, old.department, old.city);
    INSERT INTO contacts_fts (rowid, first_name, last_name, email, phone, title, department, city)
    VALUES (new.rid, new.first_name, new.last_name, new.email, new.phone, new.title, new.department, new.city);
END;
