-- Conversions attributed to campaigns: a won opportunity or a purchase of a member (the contact,
-- or a contact of the account) within the campaign's attribution window after the member was
-- reached; one row per model (first touch, last touch), rewritten when the conversion changes.
CREATE TABLE campaign_attributions (
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    model TEXT NOT NULL,
    campaign_id TEXT NOT NULL REFERENCES campaigns (id),
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    touched_at TEXT NOT NULL,
    converted_at TEXT NOT NULL,
    amount_minor INTEGER,
    currency TEXT,
    PRIMARY KEY (source, source_id, model)
);
CREATE INDEX campaign_attributions_campaign ON campaign_attributions (campaign_id, model, converted_at);

-- The campaign a lead came in through (its latest web capture naming one): counted in the
-- campaign's figures, and a member's registration when the person is one.
ALTER TABLE leads ADD COLUMN campaign_id TEXT REFERENCES campaigns (id);
CREATE INDEX leads_campaign ON leads (campaign_id) WHERE campaign_id IS NOT NULL;
