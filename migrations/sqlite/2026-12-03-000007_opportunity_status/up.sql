-- A deal's status (open, won, lost) and its stage's forecast category, stored so that lists
-- filter and sort on them with an index; both follow the stage (see crm-sales).
ALTER TABLE opportunities ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
ALTER TABLE opportunities ADD COLUMN forecast_category TEXT NOT NULL DEFAULT 'pipeline';
UPDATE opportunities SET
    status = CASE won WHEN 1 THEN 'won' WHEN 0 THEN 'lost' ELSE 'open' END,
    forecast_category = (SELECT s.forecast_category FROM pipeline_stages s WHERE s.id = opportunities.stage_id);
CREATE INDEX opportunities_status ON opportunities (status, expected_close_date);
CREATE INDEX opportunities_forecast ON opportunities (forecast_category, expected_close_date);
