-- Where a record's coordinates come from (given by the client, geocoded from its address,
-- placed by a person; `unresolved`: its address matched no place) and how precise they are
-- (rooftop, postal_code, city). Coordinates stored before this migration were sent by clients.
ALTER TABLE accounts ADD COLUMN location_source TEXT;
ALTER TABLE accounts ADD COLUMN location_accuracy TEXT;
ALTER TABLE contacts ADD COLUMN location_source TEXT;
ALTER TABLE contacts ADD COLUMN location_accuracy TEXT;
ALTER TABLE leads ADD COLUMN location_source TEXT;
ALTER TABLE leads ADD COLUMN location_accuracy TEXT;
-- Leads get the rest of a postal address, so that they too can be located from it.
ALTER TABLE leads ADD COLUMN street TEXT;
ALTER TABLE leads ADD COLUMN city TEXT;
ALTER TABLE leads ADD COLUMN postal_code TEXT;
UPDATE accounts SET location_source = 'given' WHERE latitude IS NOT NULL;
UPDATE contacts SET location_source = 'given' WHERE latitude IS NOT NULL;
UPDATE leads SET location_source = 'given' WHERE latitude IS NOT NULL;

-- The offline gazetteer: cities and postal codes (GeoNames' formats, loaded by `crm geo
-- import`), and the keys an address is looked up by (each name, ASCII name and alternate
-- name of a city; each postal code), normalized by crm_records::location::place_key.
CREATE TABLE geo_places (
    id INTEGER PRIMARY KEY,
    country TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    admin1 TEXT,
    postal_code TEXT,
    latitude REAL NOT NULL,
    longitude REAL NOT NULL,
    population BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX geo_places_country ON geo_places (country, kind);
CREATE TABLE geo_place_keys (
    country TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    place_id BIGINT NOT NULL,
    PRIMARY KEY (country, kind, key, place_id)
);
CREATE INDEX geo_place_keys_place ON geo_place_keys (place_id);

-- Sales territories drawn on the map (a box, a circle, cities or postal-code prefixes, in a
-- country), which the `territory` strategy of the lead assignment rules assigns by. The
-- definition is the JSON of crm_sales::leads::Territory; the list is replaced as a whole.
CREATE TABLE territories (
    id TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    definition TEXT NOT NULL
);

-- Background jobs (bulk geocoding now; imports and exports later): their progress, readable
-- over the API while they run, and a lease so that one instance at a time runs each
-- (crm_db::claim); a job whose instance died is claimed again when its lease runs out.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    total BIGINT,
    done BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    result TEXT,
    error TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    lease_owner TEXT,
    lease_until TIMESTAMP
);
CREATE INDEX jobs_open ON jobs (created_at) WHERE status IN ('queued', 'running');

-- Answers of the optional HTTP geocoder (Nominatim-compatible), by normalized query, found or
-- not: each address is asked once (crm_geo::remote).
CREATE TABLE geocode_cache (
    query TEXT PRIMARY KEY,
    latitude REAL,
    longitude REAL,
    accuracy TEXT,
    fetched_at TIMESTAMP NOT NULL
);
