DROP INDEX leads_location;
DROP INDEX contacts_location;
DROP INDEX accounts_location;
ALTER TABLE leads DROP COLUMN longitude;
ALTER TABLE leads DROP COLUMN latitude;
