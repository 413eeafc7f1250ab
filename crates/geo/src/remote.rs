//! The optional HTTP geocoder: a Nominatim-compatible search API (`CRM_GEOCODER_URL`), asked
//! by bulk geocoding jobs for the addresses the offline gazetteer cannot place. Never asked
//! while a record is written (writes stay fast and work offline), at most `rate` requests a
//! second per instance, and every answer (found or not) is kept in `geocode_cache`, so an
//! address is asked once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crm_core::geo::LocationAccuracy;
use crm_db::AnyConnection;
use crm_db::schema::geocode_cache;
use crm_records::location::{Address, place_key, postal_key};
use diesel::prelude::*;

/// A Nominatim-compatible geocoder.
pub struct RemoteGeocoder {
    base: String,
    user_agent: String,
    min_interval: Duration,
    next: Mutex<Instant>,
    agent: ureq::Agent,
}

/// What a lookup found: coordinates and how precise they are.
pub type Found = Option<(f64, f64, LocationAccuracy)>;

impl RemoteGeocoder {
    /// `base` is the API's root (`https://nominatim.example.org`), `rate` requests per second
    /// (more than 0), `user_agent` how requests identify the service (Nominatim's usage policy
    /// asks for one that names it).
    pub fn new(base: &str, rate: f64, user_agent: &str, timeout: Duration) -> Result<RemoteGeocoder, String> {
        let base = base.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(format!("CRM_GEOCODER_URL {base}: an http(s) URL"));
        }
        if !rate.is_finite() || rate <= 0.0 || rate > 1000.0 {
            return Err(format!("CRM_GEOCODER_RATE {rate}: requests per second, more than 0 and at most 1000"));
        }
        let agent =
            ureq::Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into();
        Ok(RemoteGeocoder {
            base: base.to_string(),
            user_agent: user_agent.to_string(),
            min_interval: Duration::from_secs_f64(1.0 / rate),
            next: Mutex::new(Instant::now()),
            agent,
        })
    }

    /// The cache's key of an address: its parts, normalized as the gazetteer compares them.
    pub fn cache_key(a: &Address<'_>) -> String {
        let k = |v: Option<&str>| v.map(place_key).unwrap_or_default();
        format!(
            "{}|{}|{}|{}|{}",
            a.country.unwrap_or_default(),
            a.postal_code.map(postal_key).unwrap_or_default(),
            k(a.city),
            k(a.region),
            k(a.street)
        )
    }

    /// The cached answer for an address: None when it was never asked.
    pub fn cached(conn: &mut AnyConnection, a: &Address<'_>) -> QueryResult<Option<Found>> {
        let row: Option<(Option<f64>, Option<f64>, Option<String>)> = geocode_cache::table
            .filter(geocode_cache::query.eq(Self::cache_key(a)))
            .select((geocode_cache::latitude, geocode_cache::longitude, geocode_cache::accuracy))
            .first(conn)
            .optional()?;
        Ok(row.map(|(lat, lng, acc)| match (lat, lng, acc.as_deref().and_then(LocationAccuracy::parse)) {
            (Some(lat), Some(lng), Some(acc)) => Some((lat, lng, acc)),
            _ => None,
        }))
    }

    /// Keeps an answer.
    pub fn remember(conn: &mut AnyConnection, a: &Address<'_>, found: Found) -> QueryResult<()> {
        let key = Self::cache_key(a);
        diesel::delete(geocode_cache::table.filter(geocode_cache::query.eq(&key))).execute(conn)?;
        diesel::insert_into(geocode_cache::table)
            .values((
                geocode_cache::query.eq(&key),
                geocode_cache::latitude.eq(found.map(|f| f.0)),
                geocode_cache::longitude.eq(found.map(|f| f.1)),
                geocode_cache::accuracy.eq(found.map(|f| f.2.as_str())),
                geocode_cache::fetched_at.eq(crm_db::now()),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Waits for this instance's turn under the rate.
    fn pace(&self) {
        let wait = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.min_interval;
            at - now
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// Asks the service (no cache): the first result of a structured search in the address's
    /// country. An address without a country or without a city and postal code is not asked.
    pub fn search(&self, a: &Address<'_>) -> Result<Found, String> {
        let Some(country) = a.country else { return Ok(None) };
        if a.city.is_none() && a.postal_code.is_none() {
            return Ok(None);
        }
        self.pace();
        let mut req = self
            .agent
            .get(format!("{}/search", self.base))
            .header("User-Agent", &self.user_agent)
            .query("format", "jsonv2")
            .query("limit", "1")
            .query("countrycodes", country.to_lowercase());
        for (name, v) in [("street", a.street), ("city", a.city), ("state", a.region), ("postalcode", a.postal_code)] {
            if let Some(v) = v {
                req = req.query(name, v);
            }
        }
        let mut res = req.call().map_err(|e| format!("geocoder: {e}"))?;
        let status = res.status().as_u16();
        let body = res.body_mut().read_to_string().map_err(|e| format!("geocoder: reading the answer: {e}"))?;
        if status != 200 {
            return Err(format!("geocoder answered {status}"));
        }
        let results: Vec<serde_json::Value> =
            serde_json::from_str(&body).map_err(|e| format!("geocoder: not a JSON array of places: {e}"))?;
        let Some(first) = results.first() else { return Ok(None) };
        let number = |k: &str| first[k].as_str().and_then(|s| s.parse::<f64>().ok()).or_else(|| first[k].as_f64());
        let (Some(lat), Some(lng)) = (number("lat"), number("lon")) else {
            return Err("geocoder: a place without lat and lon".into());
        };
        if crm_core::geo::GeoPoint::new(lat, lng).is_err() {
            return Err(format!("geocoder: ({lat}, {lng}) is out of range"));
        }
        let kind = first["addresstype"].as_str().or_else(|| first["type"].as_str()).unwrap_or_default();
        let accuracy = match kind {
            "house" | "building" | "house_number" => LocationAccuracy::Rooftop,
            "postcode" => LocationAccuracy::PostalCode,
            _ => LocationAccuracy::City,
        };
        Ok(Some((lat, lng, accuracy)))
    }
}
