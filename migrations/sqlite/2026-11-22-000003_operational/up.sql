-- Operational CRM: users, the contact history (interactions), support cases and their
-- comments, the product catalog and purchases. Generated column lists mirror crm_db::schema.

CREATE TABLE users (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT,
    subject TEXT,
    role TEXT NOT NULL,
    team TEXT,
    department TEXT,
    territory TEXT,
    phone TEXT,
    skills TEXT NOT NULL DEFAULT '[]',
    active BOOLEAN NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE UNIQUE INDEX users_email_live ON users (email) WHERE archived_at IS NULL AND email IS NOT NULL;
CREATE UNIQUE INDEX users_subject_live ON users (subject) WHERE archived_at IS NULL AND subject IS NOT NULL;
CREATE INDEX users_name ON users (name, id);
CREATE INDEX users_created ON users (created_at, id);
CREATE VIRTUAL TABLE users_fts USING fts5(
    name, email, team, territory,
    content = 'users', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER users_fts_ai AFTER INSERT ON users BEGIN
    INSERT INTO users_fts (rowid, name, email, team, territory) VALUES (new.rid, new.name, new.email, new.team, new.territory);
END;
CREATE TRIGGER users_fts_ad AFTER DELETE ON users BEGIN
    INSERT INTO users_fts (users_fts, rowid, name, email, team, territory) VALUES ('delete', old.rid, old.name, old.email, old.team, old.territory);
END;
CREATE TRIGGER users_fts_au AFTER UPDATE OF name, email, team, territory ON users
WHEN old.name IS NOT new.name OR old.email IS NOT new.email OR old.team IS NOT new.team OR old.territory IS NOT new.territory
BEGIN
    INSERT INTO users_fts (users_fts, rowid, name, email, team, territory) VALUES ('delete', old.rid, old.name, old.email, old.team, old.territory);
    INSERT INTO users_fts (rowid, name, email, team, territory) VALUES (new.rid, new.name, new.email, new.team, new.territory);
END;

CREATE TABLE products (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    family TEXT,
    description TEXT,
    list_price_minor INTEGER,
    list_price_currency TEXT,
    unit_cost_minor INTEGER,
    unit_cost_currency TEXT,
    active BOOLEAN NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE UNIQUE INDEX products_sku_live ON products (sku) WHERE archived_at IS NULL;
CREATE INDEX products_name ON products (name, id);
CREATE INDEX products_created ON products (created_at, id);
CREATE VIRTUAL TABLE products_fts USING fts5(
    sku, name, family, description,
    content = 'products', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER products_fts_ai AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, sku, name, family, description) VALUES (new.rid, new.sku, new.name, new.family, new.description);
END;
CREATE TRIGGER products_fts_ad AFTER DELETE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, sku, name, family, description) VALUES ('delete', old.rid, old.sku, old.name, old.family, old.description);
END;
CREATE TRIGGER products_fts_au AFTER UPDATE OF sku, name, family, description ON products
WHEN old.sku IS NOT new.sku OR old.name IS NOT new.name OR old.family IS NOT new.family OR old.description IS NOT new.description
BEGIN
    INSERT INTO products_fts (products_fts, rowid, sku, name, family, description) VALUES ('delete', old.rid, old.sku, old.name, old.family, old.description);
    INSERT INTO products_fts (rowid, sku, name, family, description) VALUES (new.rid, new.sku, new.name, new.family, new.description);
END;

CREATE TABLE cases (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    number TEXT NOT NULL,
    subject TEXT NOT NULL,
    description TEXT,
    case_type TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    origin TEXT,
    contact_id TEXT REFERENCES contacts (id),
    account_id TEXT REFERENCES accounts (id),
    assignee_id TEXT REFERENCES users (id),
    team TEXT,
    sla_started_at TEXT,
    sla_due_at TEXT,
    first_response_at TEXT,
    resolved_at TEXT,
    closed_at TEXT,
    satisfaction INTEGER,
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE UNIQUE INDEX cases_number ON cases (number);
CREATE INDEX cases_contact ON cases (contact_id, created_at);
CREATE INDEX cases_account ON cases (account_id, created_at);
CREATE INDEX cases_assignee ON cases (assignee_id, status);
CREATE INDEX cases_status_due ON cases (status, sla_due_at);
CREATE INDEX cases_created ON cases (created_at, id);
CREATE VIRTUAL TABLE cases_fts USING fts5(
    number, subject, description,
    content = 'cases', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER cases_fts_ai AFTER INSERT ON cases BEGIN
    INSERT INTO cases_fts (rowid, number, subject, description) VALUES (new.rid, new.number, new.subject, new.description);
END;
CREATE TRIGGER cases_fts_ad AFTER DELETE ON cases BEGIN
    INSERT INTO cases_fts (cases_fts, rowid, number, subject, description) VALUES ('delete', old.rid, old.number, old.subject, old.description);
END;
CREATE TRIGGER cases_fts_au AFTER UPDATE OF number, subject, description ON cases
WHEN old.number IS NOT new.number OR old.subject IS NOT new.subject OR old.description IS NOT new.description
BEGIN
    INSERT INTO cases_fts (cases_fts, rowid, number, subject, description) VALUES ('delete', old.rid, old.number, old.subject, old.description);
    INSERT INTO cases_fts (rowid, number, subject, description) VALUES (new.rid, new.number, new.subject, new.description);
END;

CREATE TABLE interactions (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    interaction_type TEXT NOT NULL,
    direction TEXT,
    channel TEXT,
    subject TEXT,
    body TEXT,
    occurred_at TEXT NOT NULL,
    duration_seconds INTEGER,
    outcome TEXT,
    contact_ids TEXT NOT NULL DEFAULT '[]',
    account_id TEXT REFERENCES accounts (id),
    opportunity_id TEXT,
    case_id TEXT REFERENCES cases (id),
    author_id TEXT REFERENCES users (id),
    department TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX interactions_occurred ON interactions (occurred_at, id);
CREATE INDEX interactions_account ON interactions (account_id, occurred_at, id);
CREATE INDEX interactions_case ON interactions (case_id, occurred_at);
CREATE INDEX interactions_author ON interactions (author_id, occurred_at);
CREATE INDEX interactions_created ON interactions (created_at, id);
CREATE VIRTUAL TABLE interactions_fts USING fts5(
    subject, body,
    content = 'interactions', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER interactions_fts_ai AFTER INSERT ON interactions BEGIN
    INSERT INTO interactions_fts (rowid, subject, body) VALUES (new.rid, new.subject, new.body);
END;
CREATE TRIGGER interactions_fts_ad AFTER DELETE ON interactions BEGIN
    INSERT INTO interactions_fts (interactions_fts, rowid, subject, body) VALUES ('delete', old.rid, old.subject, old.body);
END;
CREATE TRIGGER interactions_fts_au AFTER UPDATE OF subject, body ON interactions
WHEN old.subject IS NOT new.subject OR old.body IS NOT new.body
BEGIN
    INSERT INTO interactions_fts (interactions_fts, rowid, subject, body) VALUES ('delete', old.rid, old.subject, old.body);
    INSERT INTO interactions_fts (rowid, subject, body) VALUES (new.rid, new.subject, new.body);
END;

CREATE TABLE interaction_contacts (
    interaction_id TEXT NOT NULL REFERENCES interactions (id) ON DELETE CASCADE,
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    occurred_at TEXT NOT NULL,
    PRIMARY KEY (interaction_id, contact_id)
);
CREATE INDEX interaction_contacts_contact ON interaction_contacts (contact_id, occurred_at, interaction_id);

CREATE TABLE case_comments (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    author_id TEXT REFERENCES users (id),
    author_sub TEXT NOT NULL,
    body TEXT NOT NULL,
    visibility TEXT NOT NULL,
    department TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX case_comments_case ON case_comments (case_id, created_at, id);

CREATE TABLE purchases (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    reference TEXT,
    account_id TEXT REFERENCES accounts (id),
    contact_id TEXT REFERENCES contacts (id),
    ordered_at TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    total_minor INTEGER NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX purchases_account ON purchases (account_id, ordered_at);
CREATE INDEX purchases_contact ON purchases (contact_id, ordered_at);
CREATE INDEX purchases_ordered ON purchases (ordered_at, id);
CREATE INDEX purchases_created ON purchases (created_at, id);
CREATE VIRTUAL TABLE purchases_fts USING fts5(
    reference,
    content = 'purchases', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER purchases_fts_ai AFTER INSERT ON purchases BEGIN
    INSERT INTO purchases_fts (rowid, reference) VALUES (new.rid, new.reference);
END;
CREATE TRIGGER purchases_fts_ad AFTER DELETE ON purchases BEGIN
    INSERT INTO purchases_fts (purchases_fts, rowid, reference) VALUES ('delete', old.rid, old.reference);
END;
CREATE TRIGGER purchases_fts_au AFTER UPDATE OF reference ON purchases
WHEN old.reference IS NOT new.reference
BEGIN
    INSERT INTO purchases_fts (purchases_fts, rowid, reference) VALUES ('delete', old.rid, old.reference);
    INSERT INTO purchases_fts (rowid, reference) VALUES (new.rid, new.reference);
END;

CREATE TABLE purchase_lines (
    purchase_id TEXT NOT NULL REFERENCES purchases (id) ON DELETE CASCADE,
    line_no INTEGER NOT NULL,
    product_id TEXT NOT NULL REFERENCES products (id),
    quantity INTEGER NOT NULL,
    unit_price_minor INTEGER NOT NULL,
    discount_minor INTEGER NOT NULL,
    total_minor INTEGER NOT NULL,
    PRIMARY KEY (purchase_id, line_no)
);
CREATE INDEX purchase_lines_product ON purchase_lines (product_id, purchase_id);

CREATE TABLE counters (
    name TEXT NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (name)
);
-- Case SLA: minutes to resolve, by priority (editable through /api/v1/case-sla-policy, the
-- same for every instance).
CREATE TABLE sla_policies (
    priority TEXT PRIMARY KEY,
    resolve_minutes INTEGER NOT NULL
);
INSERT INTO sla_policies (priority, resolve_minutes) VALUES ('urgent', 240), ('high', 480), ('normal', 1440), ('low', 4320);
