//! Where a record is: the rule every located resource (accounts, contacts, leads) applies on
//! each write, and the offline gazetteer its address is looked up in.
//!
//! - Coordinates the client sends with a write are kept, with the source it states (`given`
//!   by default) and the accuracy it states (`rooftop` by default); they must not lie on the
//!   land of another country than the record's (`contradicts_country`).
//! - Otherwise, when the address changes (or the coordinates are removed), the address is
//!   looked up: its postal code, then its city, in its country (`geocode`). A match gives
//!   `geocoded` coordinates at `postal_code` or `city` accuracy; an address with a city or a
//!   postal code that matches nothing leaves the record without coordinates, `unresolved`.
//! - Otherwise the location stays as it was.

use crm_core::geo::{GeoPoint, LocationAccuracy, LocationSource, contradicts_country};
use crm_core::{FieldError, FieldErrors};
use crm_db::AnyConnection;
use crm_db::schema::{geo_place_keys, geo_places};
use diesel::prelude::*;

use crate::RecordError;

/// A postal address, as located records hold it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Address<'a> {
    pub street: Option<&'a str>,
    pub city: Option<&'a str>,
    pub region: Option<&'a str>,
    pub postal_code: Option<&'a str>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<&'a str>,
}

/// Coordinates with where they come from and how precise they are.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Location {
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub source: Option<LocationSource>,
    pub accuracy: Option<LocationAccuracy>,
}

/// A record or input with an address and a location (`impl_located!`).
pub trait Located {
    fn address(&self) -> Address<'_>;
    fn location(&self) -> Location;
    fn set_location(&mut self, l: Location);
}

/// Implements [`Located`] for types with the fields `street`, `city`, `region`,
/// `postal_code`, `country`, `latitude`, `longitude`, `location_source` and
/// `location_accuracy`.
#[macro_export]
macro_rules! impl_located {
    ($($t:ty),+) => {$(
        impl $crate::location::Located for $t {
            fn address(&self) -> $crate::location::Address<'_> {
                $crate::location::Address {
                    street: self.street.as_deref(),
                    city: self.city.as_deref(),
                    region: self.region.as_deref(),
                    postal_code: self.postal_code.as_deref(),
                    country: self.country.as_deref(),
                }
            }
            fn location(&self) -> $crate::location::Location {
                $crate::location::Location {
                    latitude: self.latitude,
                    longitude: self.longitude,
                    source: self.location_source,
                    accuracy: self.location_accuracy,
                }
            }
            fn set_location(&mut self, l: $crate::location::Location) {
                self.latitude = l.latitude;
                self.longitude = l.longitude;
                self.location_source = l.source;
                self.location_accuracy = l.accuracy;
            }
        }
    )+};
}

/// Applies the rule of the module docs to a normalized input `i` that writes over `prev`.
pub fn relocate<I: Located, R: Located>(
    conn: &mut AnyConnection,
    entity: &'static str,
    i: &mut I,
    prev: Option<&R>,
) -> Result<(), RecordError> {
    let l =
        locate(conn, i.address(), i.location(), prev.map(|p| (p.address(), p.location()))).map_err(|e| match e {
            Locate::Invalid(f) => RecordError::Invalid { entity, errors: FieldErrors(vec![f]) },
            Locate::Db(e) => RecordError::from(e),
        })?;
    i.set_location(l);
    Ok(())
}

