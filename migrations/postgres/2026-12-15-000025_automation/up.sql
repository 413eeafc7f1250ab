-- Workflow automation (crm-automation): rules that act on the records of one resource when an
-- event of the log (the outbox) matches them or when someone runs them on a selection, and the
-- log of their runs. Each rule's matcher reads the log after its cursor and writes one run per
-- matching event, in the transaction that moves the cursor; one instance at a time executes a
-- run, and its actions, its result and its status commit together.
CREATE TABLE automation_rules (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    description text,
    entity text NOT NULL,
    trigger_kind text NOT NULL,
    events jsonb NOT NULL DEFAULT '[]',
    changed_fields jsonb NOT NULL DEFAULT '[]',
    schedule text,
    time_zone text,
    date_field text,
    time_offset text,
    filter text,
    before_filter text,
    actions jsonb NOT NULL DEFAULT '[]',
    scopes jsonb NOT NULL DEFAULT '[]',
    enabled boolean NOT NULL,
    enabled_by text,
    disabled_reason text,
    allow_retrigger boolean NOT NULL,
    max_runs_per_hour bigint NOT NULL,
    tags jsonb NOT NULL DEFAULT '[]',
    version bigint NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    archived_at timestamp,
    -- Not part of the record a client reads: the matcher's position in the event log, the
    -- failed runs in a row, the user a round robin gave a record to last, and the clock of
    -- schedule rules (their next firing) and relative rules (the time they looked up to).
    cursor_seq bigint NOT NULL DEFAULT 0,
    failures bigint NOT NULL DEFAULT 0,
    last_assignee uuid,
    clock_at timestamp,
    search_tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(description, ''))) STORED
);
CREATE INDEX automation_rules_created ON automation_rules (created_at, id);
CREATE INDEX automation_rules_search ON automation_rules USING gin (search_tsv);

CREATE TABLE automation_runs (
    id uuid PRIMARY KEY,
    rule_id uuid NOT NULL REFERENCES automation_rules (id),
    rule_version bigint NOT NULL,
    trigger_kind text NOT NULL,
    event_seq bigint,
    event_id uuid,
    event_type text,
    entity text NOT NULL,
    record_id uuid NOT NULL,
    caused_by text NOT NULL,
    depth bigint NOT NULL,
    status text NOT NULL,
    conditions jsonb NOT NULL DEFAULT '[]',
    steps jsonb NOT NULL DEFAULT '[]',
    next_step bigint NOT NULL DEFAULT 0,
    error text,
    due_at timestamp NOT NULL,
    attempts bigint NOT NULL DEFAULT 0,
    lease_owner text,
    lease_until timestamp,
    created_at timestamp NOT NULL,
    finished_at timestamp,
    UNIQUE (rule_id, event_id)
);
CREATE INDEX automation_runs_due ON automation_runs (due_at) WHERE status IN ('pending', 'waiting');
CREATE INDEX automation_runs_rule ON automation_runs (rule_id, created_at);
CREATE INDEX automation_runs_record ON automation_runs (record_id, created_at);
CREATE INDEX automation_runs_hour ON automation_runs (rule_id, status, created_at);
