-- Campaign management: segments (target groups), campaigns with planned figures and cost
-- lines, their members with per-member status history; and the consent flags campaigns need.

ALTER TABLE contacts ADD COLUMN do_not_mail BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN marketing_opt_out BOOLEAN NOT NULL DEFAULT 0;

CREATE TABLE segments (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    kind TEXT NOT NULL,
    criteria TEXT NOT NULL,
    include_segment_ids TEXT NOT NULL DEFAULT '[]',
    exclude_segment_ids TEXT NOT NULL DEFAULT '[]',
    snapshot_at TEXT,
    member_count INTEGER,
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX segments_name ON segments (name, id);
CREATE INDEX segments_created ON segments (created_at, id);
CREATE VIRTUAL TABLE segments_fts USING fts5(
    name, description,
    content = 'segments', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER segments_fts_ai AFTER INSERT ON segments BEGIN
    INSERT INTO segments_fts (rowid, name, description) VALUES (new.rid, new.name, new.description);
END;
CREATE TRIGGER segments_fts_ad AFTER DELETE ON segments BEGIN
    INSERT INTO segments_fts (segments_fts, rowid, name, description) VALUES ('delete', old.rid, old.name, old.description);
END;
CREATE TRIGGER segments_fts_au AFTER UPDATE OF name, description ON segments
WHEN old.name IS NOT new.name OR old.description IS NOT new.description
BEGIN
    INSERT INTO segments_fts (segments_fts, rowid, name, description) VALUES ('delete', old.rid, old.name, old.description);
    INSERT INTO segments_fts (rowid, name, description) VALUES (new.rid, new.name, new.description);
END;

-- The frozen membership of a snapshot segment.
CREATE TABLE segment_members (
    segment_id TEXT NOT NULL REFERENCES segments (id),
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    PRIMARY KEY (segment_id, contact_id)
);

CREATE TABLE campaigns (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    objective TEXT,
    campaign_type TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    owner_id TEXT REFERENCES users (id),
    parent_id TEXT REFERENCES campaigns (id),
    starts_on TEXT,
    ends_on TEXT,
    segment_ids TEXT NOT NULL DEFAULT '[]',
    product_ids TEXT NOT NULL DEFAULT '[]',
    planned_budget_minor INTEGER,
    planned_budget_currency TEXT,
    expected_responses INTEGER,
    expected_conversions INTEGER,
    expected_revenue_minor INTEGER,
    expected_revenue_currency TEXT,
    attribution_days INTEGER NOT NULL,
    launched_at TEXT,
    completed_at TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    archived_at TEXT
);
CREATE INDEX campaigns_name ON campaigns (name, id);
CREATE INDEX campaigns_created ON campaigns (created_at, id);
CREATE INDEX campaigns_parent ON campaigns (parent_id);
CREATE VIRTUAL TABLE campaigns_fts USING fts5(
    name, objective,
    content = 'campaigns', content_rowid = 'rid', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER campaigns_fts_ai AFTER INSERT ON campaigns BEGIN
    INSERT INTO campaigns_fts (rowid, name, objective) VALUES (new.rid, new.name, new.objective);
END;
CREATE TRIGGER campaigns_fts_ad AFTER DELETE ON campaigns BEGIN
    INSERT INTO campaigns_fts (campaigns_fts, rowid, name, objective) VALUES ('delete', old.rid, old.name, old.objective);
END;
CREATE TRIGGER campaigns_fts_au AFTER UPDATE OF name, objective ON campaigns
WHEN old.name IS NOT new.name OR old.objective IS NOT new.objective
BEGIN
    INSERT INTO campaigns_fts (campaigns_fts, rowid, name, objective) VALUES ('delete', old.rid, old.name, old.objective);
    INSERT INTO campaigns_fts (rowid, name, objective) VALUES (new.rid, new.name, new.objective);
END;

CREATE TABLE campaign_costs (
    campaign_id TEXT NOT NULL REFERENCES campaigns (id),
    line_no INTEGER NOT NULL,
    channel TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    amount_currency TEXT NOT NULL,
    spent_on TEXT NOT NULL,
    description TEXT,
    PRIMARY KEY (campaign_id, line_no)
);

CREATE TABLE campaign_members (
    id TEXT NOT NULL UNIQUE,
    campaign_id TEXT NOT NULL REFERENCES campaigns (id),
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    exclusion_reason TEXT,
    response_type TEXT,
    bounce_kind TEXT,
    version INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    delivered_at TEXT,
    opened_at TEXT,
    clicked_at TEXT,
    responded_at TEXT,
    converted_at TEXT,
    unsubscribed_at TEXT,
    PRIMARY KEY (campaign_id, contact_id)
);
CREATE INDEX campaign_members_contact ON campaign_members (contact_id, campaign_id);
CREATE INDEX campaign_members_status ON campaign_members (campaign_id, status);

CREATE TABLE campaign_member_history (
    campaign_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    detail TEXT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    PRIMARY KEY (campaign_id, contact_id, seq),
    FOREIGN KEY (campaign_id, contact_id) REFERENCES campaign_members (campaign_id, contact_id)
);
