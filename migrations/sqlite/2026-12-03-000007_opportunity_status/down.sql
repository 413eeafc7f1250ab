DROP INDEX opportunities_forecast;
DROP INDEX opportunities_status;
ALTER TABLE opportunities DROP COLUMN forecast_category;
ALTER TABLE opportunities DROP COLUMN status;
