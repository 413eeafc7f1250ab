-- Locations you can query (the distance function, crm_distance_m, is registered on every
-- connection by crm_db): leads with coordinates, and an index on the coordinates of every
-- located resource for radius and box searches.
ALTER TABLE leads ADD COLUMN latitude REAL;
ALTER TABLE leads ADD COLUMN longitude REAL;
CREATE INDEX accounts_location ON accounts (latitude, longitude) WHERE latitude IS NOT NULL;
CREATE INDEX contacts_location ON contacts (latitude, longitude) WHERE latitude IS NOT NULL;
CREATE INDEX leads_location ON leads (latitude, longitude) WHERE latitude IS NOT NULL;