enum Locate {
    Invalid(FieldError),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for Locate {
    fn from(e: diesel::result::Error) -> Self {
        Locate::Db(e)
    }
}

fn locate(
    conn: &mut AnyConnection,
    address: Address,
    sent: Location,
    prev: Option<(Address, Location)>,
) -> Result<Location, Locate> {
    let before = prev.map(|(_, l)| l).unwrap_or_default();
    // A merge patch carries the stored values of what it leaves out: a source or an accuracy
    // equal to the stored one was not stated by this write.
    let stated_source = sent.source.filter(|s| prev.is_none() || Some(*s) != before.source);
    let stated_accuracy = sent.accuracy.filter(|a| prev.is_none() || Some(*a) != before.accuracy);
    if stated_source == Some(LocationSource::Unresolved) {
        return Err(Locate::Invalid(FieldError::new(
            "location_source",
            "invalid_value",
            "`unresolved` is set by the server when an address matches no place; send given, geocoded or manual",
        )));
    }
    let coordinates = sent.latitude.zip(sent.longitude);
    let moved = (sent.latitude, sent.longitude) != (before.latitude, before.longitude);
    let address_changed = prev.is_none_or(|(a, _)| a != address);
    match coordinates {
        Some((lat, lng)) if moved || prev.is_none() => {
            if let Some(country) = address.country
                && let Some(found) = contradicts_country(GeoPoint { lat, lng }, country)
            {
                return Err(Locate::Invalid(FieldError::new(
                    "latitude",
                    "country_mismatch",
                    format!("({lat}, {lng}) lies in {}, not in the record's country {country}", found.join(", ")),
                )));
            }
            // Not stated: a client's own source (given, manual) and its accuracy carry over to
            // the pin it moves; coordinates that were found from the address become given.
            let own = prev.is_some() && matches!(before.source, Some(LocationSource::Given | LocationSource::Manual));
            let (source, accuracy) = if own {
                (stated_source.or(before.source), stated_accuracy.or(before.accuracy))
            } else {
                (stated_source, stated_accuracy)
            };
            Ok(Location {
                latitude: Some(lat),
                longitude: Some(lng),
                source: Some(source.unwrap_or(LocationSource::Given)),
                accuracy: Some(accuracy.unwrap_or(LocationAccuracy::Rooftop)),
            })
        }
        Some(_) if !address_changed => Ok(Location {
            source: stated_source.or(before.source),
            accuracy: stated_accuracy.or(before.accuracy),
            ..sent
        }),
        None if !address_changed && !moved => Ok(before),
        _ => Ok(from_lookup(&address, geocode(conn, &address)?)),
    }
}

/// The location a lookup of `address` gives: its coordinates, `geocoded`; else, for an
/// address with a city or a postal code, `unresolved` without coordinates; else none.
fn from_lookup(address: &Address, found: Option<(f64, f64, LocationAccuracy)>) -> Location {
    match found {
        Some((lat, lng, accuracy)) => Location {
            latitude: Some(lat),
            longitude: Some(lng),
            source: Some(LocationSource::Geocoded),
            accuracy: Some(accuracy),
        },
        None if address.city.is_some() || address.postal_code.is_some() => {
            Location { source: Some(LocationSource::Unresolved), ..Location::default() }
        }
        None => Location::default(),
    }
}

/// What looking a stored record up again did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relocated {
    /// Its address gave new coordinates.
    Geocoded,
    /// Its address matched no place (it has no coordinates).
    Unresolved,
    /// Nothing changed (the same place, or the record changed in between).
    Unchanged,
}

/// A postal address owned (kept between a lookup and the write it leads to).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OwnedAddress {
    pub street: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

impl OwnedAddress {
    pub fn of(a: &Address<'_>) -> OwnedAddress {
        let own = |v: Option<&str>| v.map(str::to_string);
        OwnedAddress {
            street: own(a.street),
            city: own(a.city),
            region: own(a.region),
            postal_code: own(a.postal_code),
            country: own(a.country),
        }
    }

    pub fn as_address(&self) -> Address<'_> {
        Address {
            street: self.street.as_deref(),
            city: self.city.as_deref(),
            region: self.region.as_deref(),
            postal_code: self.postal_code.as_deref(),
            country: self.country.as_deref(),
        }
    }
}

/// A stored record to locate again: its address and location when it was read, and what the
/// gazetteer says of the address.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub address: OwnedAddress,
    pub before: Location,
    pub found: Option<(f64, f64, LocationAccuracy)>,
}

/// Reads a stored record to locate it again (a bulk geocoding job) and looks its address up
/// in the gazetteer; None when it is gone or its coordinates were given or placed by people
/// (never touched).
pub fn lookup<R: crate::Record + Located>(conn: &mut AnyConnection, id: R::Id) -> Result<Option<Pending>, RecordError> {
    let Some(current) = R::find(conn, id)? else { return Ok(None) };
    let before = current.location();
    if matches!(before.source, Some(LocationSource::Given | LocationSource::Manual)) {
        return Ok(None);
    }
    let address = current.address();
    let found = geocode(conn, &address)?;
    Ok(Some(Pending { address: OwnedAddress::of(&address), before, found }))
}

