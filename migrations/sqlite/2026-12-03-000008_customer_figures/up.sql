-- What each customer bought in all, kept on the account and the contact (see
-- crm_products::figures) so that lists filter and sort on it: the total in the main currency
-- (the one most live, not cancelled or returned purchases were paid in; then the latest;
-- then the code), their number and the latest order time.
ALTER TABLE accounts ADD COLUMN lifetime_value_minor BIGINT;
ALTER TABLE accounts ADD COLUMN lifetime_value_currency TEXT;
ALTER TABLE accounts ADD COLUMN purchase_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN last_purchase_at TIMESTAMP;
UPDATE accounts SET
    purchase_count = (SELECT COUNT(*) FROM purchases p WHERE p.account_id = accounts.id AND p.archived_at IS NULL AND p.status NOT IN ('cancelled', 'returned')),
    last_purchase_at = (SELECT MAX(p.ordered_at) FROM purchases p WHERE p.account_id = accounts.id AND p.archived_at IS NULL AND p.status NOT IN ('cancelled', 'returned')),
    lifetime_value_currency = (SELECT p.currency FROM purchases p WHERE p.account_id = accounts.id AND p.archived_at IS NULL AND p.status NOT IN ('cancelled', 'returned')
        GROUP BY p.currency ORDER BY COUNT(*) DESC, MAX(p.ordered_at) DESC, p.currency LIMIT 1),
    lifetime_value_minor = (SELECT CAST(TOTAL(p.total_minor) AS INTEGER) FROM purchases p
        WHERE p.account_id = accounts.id AND p.archived_at IS NULL AND p.status NOT IN ('cancelled', 'returned') AND p.currency = (SELECT p.currency FROM purchases p WHERE p.account_id = accounts.id AND p.archived_at IS NULL AND p.status NOT IN ('cancelled', 'returned')
        GROUP BY p.currency ORDER BY COUNT(*) DESC, MAX(p.ordered_at) DESC, p.currency LIMIT 1))
WHERE id IN (SELECT account_id FROM purchases WHERE archived_at IS NULL AND status NOT IN ('cancelled', 'returned'));
CREATE INDEX accounts_lifetime_value ON accounts (lifetime_value_currency, lifetime_value_minor);
CREATE INDEX accounts_last_purchase ON accounts (last_purchase_at);
ALTER TABLE contacts ADD COLUMN lifetime_value_minor BIGINT;
ALTER TABLE contacts ADD COLUMN lifetime_value_currency TEXT;
ALTER TABLE contacts ADD COLUMN purchase_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN last_purchase_at TIMESTAMP;
UPDATE contacts SET
    purchase_count = (SELECT COUNT(*) FROM purchases p WHERE p.contact_id = contacts.id AND p.archived_at IS NULL AND p.status NOT IN ('cancelled', 'returned')),
    last_purchase_at = (SELECT MAX(p.ordered_at) FROM purchases p WHERE p.contact_id = contacts.id AND p.archived_at IS NULL AND p.status NOT IN ('cancelled', 'returned')),
    lifetime_value_currency = (SELECT p.currency FROM purchases p WHERE p.contact_id = contacts.id AND p.archived_at IS NULL AND p.status NOT IN ('cancelled', 'returned')
        GROUP BY p.currency ORDER BY COUNT(*) DESC, MAX(p.ordered_at) DESC, p.currency LIMIT 1),
    lifetime_value_minor = (SELECT CAST(TOTAL(p.total_minor) AS INTEGER) FROM purchases p
        WHERE p.contact_id = contacts.id AND p.archived_at IS NULL AND p.status NOT IN ('cancelled', 'returned') AND p.currency = (SELECT p.currency FROM purchases p WHERE p.contact_id = contacts.id AND p.archived_at IS NULL AND p.status NOT IN ('cancelled', 'returned')
        GROUP BY p.currency ORDER BY COUNT(*) DESC, MAX(p.ordered_at) DESC, p.currency LIMIT 1))
WHERE id IN (SELECT contact_id FROM purchases WHERE archived_at IS NULL AND status NOT IN ('cancelled', 'returned'));
CREATE INDEX contacts_lifetime_value ON contacts (lifetime_value_currency, lifetime_value_minor);
CREATE INDEX contacts_last_purchase ON contacts (last_purchase_at);
