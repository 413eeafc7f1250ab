-- Operational CRM: users, the contact history (interactions), support cases and their
-- comments, the product catalog and purchases. Generated column lists mirror crm_db::schema.

CREATE TABLE users (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    email text,
    subject text,
    role text NOT NULL,
    team text,
    department text,
    territory text,
    phone text,
    skills jsonb NOT NULL DEFAULT '[]',
    active boolean NOT NULL,
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(team, '') || ' ' || coalesce(territory, ''))) STORED
);
CREATE UNIQUE INDEX users_email_live ON users (email) WHERE archived_at IS NULL AND email IS NOT NULL;
CREATE UNIQUE INDEX users_subject_live ON users (subject) WHERE archived_at IS NULL AND subject IS NOT NULL;
CREATE INDEX users_name ON users (name, id);
CREATE INDEX users_created ON users (created_at, id);
CREATE INDEX users_search ON users USING gin (search_tsv);

CREATE TABLE products (
    id uuid PRIMARY KEY,
    sku text NOT NULL,
    name text NOT NULL,
    family text,
    description text,
    list_price_minor bigint,
    list_price_currency text,
    unit_cost_minor bigint,
    unit_cost_currency text,
    active boolean NOT NULL,
    tags jsonb NOT NULL DEFAULT '[]',
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(sku, '') || ' ' || coalesce(name, '') || ' ' || coalesce(family, '') || ' ' || coalesce(description, ''))) STORED
);
CREATE UNIQUE INDEX products_sku_live ON products (sku) WHERE archived_at IS NULL;
CREATE INDEX products_name ON products (name, id);
CREATE INDEX products_created ON products (created_at, id);
CREATE INDEX products_search ON products USING gin (search_tsv);
CREATE INDEX products_tags ON products USING gin (tags jsonb_path_ops);

CREATE TABLE cases (
    id uuid PRIMARY KEY,
    number text NOT NULL,
    subject text NOT NULL,
    description text,
    case_type text NOT NULL,
    priority text NOT NULL,
    status text NOT NULL,
    origin text,
    contact_id uuid REFERENCES contacts (id),
    account_id uuid REFERENCES accounts (id),
    assignee_id uuid REFERENCES users (id),
    team text,
    sla_started_at timestamp,
    sla_due_at timestamp,
    first_response_at timestamp,
    resolved_at timestamp,
    closed_at timestamp,
    satisfaction bigint,
    tags jsonb NOT NULL DEFAULT '[]',
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(number, '') || ' ' || coalesce(subject, '') || ' ' || coalesce(description, ''))) STORED
);
CREATE UNIQUE INDEX cases_number ON cases (number);
CREATE INDEX cases_contact ON cases (contact_id, created_at);
CREATE INDEX cases_account ON cases (account_id, created_at);
CREATE INDEX cases_assignee ON cases (assignee_id, status);
CREATE INDEX cases_status_due ON cases (status, sla_due_at);
CREATE INDEX cases_created ON cases (created_at, id);
CREATE INDEX cases_search ON cases USING gin (search_tsv);
CREATE INDEX cases_tags ON cases USING gin (tags jsonb_path_ops);

CREATE TABLE interactions (
    id uuid PRIMARY KEY,
    interaction_type text NOT NULL,
    direction text,
    channel text,
    subject text,
    body text,
    occurred_at timestamp NOT NULL,
    duration_seconds bigint,
    outcome text,
    contact_ids jsonb NOT NULL DEFAULT '[]',
    account_id uuid REFERENCES accounts (id),
    opportunity_id uuid,
    case_id uuid REFERENCES cases (id),
    author_id uuid REFERENCES users (id),
    department text,
    tags jsonb NOT NULL DEFAULT '[]',
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(subject, '') || ' ' || coalesce(body, ''))) STORED
);
CREATE INDEX interactions_occurred ON interactions (occurred_at, id);
CREATE INDEX interactions_account ON interactions (account_id, occurred_at, id);
CREATE INDEX interactions_case ON interactions (case_id, occurred_at);
CREATE INDEX interactions_author ON interactions (author_id, occurred_at);
CREATE INDEX interactions_created ON interactions (created_at, id);
CREATE INDEX interactions_search ON interactions USING gin (search_tsv);
CREATE INDEX interactions_tags ON interactions USING gin (tags jsonb_path_ops);

CREATE TABLE interaction_contacts (
    interaction_id uuid NOT NULL REFERENCES interactions (id) ON DELETE CASCADE,
    contact_id uuid NOT NULL REFERENCES contacts (id),
    occurred_at timestamp NOT NULL,
    PRIMARY KEY (interaction_id, contact_id)
);
CREATE INDEX interaction_contacts_contact ON interaction_contacts (contact_id, occurred_at, interaction_id);

CREATE TABLE case_comments (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    author_id uuid REFERENCES users (id),
    author_sub text NOT NULL,
    body text NOT NULL,
    visibility text NOT NULL,
    department text,
    created_at timestamp NOT NULL
);
CREATE INDEX case_comments_case ON case_comments (case_id, created_at, id);

CREATE TABLE purchases (
    id uuid PRIMARY KEY,
    reference text,
    account_id uuid REFERENCES accounts (id),
    contact_id uuid REFERENCES contacts (id),
    ordered_at timestamp NOT NULL,
    status text NOT NULL,
    currency text NOT NULL,
    total_minor bigint NOT NULL,
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(reference, ''))) STORED
);
CREATE INDEX purchases_account ON purchases (account_id, ordered_at);
CREATE INDEX purchases_contact ON purchases (contact_id, ordered_at);
CREATE INDEX purchases_ordered ON purchases (ordered_at, id);
CREATE INDEX purchases_created ON purchases (created_at, id);
CREATE INDEX purchases_search ON purchases USING gin (search_tsv);

CREATE TABLE purchase_lines (
    purchase_id uuid NOT NULL REFERENCES purchases (id) ON DELETE CASCADE,
    line_no bigint NOT NULL,
    product_id uuid NOT NULL REFERENCES products (id),
    quantity bigint NOT NULL,
    unit_price_minor bigint NOT NULL,
    discount_minor bigint NOT NULL,
    total_minor bigint NOT NULL,
    PRIMARY KEY (purchase_id, line_no)
);
CREATE INDEX purchase_lines_product ON purchase_lines (product_id, purchase_id);

CREATE TABLE counters (
    name text NOT NULL,
    last bigint NOT NULL,
    PRIMARY KEY (name)
);
-- Case SLA: minutes to resolve, by priority (editable through /api/v1/case-sla-policy, the
-- same for every instance).
CREATE TABLE sla_policies (
    priority text PRIMARY KEY,
    resolve_minutes bigint NOT NULL
);
INSERT INTO sla_policies (priority, resolve_minutes) VALUES ('urgent', 240), ('high', 480), ('normal', 1440), ('low', 4320);
