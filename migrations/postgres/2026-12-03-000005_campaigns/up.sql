-- Campaign management: segments (target groups), campaigns with planned figures and cost
-- lines, their members with per-member status history; and the consent flags campaigns need.

ALTER TABLE contacts ADD COLUMN do_not_mail boolean NOT NULL DEFAULT false;
ALTER TABLE contacts ADD COLUMN marketing_opt_out boolean NOT NULL DEFAULT false;

CREATE TABLE segments (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    description text,
    kind text NOT NULL,
    criteria text NOT NULL,
    include_segment_ids jsonb NOT NULL DEFAULT '[]',
    exclude_segment_ids jsonb NOT NULL DEFAULT '[]',
    snapshot_at timestamp,
    member_count bigint,
    tags jsonb NOT NULL DEFAULT '[]',
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, ''))) STORED
);
CREATE INDEX segments_name ON segments (name, id);
CREATE INDEX segments_created ON segments (created_at, id);
CREATE INDEX segments_search ON segments USING gin (search_tsv);

-- The frozen membership of a snapshot segment.
CREATE TABLE segment_members (
    segment_id uuid NOT NULL REFERENCES segments (id),
    contact_id uuid NOT NULL REFERENCES contacts (id),
    PRIMARY KEY (segment_id, contact_id)
);

CREATE TABLE campaigns (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    objective text,
    campaign_type text NOT NULL,
    channel text NOT NULL,
    status text NOT NULL,
    owner_id uuid REFERENCES users (id),
    parent_id uuid REFERENCES campaigns (id),
    starts_on date,
    ends_on date,
    segment_ids jsonb NOT NULL DEFAULT '[]',
    product_ids jsonb NOT NULL DEFAULT '[]',
    planned_budget_minor bigint,
    planned_budget_currency text,
    expected_responses bigint,
    expected_conversions bigint,
    expected_revenue_minor bigint,
    expected_revenue_currency text,
    attribution_days bigint NOT NULL,
    launched_at timestamp,
    completed_at timestamp,
    tags jsonb NOT NULL DEFAULT '[]',
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(objective, ''))) STORED
);
CREATE INDEX campaigns_name ON campaigns (name, id);
CREATE INDEX campaigns_created ON campaigns (created_at, id);
CREATE INDEX campaigns_parent ON campaigns (parent_id);
CREATE INDEX campaigns_search ON campaigns USING gin (search_tsv);

CREATE TABLE campaign_costs (
    campaign_id uuid NOT NULL REFERENCES campaigns (id),
    line_no bigint NOT NULL,
    channel text NOT NULL,
    amount_minor bigint NOT NULL,
    amount_currency text NOT NULL,
    spent_on date NOT NULL,
    description text,
    PRIMARY KEY (campaign_id, line_no)
);

CREATE TABLE campaign_members (
    id uuid NOT NULL UNIQUE,
    campaign_id uuid NOT NULL REFERENCES campaigns (id),
    contact_id uuid NOT NULL REFERENCES contacts (id),
    channel text NOT NULL,
    status text NOT NULL,
    exclusion_reason text,
    response_type text,
    bounce_kind text,
    version bigint NOT NULL,
    added_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    sent_at timestamp,
    delivered_at timestamp,
    opened_at timestamp,
    clicked_at timestamp,
    responded_at timestamp,
    converted_at timestamp,
    unsubscribed_at timestamp,
    PRIMARY KEY (campaign_id, contact_id)
);
CREATE INDEX campaign_members_contact ON campaign_members (contact_id, campaign_id);
CREATE INDEX campaign_members_status ON campaign_members (campaign_id, status);

CREATE TABLE campaign_member_history (
    campaign_id uuid NOT NULL,
    contact_id uuid NOT NULL,
    seq bigint NOT NULL,
    status text NOT NULL,
    detail text,
    at timestamp NOT NULL,
    actor text NOT NULL,
    PRIMARY KEY (campaign_id, contact_id, seq),
    FOREIGN KEY (campaign_id, contact_id) REFERENCES campaign_members (campaign_id, contact_id)
);
