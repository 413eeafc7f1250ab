-- Sales-force automation: leads and their assignment and scoring rules, pipelines and
-- stages, opportunities with lines and stage history, activities, target account lists, quotas.

CREATE TABLE leads (
    id uuid PRIMARY KEY,
    first_name text,
    last_name text,
    email text,
    phone text,
    company text,
    title text,
    website text,
    industry text,
    source text NOT NULL,
    status text NOT NULL,
    score bigint NOT NULL,
    owner_id uuid REFERENCES users (id),
    country text,
    region text,
    description text,
    disqualify_reason text,
    converted_at timestamp,
    converted_account_id uuid,
    converted_contact_id uuid,
    converted_opportunity_id uuid,
    tags jsonb NOT NULL DEFAULT '[]',
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(company, ''))) STORED
);
CREATE UNIQUE INDEX leads_email_live ON leads (email) WHERE archived_at IS NULL AND email IS NOT NULL;
CREATE INDEX leads_owner_status ON leads (owner_id, status);
CREATE INDEX leads_created ON leads (created_at, id);
CREATE INDEX leads_search ON leads USING gin (search_tsv);
CREATE INDEX leads_tags ON leads USING gin (tags jsonb_path_ops);

CREATE TABLE lead_assignment_rules (
    id uuid PRIMARY KEY,
    position bigint NOT NULL,
    name text NOT NULL,
    strategy text NOT NULL,
    team text,
    country text,
    region text,
    source text,
    active boolean NOT NULL,
    last_user_id uuid
);

CREATE TABLE lead_scoring_rules (
    id uuid PRIMARY KEY,
    position bigint NOT NULL,
    field text NOT NULL,
    op text NOT NULL,
    value text,
    points bigint NOT NULL
);

CREATE TABLE pipelines (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    description text,
    is_default boolean NOT NULL,
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(name, ''))) STORED
);
CREATE INDEX pipelines_created ON pipelines (created_at, id);
CREATE INDEX pipelines_search ON pipelines USING gin (search_tsv);

CREATE TABLE pipeline_stages (
    id uuid PRIMARY KEY,
    pipeline_id uuid NOT NULL REFERENCES pipelines (id),
    position bigint NOT NULL,
    name text NOT NULL,
    probability bigint NOT NULL,
    forecast_category text NOT NULL,
    expected_days bigint
);
CREATE INDEX pipeline_stages_pipeline ON pipeline_stages (pipeline_id, position);

CREATE TABLE opportunities (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    account_id uuid REFERENCES accounts (id),
    contact_id uuid REFERENCES contacts (id),
    pipeline_id uuid NOT NULL REFERENCES pipelines (id),
    stage_id uuid NOT NULL REFERENCES pipeline_stages (id),
    amount_minor bigint,
    currency text,
    expected_close_date date,
    owner_id uuid REFERENCES users (id),
    next_step text,
    loss_reason text,
    closed_at timestamp,
    won boolean,
    stage_entered_at timestamp NOT NULL,
    lead_id uuid,
    tags jsonb NOT NULL DEFAULT '[]',
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(next_step, ''))) STORED
);
CREATE INDEX opportunities_account ON opportunities (account_id);
CREATE INDEX opportunities_owner ON opportunities (owner_id, expected_close_date);
CREATE INDEX opportunities_close ON opportunities (expected_close_date);
CREATE INDEX opportunities_closed ON opportunities (closed_at);
CREATE INDEX opportunities_created ON opportunities (created_at, id);
CREATE INDEX opportunities_search ON opportunities USING gin (search_tsv);
CREATE INDEX opportunities_tags ON opportunities USING gin (tags jsonb_path_ops);

CREATE TABLE opportunity_lines (
    opportunity_id uuid NOT NULL REFERENCES opportunities (id),
    line_no bigint NOT NULL,
    product_id uuid NOT NULL REFERENCES products (id),
    quantity bigint NOT NULL,
    unit_price_minor bigint NOT NULL,
    discount_minor bigint NOT NULL,
    total_minor bigint NOT NULL,
    PRIMARY KEY (opportunity_id, line_no)
);

CREATE TABLE opportunity_stage_history (
    id uuid PRIMARY KEY,
    opportunity_id uuid NOT NULL REFERENCES opportunities (id),
    pipeline_id uuid NOT NULL,
    stage_id uuid NOT NULL,
    stage_name text NOT NULL,
    probability bigint NOT NULL,
    forecast_category text NOT NULL,
    amount_minor bigint,
    currency text,
    entered_at timestamp NOT NULL,
    left_at timestamp,
    actor text NOT NULL
);
CREATE INDEX opportunity_stage_history_opp ON opportunity_stage_history (opportunity_id, entered_at);
CREATE INDEX opportunity_stage_history_stage ON opportunity_stage_history (stage_id, entered_at);

CREATE TABLE activities (
    id uuid PRIMARY KEY,
    activity_type text NOT NULL,
    subject text NOT NULL,
    description text,
    due_at timestamp,
    remind_at timestamp,
    reminded_at timestamp,
    assignee_id uuid REFERENCES users (id),
    status text NOT NULL,
    completed_at timestamp,
    account_id uuid REFERENCES accounts (id),
    contact_id uuid REFERENCES contacts (id),
    opportunity_id uuid REFERENCES opportunities (id),
    lead_id uuid REFERENCES leads (id),
    case_id uuid REFERENCES cases (id),
    interaction_id uuid REFERENCES interactions (id),
    tags jsonb NOT NULL DEFAULT '[]',
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(subject, '') || ' ' || coalesce(description, ''))) STORED
);
CREATE INDEX activities_agenda ON activities (assignee_id, status, due_at);
CREATE INDEX activities_reminders ON activities (remind_at) WHERE reminded_at IS NULL AND status = 'open';
CREATE INDEX activities_created ON activities (created_at, id);
CREATE INDEX activities_search ON activities USING gin (search_tsv);
CREATE INDEX activities_tags ON activities USING gin (tags jsonb_path_ops);

CREATE TABLE target_lists (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    owner_id uuid REFERENCES users (id),
    team text,
    goal_minor bigint,
    currency text,
    period_start date NOT NULL,
    period_end date NOT NULL,
    account_ids jsonb NOT NULL DEFAULT '[]',
    tags jsonb NOT NULL DEFAULT '[]',
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(name, ''))) STORED
);
CREATE INDEX target_lists_created ON target_lists (created_at, id);
CREATE INDEX target_lists_search ON target_lists USING gin (search_tsv);
CREATE INDEX target_lists_tags ON target_lists USING gin (tags jsonb_path_ops);

CREATE TABLE quotas (
    id uuid PRIMARY KEY,
    owner_id uuid REFERENCES users (id),
    team text,
    period text NOT NULL,
    amount_minor bigint NOT NULL,
    currency text NOT NULL,
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(team, '') || ' ' || coalesce(period, ''))) STORED
);
CREATE INDEX quotas_period ON quotas (period);
CREATE INDEX quotas_search ON quotas USING gin (search_tsv);
-- Interactions with a lead (before it is converted): its contact history, and a scoring input.
ALTER TABLE interactions ADD COLUMN lead_id uuid REFERENCES leads (id);
CREATE INDEX interactions_lead ON interactions (lead_id);
