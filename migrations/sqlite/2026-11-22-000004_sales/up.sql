-- Sales-force automation: leads and their assignment and scoring rules, pipelines and
-- stages, opportunities with lines and stage history, activities, target account lists, quotas.

CREATE TABLE leads (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    first_name TEXT,
    last_name TEXT,
    email TEXT,
    phone TEXT,
    company TEXT,
    title TEXT,
    website TEXT,
    industry TEXT,
    source TEXT NOT NULL,
    status TEXT NOT NULL,
    score INTEGER NOT NULL,
    owner_id TEXT REFERENCES users (id),
    country TEXT,
    region TEXT,
    description TEXT,
    disqualify_reason TEXT,
    converted_at TEXT,
    converted_account_id TEXT,
    converted_contact_id TEXT,
    converted_opportunity_id TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE UNIQUE INDEX leads_email_live ON leads (email) WHERE archived_at IS NULL AND email IS NOT NULL;
CREATE INDEX leads_owner_status ON leads (owner_id, status);
CREATE INDEX leads_created ON leads (created_at, id);
CREATE VIRTUAL TABLE leads_fts USING fts5(
    first_name, last_name, email, company,
    content = 'leads', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER leads_fts_ai AFTER INSERT ON leads BEGIN
    INSERT INTO leads_fts (rowid, first_name, last_name, email, company) VALUES (new.rid, new.first_name, new.last_name, new.email, new.company);
END;
CREATE TRIGGER leads_fts_ad AFTER DELETE ON leads BEGIN
    INSERT INTO leads_fts (leads_fts, rowid, first_name, last_name, email, company) VALUES ('delete', old.rid, old.first_name, old.last_name, old.email, old.company);
END;
CREATE TRIGGER leads_fts_au AFTER UPDATE OF first_name, last_name, email, company ON leads
WHEN old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name OR old.email IS NOT new.email OR old.company IS NOT new.company
BEGIN
    INSERT INTO leads_fts (leads_fts, rowid, first_name, last_name, email, company) VALUES ('delete', old.rid, old.first_name, old.last_name, old.email, old.company);
    INSERT INTO leads_fts (rowid, first_name, last_name, email, company) VALUES (new.rid, new.first_name, new.last_name, new.email, new.company);
END;

CREATE TABLE lead_assignment_rules (
    id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    strategy TEXT NOT NULL,
    team TEXT,
    country TEXT,
    region TEXT,
    source TEXT,
    active BOOLEAN NOT NULL,
    last_user_id TEXT
);

CREATE TABLE lead_scoring_rules (
    id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    field TEXT NOT NULL,
    op TEXT NOT NULL,
    value TEXT,
    points INTEGER NOT NULL
);

CREATE TABLE pipelines (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    is_default BOOLEAN NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX pipelines_created ON pipelines (created_at, id);
CREATE VIRTUAL TABLE pipelines_fts USING fts5(
    name,
    content = 'pipelines', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER pipelines_fts_ai AFTER INSERT ON pipelines BEGIN
    INSERT INTO pipelines_fts (rowid, name) VALUES (new.rid, new.name);
END;
CREATE TRIGGER pipelines_fts_ad AFTER DELETE ON pipelines BEGIN
    INSERT INTO pipelines_fts (pipelines_fts, rowid, name) VALUES ('delete', old.rid, old.name);
END;
CREATE TRIGGER pipelines_fts_au AFTER UPDATE OF name ON pipelines
WHEN old.name IS NOT new.name
BEGIN
    INSERT INTO pipelines_fts (pipelines_fts, rowid, name) VALUES ('delete', old.rid, old.name);
    INSERT INTO pipelines_fts (rowid, name) VALUES (new.rid, new.name);
END;

CREATE TABLE pipeline_stages (
    id TEXT PRIMARY KEY,
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    probability INTEGER NOT NULL,
    forecast_category TEXT NOT NULL,
    expected_days INTEGER
);
CREATE INDEX pipeline_stages_pipeline ON pipeline_stages (pipeline_id, position);

CREATE TABLE opportunities (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    account_id TEXT REFERENCES accounts (id),
    contact_id TEXT REFERENCES contacts (id),
    pipeline_id TEXT NOT NULL REFERENCES pipelines (id),
    stage_id TEXT NOT NULL REFERENCES pipeline_stages (id),
    amount_minor INTEGER,
    currency TEXT,
    expected_close_date TEXT,
    owner_id TEXT REFERENCES users (id),
    next_step TEXT,
    loss_reason TEXT,
    closed_at TEXT,
    won BOOLEAN,
    stage_entered_at TEXT NOT NULL,
    lead_id TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX opportunities_account ON opportunities (account_id);
CREATE INDEX opportunities_owner ON opportunities (owner_id, expected_close_date);
CREATE INDEX opportunities_close ON opportunities (expected_close_date);
CREATE INDEX opportunities_closed ON opportunities (closed_at);
CREATE INDEX opportunities_created ON opportunities (created_at, id);
CREATE VIRTUAL TABLE opportunities_fts USING fts5(
    name, next_step,
    content = 'opportunities', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER opportunities_fts_ai AFTER INSERT ON opportunities BEGIN
    INSERT INTO opportunities_fts (rowid, name, next_step) VALUES (new.rid, new.name, new.next_step);
END;
CREATE TRIGGER opportunities_fts_ad AFTER DELETE ON opportunities BEGIN
    INSERT INTO opportunities_fts (opportunities_fts, rowid, name, next_step) VALUES ('delete', old.rid, old.name, old.next_step);
END;
CREATE TRIGGER opportunities_fts_au AFTER UPDATE OF name, next_step ON opportunities
WHEN old.name IS NOT new.name OR old.next_step IS NOT new.next_step
BEGIN
    INSERT INTO opportunities_fts (opportunities_fts, rowid, name, next_step) VALUES ('delete', old.rid, old.name, old.next_step);
    INSERT INTO opportunities_fts (rowid, name, next_step) VALUES (new.rid, new.name, new.next_step);
END;

CREATE TABLE opportunity_lines (
    opportunity_id TEXT NOT NULL REFERENCES opportunities (id),
    line_no INTEGER NOT NULL,
    product_id TEXT NOT NULL REFERENCES products (id),
    quantity INTEGER NOT NULL,
    unit_price_minor INTEGER NOT NULL,
    discount_minor INTEGER NOT NULL,
    total_minor INTEGER NOT NULL,
    PRIMARY KEY (opportunity_id, line_no)
);

CREATE TABLE opportunity_stage_history (
    id TEXT PRIMARY KEY,
    opportunity_id TEXT NOT NULL REFERENCES opportunities (id),
    pipeline_id TEXT NOT NULL,
    stage_id TEXT NOT NULL,
    stage_name TEXT NOT NULL,
    probability INTEGER NOT NULL,
    forecast_category TEXT NOT NULL,
    amount_minor INTEGER,
    currency TEXT,
    entered_at TEXT NOT NULL,
    left_at TEXT,
    actor TEXT NOT NULL
);
CREATE INDEX opportunity_stage_history_opp ON opportunity_stage_history (opportunity_id, entered_at);
CREATE INDEX opportunity_stage_history_stage ON opportunity_stage_history (stage_id, entered_at);

CREATE TABLE activities (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    activity_type TEXT NOT NULL,
    subject TEXT NOT NULL,
    description TEXT,
    due_at TEXT,
    remind_at TEXT,
    reminded_at TEXT,
    assignee_id TEXT REFERENCES users (id),
    status TEXT NOT NULL,
    completed_at TEXT,
    account_id TEXT REFERENCES accounts (id),
    contact_id TEXT REFERENCES contacts (id),
    opportunity_id TEXT REFERENCES opportunities (id),
    lead_id TEXT REFERENCES leads (id),
    case_id TEXT REFERENCES cases (id),
    interaction_id TEXT REFERENCES interactions (id),
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX activities_agenda ON activities (assignee_id, status, due_at);
CREATE INDEX activities_reminders ON activities (remind_at) WHERE reminded_at IS NULL AND status = 'open';
CREATE INDEX activities_created ON activities (created_at, id);
CREATE VIRTUAL TABLE activities_fts USING fts5(
    subject, description,
    content = 'activities', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER activities_fts_ai AFTER INSERT ON activities BEGIN
    INSERT INTO activities_fts (rowid, subject, description) VALUES (new.rid, new.subject, new.description);
END;
CREATE TRIGGER activities_fts_ad AFTER DELETE ON activities BEGIN
    INSERT INTO activities_fts (activities_fts, rowid, subject, description) VALUES ('delete', old.rid, old.subject, old.description);
END;
CREATE TRIGGER activities_fts_au AFTER UPDATE OF subject, description ON activities
WHEN old.subject IS NOT new.subject OR old.description IS NOT new.description
BEGIN
    INSERT INTO activities_fts (activities_fts, rowid, subject, description) VALUES ('delete', old.rid, old.subject, old.description);
    INSERT INTO activities_fts (rowid, subject, description) VALUES (new.rid, new.subject, new.description);
END;

CREATE TABLE target_lists (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    owner_id TEXT REFERENCES users (id),
    team TEXT,
    goal_minor INTEGER,
    currency TEXT,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    account_ids TEXT NOT NULL DEFAULT '[]',
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX target_lists_created ON target_lists (created_at, id);
CREATE VIRTUAL TABLE target_lists_fts USING fts5(
    name,
    content = 'target_lists', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER target_lists_fts_ai AFTER INSERT ON target_lists BEGIN
    INSERT INTO target_lists_fts (rowid, name) VALUES (new.rid, new.name);
END;
CREATE TRIGGER target_lists_fts_ad AFTER DELETE ON target_lists BEGIN
    INSERT INTO target_lists_fts (target_lists_fts, rowid, name) VALUES ('delete', old.rid, old.name);
END;
CREATE TRIGGER target_lists_fts_au AFTER UPDATE OF name ON target_lists
WHEN old.name IS NOT new.name
BEGIN
    INSERT INTO target_lists_fts (target_lists_fts, rowid, name) VALUES ('delete', old.rid, old.name);
    INSERT INTO target_lists_fts (rowid, name) VALUES (new.rid, new.name);
END;

CREATE TABLE quotas (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    owner_id TEXT REFERENCES users (id),
    team TEXT,
    period TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX quotas_period ON quotas (period);
CREATE VIRTUAL TABLE quotas_fts USING fts5(
    team, period,
    content = 'quotas', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER quotas_fts_ai AFTER INSERT ON quotas BEGIN
    INSERT INTO quotas_fts (rowid, team, period) VALUES (new.rid, new.team, new.period);
END;
CREATE TRIGGER quotas_fts_ad AFTER DELETE ON quotas BEGIN
    INSERT INTO quotas_fts (quotas_fts, rowid, team, period) VALUES ('delete', old.rid, old.team, old.period);
END;
CREATE TRIGGER quotas_fts_au AFTER UPDATE OF team, period ON quotas
WHEN old.team IS NOT new.team OR old.period IS NOT new.period
BEGIN
    INSERT INTO quotas_fts (quotas_fts, rowid, team, period) VALUES ('delete', old.rid, old.team, old.period);
    INSERT INTO quotas_fts (rowid, team, period) VALUES (new.rid, new.team, new.period);
END;
-- Interactions with a lead (before it is converted): its contact history, and a scoring input.
ALTER TABLE interactions ADD COLUMN lead_id TEXT REFERENCES leads (id);
CREATE INDEX interactions_lead ON interactions (lead_id);