/// Writes what a lookup found (`found`: the gazetteer's answer, or another geocoder's), as the
/// system: with a new version and an `updated` event when the location changes, and only if
/// the record's address and location are still those that were looked up.
pub fn settle<R: crate::Record + Located>(
    conn: &mut AnyConnection,
    actor: &crm_core::Actor,
    id: R::Id,
    pending: &Pending,
    found: Option<(f64, f64, LocationAccuracy)>,
) -> Result<Relocated, RecordError> {
    let address = pending.address.as_address();
    let after = from_lookup(&address, found);
    let outcome = if found.is_some() { Relocated::Geocoded } else { Relocated::Unresolved };
    if after == pending.before {
        return Ok(Relocated::Unchanged);
    }
    let mut moved = false;
    crate::modify::<R>(conn, actor, id, |r| {
        let same = r.address() == address && r.location() == pending.before;
        if same {
            r.set_location(after);
            moved = true;
        }
        same
    })?;
    Ok(if moved { outcome } else { Relocated::Unchanged })
}

/// How names are compared: lower case, letters and digits, single spaces (`Frankfurt am
/// Main`, `frankfurt-am-main` and ` FRANKFURT  AM MAIN` are one key).
pub fn place_key(name: &str) -> String {
    let mapped: String = name.chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// How postal codes are compared: upper case, without spaces and dashes (`100-0001` and
/// `1000001`; `sw1a 1aa` and `SW1A1AA`).
pub fn postal_key(code: &str) -> String {
    code.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_uppercase()
}

/// The keys a postal code is looked up by, the most precise first: the whole code, then its
/// part before the first space or dash (a British outward code `SW1A`, a US ZIP without its
/// +4 extension).
fn postal_keys(code: &str) -> Vec<String> {
    let mut keys = vec![postal_key(code)];
    if let Some(head) = code.trim().split([' ', '-']).next().map(postal_key)
        && !head.is_empty()
        && !keys.contains(&head)
    {
        keys.push(head);
    }
    keys
}

/// The gazetteer's coordinates for an address: its postal code, else its city, in its
/// country (without a country, nothing). Among places of one name (the 50 most populous), the
/// one in the address's region wins, then the most populous, then the first loaded.
pub fn geocode(conn: &mut AnyConnection, a: &Address) -> QueryResult<Option<(f64, f64, LocationAccuracy)>> {
    let Some(country) = a.country else { return Ok(None) };
    if let Some(code) = a.postal_code {
        for key in postal_keys(code) {
            if let Some((lat, lng)) = place(conn, country, "postal_code", &key, a.region)? {
                return Ok(Some((lat, lng, LocationAccuracy::PostalCode)));
            }
        }
    }
    if let Some(city) = a.city
        && let Some((lat, lng)) = place(conn, country, "city", &place_key(city), a.region)?
    {
        return Ok(Some((lat, lng, LocationAccuracy::City)));
    }
    Ok(None)
}

fn place(
    conn: &mut AnyConnection,
    country: &str,
    kind: &str,
    key: &str,
    region: Option<&str>,
) -> QueryResult<Option<(f64, f64)>> {
    if key.is_empty() {
        return Ok(None);
    }
    let found: Vec<(f64, f64, Option<String>, i64)> = geo_place_keys::table
        .inner_join(geo_places::table.on(geo_places::id.eq(geo_place_keys::place_id)))
        .filter(geo_place_keys::country.eq(country))
        .filter(geo_place_keys::kind.eq(kind))
        .filter(geo_place_keys::key.eq(key))
        .select((geo_places::latitude, geo_places::longitude, geo_places::admin1, geo_places::population))
        // The most populous first: a name shared by many places (a large dump has dozens of
        // San Josés) is decided among its 50 largest.
        .order((geo_places::population.desc(), geo_places::id.asc()))
        .limit(50)
        .load(conn)?;
    let region = region.map(place_key);
    let in_region = |admin1: &Option<String>| region.is_some() && admin1.as_deref().map(place_key) == region;
    let best = found
        .iter()
        .enumerate()
        .max_by_key(|(n, (_, _, admin1, population))| (in_region(admin1), *population, std::cmp::Reverse(*n)));
    Ok(best.map(|(_, (lat, lng, _, _))| (*lat, *lng)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_spacing_and_punctuation() {
        assert_eq!(place_key(" FRANKFURT-am  Main "), "frankfurt am main");
        assert_eq!(place_key("서울특별시"), "서울특별시");
        assert_eq!(place_key("Saint-Étienne"), "saint étienne");
        assert_eq!(postal_keys("sw1a 1aa"), vec!["SW1A1AA", "SW1A"]);
        assert_eq!(postal_keys("100-0001"), vec!["1000001", "100"]);
        assert_eq!(postal_keys("10001"), vec!["10001"]);
    }
}
