-- What each customer bought in all, kept on the account and the contact (see
-- crm_products::figures) so that lists filter and sort on it: the total in the main currency
-- (the one most live, not cancelled or returned purchases were paid in; then the latest;
-- then the code), their number and the latest order time.
ALTER TABLE accounts ADD COLUMN lifetime_value_minor bigint;
ALTER TABLE accounts ADD COLUMN lifetime_value_currency text;
ALTER TABLE accounts ADD COLUMN purchase_count bigint NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN last_purchase_at timestamp;
WITH per AS (
    SELECT account_id AS id, currency, COUNT(*) AS n, LEAST(SUM(total_minor), 9223372036854775807)::bigint AS total,
        MAX(ordered_at) AS last
    FROM purchases WHERE account_id IS NOT NULL AND archived_at IS NULL AND status NOT IN ('cancelled', 'returned') GROUP BY account_id, currency
), main AS (
    SELECT DISTINCT ON (id) id, currency, total FROM per ORDER BY id, n DESC, last DESC, currency
), counts AS (
    SELECT id, SUM(n)::bigint AS n, MAX(last) AS last FROM per GROUP BY id
)
UPDATE accounts t SET lifetime_value_minor = main.total, lifetime_value_currency = main.currency,
    purchase_count = counts.n, last_purchase_at = counts.last
FROM main JOIN counts USING (id) WHERE t.id = main.id;
CREATE INDEX accounts_lifetime_value ON accounts (lifetime_value_currency, lifetime_value_minor);
CREATE INDEX accounts_last_purchase ON accounts (last_purchase_at);
ALTER TABLE contacts ADD COLUMN lifetime_value_minor bigint;
ALTER TABLE contacts ADD COLUMN lifetime_value_currency text;
ALTER TABLE contacts ADD COLUMN purchase_count bigint NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN last_purchase_at timestamp;
WITH per AS (
    SELECT contact_id AS id, currency, COUNT(*) AS n, LEAST(SUM(total_minor), 9223372036854775807)::bigint AS total,
        MAX(ordered_at) AS last
    FROM purchases WHERE contact_id IS NOT NULL AND archived_at IS NULL AND status NOT IN ('cancelled', 'returned') GROUP BY contact_id, currency
), main AS (
    SELECT DISTINCT ON (id) id, currency, total FROM per ORDER BY id, n DESC, last DESC, currency
), counts AS (
    SELECT id, SUM(n)::bigint AS n, MAX(last) AS last FROM per GROUP BY id
)
UPDATE contacts t SET lifetime_value_minor = main.total, lifetime_value_currency = main.currency,
    purchase_count = counts.n, last_purchase_at = counts.last
FROM main JOIN counts USING (id) WHERE t.id = main.id;
CREATE INDEX contacts_lifetime_value ON contacts (lifetime_value_currency, lifetime_value_minor);
CREATE INDEX contacts_last_purchase ON contacts (last_purchase_at);
