-- Analytical CRM (crm-analytics): the settings the analysis runs with (one row), each refresh
-- of the whole base with its model (RFM breakpoints, the BG/NBD and Gamma-Gamma fits), and
-- each customer's analysis from the latest refresh. `analysis` is the JSON of
-- crm_analytics::CustomerAnalysis; the other columns are copies of its figures that lists
-- filter and sort on.
CREATE TABLE analytics_settings (
    id BIGINT PRIMARY KEY,
    definition TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE analytics_runs (
    id TEXT PRIMARY KEY,
    as_of TIMESTAMP NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    seconds REAL NOT NULL,
    customers BIGINT NOT NULL,
    settings TEXT NOT NULL,
    model TEXT NOT NULL,
    fits TEXT NOT NULL,
    trends TEXT NOT NULL
);
CREATE INDEX analytics_runs_computed ON analytics_runs (computed_at);
CREATE TABLE customer_analytics (
    customer_type TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    segment TEXT NOT NULL,
    rfm_cell TEXT NOT NULL,
    recency_days BIGINT NOT NULL,
    revenue_minor BIGINT NOT NULL,
    margin_minor BIGINT,
    predicted_clv_minor BIGINT,
    probability_alive REAL,
    drifting BOOLEAN NOT NULL,
    repeat_customer BOOLEAN NOT NULL,
    dormant BOOLEAN NOT NULL,
    tier TEXT,
    industry TEXT,
    country TEXT,
    region TEXT,
    lifecycle_stage TEXT,
    web_events_recent BIGINT NOT NULL,
    analysis TEXT NOT NULL,
    PRIMARY KEY (run_id, customer_type, customer_id)
);
CREATE INDEX customer_analytics_segment ON customer_analytics (run_id, segment);
CREATE INDEX customer_analytics_clv ON customer_analytics (run_id, predicted_clv_minor);
CREATE INDEX customer_analytics_customer ON customer_analytics (customer_id);

-- Product associations of each refresh (crm_analytics::associations): rules X → Y with the
-- baskets holding both, support, confidence and lift, above the settings' thresholds.
CREATE TABLE product_associations (
    run_id TEXT NOT NULL,
    antecedent_id TEXT NOT NULL,
    consequent_id TEXT NOT NULL,
    baskets BIGINT NOT NULL,
    support REAL NOT NULL,
    confidence REAL NOT NULL,
    lift REAL NOT NULL,
    PRIMARY KEY (run_id, antecedent_id, consequent_id)
);

-- Sales-intelligence alerts for the staff who own the customers (crm_analytics::alerts),
-- raised by refreshes once per key (`drift:account:<id>`, …) and not again within the
-- cool-down after their owner acknowledged or dismissed them.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    customer_type TEXT,
    customer_id TEXT,
    owner_id TEXT,
    title TEXT NOT NULL,
    reasons TEXT NOT NULL,
    figures TEXT NOT NULL,
    raised_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX alerts_key ON alerts (key, updated_at);
CREATE INDEX alerts_owner ON alerts (owner_id, status, id);
CREATE INDEX alerts_open ON alerts (status, id);

-- Voice of the customer: a Net Promoter Score answer (0 to 10) logged with an interaction
-- (cases carry their CSAT, 1 to 5, as `satisfaction`).
ALTER TABLE interactions ADD COLUMN nps BIGINT;

-- Behaviour on the web (e-CRM): page views, downloads and form views sent by a website's
-- backend (POST /api/v1/web/events) under an anonymous visitor id, linked to a contact when the
-- visitor is identified (web_visitors); kept for the settings' web_retention_days.
CREATE TABLE web_events (
    id TEXT PRIMARY KEY,
    visitor_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    title TEXT,
    referrer TEXT,
    occurred_at TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX web_events_visitor ON web_events (visitor_id, occurred_at);
CREATE INDEX web_events_time ON web_events (occurred_at);
CREATE TABLE web_visitors (
    visitor_id TEXT PRIMARY KEY,
    contact_id TEXT,
    identified_at TIMESTAMP,
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);
CREATE INDEX web_visitors_contact ON web_visitors (contact_id);

-- Switch-sell: the product that replaces a product; its buyers are offered it.
ALTER TABLE products ADD COLUMN successor_id TEXT;
