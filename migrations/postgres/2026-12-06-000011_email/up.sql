-- Campaign email: templates, the outbox of messages (one per member of an email wave, sent by
-- the mail worker), and the server's own secrets (the key that signs tracking links, made on
-- first use and shared by every instance).
CREATE TABLE email_templates (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    description text,
    subject text NOT NULL,
    html text NOT NULL,
    text_body text,
    from_name text,
    from_email text,
    reply_to text,
    tags jsonb NOT NULL DEFAULT '[]',
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(subject, '') || ' ' || coalesce(description, ''))) STORED
);
CREATE INDEX email_templates_created ON email_templates (created_at, id);
CREATE INDEX email_templates_search ON email_templates USING gin (search_tsv);

ALTER TABLE campaigns ADD COLUMN email_template_id uuid REFERENCES email_templates (id);

CREATE TABLE campaign_sends (
    id uuid PRIMARY KEY,
    campaign_id uuid NOT NULL REFERENCES campaigns (id),
    contact_id uuid NOT NULL REFERENCES contacts (id),
    to_address text NOT NULL,
    status text NOT NULL,
    attempts bigint NOT NULL DEFAULT 0,
    next_attempt_at timestamp NOT NULL,
    lease_owner text,
    lease_until timestamp,
    links jsonb NOT NULL DEFAULT '[]',
    last_error text,
    created_at timestamp NOT NULL,
    sent_at timestamp,
    UNIQUE (campaign_id, contact_id)
);
CREATE INDEX campaign_sends_due ON campaign_sends (next_attempt_at) WHERE status = 'queued';
CREATE INDEX campaign_sends_sending ON campaign_sends (lease_until) WHERE status = 'sending';
CREATE INDEX campaign_sends_campaign ON campaign_sends (campaign_id, status, sent_at);

CREATE TABLE server_secrets (
    name text PRIMARY KEY,
    secret text NOT NULL,
    created_at timestamp NOT NULL
);
