-- Analytical CRM (crm-analytics): the settings the analysis runs with (one row), each refresh
-- of the whole base with its model (RFM breakpoints, the BG/NBD and Gamma-Gamma fits), and
-- each customer's analysis from the latest refresh. `analysis` is the JSON of
-- crm_analytics::CustomerAnalysis; the other columns are copies of its figures that lists
-- filter and sort on.
CREATE TABLE analytics_settings (
    id bigint PRIMARY KEY,
    definition text NOT NULL,
    updated_at timestamp NOT NULL
);
CREATE TABLE analytics_runs (
    id uuid PRIMARY KEY,
    as_of timestamp NOT NULL,
    computed_at timestamp NOT NULL,
    seconds double precision NOT NULL,
    customers bigint NOT NULL,
    settings text NOT NULL,
    model text NOT NULL,
    fits text NOT NULL,
    trends text NOT NULL
);
CREATE INDEX analytics_runs_computed ON analytics_runs (computed_at);
CREATE TABLE customer_analytics (
    customer_type text NOT NULL,
    customer_id uuid NOT NULL,
    run_id uuid NOT NULL,
    currency text NOT NULL,
    segment text NOT NULL,
    rfm_cell text NOT NULL,
    recency_days bigint NOT NULL,
    revenue_minor bigint NOT NULL,
    margin_minor bigint,
    predicted_clv_minor bigint,
    probability_alive double precision,
    drifting boolean NOT NULL,
    repeat_customer boolean NOT NULL,
    dormant boolean NOT NULL,
    tier text,
    industry text,
    country text,
    region text,
    lifecycle_stage text,
    web_events_recent bigint NOT NULL,
    analysis text NOT NULL,
    PRIMARY KEY (run_id, customer_type, customer_id)
);
CREATE INDEX customer_analytics_segment ON customer_analytics (run_id, segment);
CREATE INDEX customer_analytics_clv ON customer_analytics (run_id, predicted_clv_minor);
CREATE INDEX customer_analytics_customer ON customer_analytics (customer_id);

-- Product associations of each refresh (crm_analytics::associations): rules X → Y with the
-- baskets holding both, support, confidence and lift, above the settings' thresholds.
CREATE TABLE product_associations (
    run_id uuid NOT NULL,
    antecedent_id uuid NOT NULL,
    consequent_id uuid NOT NULL,
    baskets bigint NOT NULL,
    support double precision NOT NULL,
    confidence double precision NOT NULL,
    lift double precision NOT NULL,
    PRIMARY KEY (run_id, antecedent_id, consequent_id)
);

-- Sales-intelligence alerts for the staff who own the customers (crm_analytics::alerts),
-- raised by refreshes once per key (`drift:account:<id>`, …) and not again within the
-- cool-down after their owner acknowledged or dismissed them.
CREATE TABLE alerts (
    id uuid PRIMARY KEY,
    key text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    customer_type text,
    customer_id uuid,
    owner_id uuid,
    title text NOT NULL,
    reasons text NOT NULL,
    figures text NOT NULL,
    raised_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    version bigint NOT NULL
);
CREATE INDEX alerts_key ON alerts (key, updated_at);
CREATE INDEX alerts_owner ON alerts (owner_id, status, id);
CREATE INDEX alerts_open ON alerts (status, id);

-- Voice of the customer: a Net Promoter Score answer (0 to 10) logged with an interaction
-- (cases carry their CSAT, 1 to 5, as `satisfaction`).
ALTER TABLE interactions ADD COLUMN nps bigint;

-- Behaviour on the web (e-CRM): page views, downloads and form views sent by a website's
-- backend (POST /api/v1/web/events) under an anonymous visitor id, linked to a contact when the
-- visitor is identified (web_visitors); kept for the settings' web_retention_days.
CREATE TABLE web_events (
    id uuid PRIMARY KEY,
    visitor_id text NOT NULL,
    kind text NOT NULL,
    url text NOT NULL,
    title text,
    referrer text,
    occurred_at timestamp NOT NULL,
    received_at timestamp NOT NULL
);
CREATE INDEX web_events_visitor ON web_events (visitor_id, occurred_at);
CREATE INDEX web_events_time ON web_events (occurred_at);
CREATE TABLE web_visitors (
    visitor_id text PRIMARY KEY,
    contact_id uuid,
    identified_at timestamp,
    first_seen timestamp NOT NULL,
    last_seen timestamp NOT NULL
);
CREATE INDEX web_visitors_contact ON web_visitors (contact_id);

-- Switch-sell: the product that replaces a product; its buyers are offered it.
ALTER TABLE products ADD COLUMN successor_id uuid;
