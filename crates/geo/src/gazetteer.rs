//! The offline gazetteer addresses are geocoded in (see `crm_records::location`): loading
//! GeoNames files, and the small demo gazetteer every new database starts with.
//!
//! Two of GeoNames' formats are read, told apart by their number of columns:
//! - cities (`cities15000.txt`, `allCountries.txt` of the dump; 19 columns): populated places
//!   (feature class `P`), looked up by their name, ASCII name and every alternate name;
//! - postal codes (`allCountries.txt` of the postal-code dump; 12 columns), looked up by code.
//!
//! A file replaces, for each country it holds, the places of its kind that were loaded before
//! (reloading a newer dump leaves no stale place behind), in one transaction.

use std::collections::BTreeSet;
use std::io::BufRead;

use crm_db::AnyConnection;
use crm_db::schema::{geo_place_keys, geo_places};
use crm_records::location::{place_key, postal_key};
use diesel::prelude::*;

/// What a load did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ImportReport {
    /// Places loaded.
    pub places: u64,
    /// Names and codes they can be found by.
    pub keys: u64,
    /// Lines skipped: other feature classes, comments, lines that are not places.
    pub skipped: u64,
    /// The countries loaded (each replaced its earlier places of the same kind).
    pub countries: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GazetteerError {
    #[error("line {line}: {message}")]
    Format { line: u64, message: String },
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Pool(#[from] crm_db::DbError),
}

/// The demo gazetteer (major cities and a few postal codes of KR, US, GB, DE and JP).
pub const DEMO_CITIES: &str = include_str!("../data/gazetteer-cities.txt");
pub const DEMO_POSTAL: &str = include_str!("../data/gazetteer-postal.txt");

#[derive(Debug)]
struct Place {
    country: String,
    kind: &'static str,
    name: String,
    admin1: Option<String>,
    postal_code: Option<String>,
    latitude: f64,
    longitude: f64,
    population: i64,
    keys: BTreeSet<String>,
}

const BATCH: usize = 500;

/// Loads a GeoNames file; `progress` hears the bytes read so far.
pub fn import(
    conn: &mut AnyConnection,
    reader: impl BufRead,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, GazetteerError> {
    conn.transaction(|conn| {
        let mut report = ImportReport::default();
        let mut next_id: i64 =
            geo_places::table.select(diesel::dsl::max(geo_places::id)).first::<Option<i64>>(conn)?.unwrap_or(0) + 1;
        let mut replaced: BTreeSet<(String, &'static str)> = BTreeSet::new();
        let mut batch: Vec<Place> = Vec::with_capacity(BATCH);
        let (mut bytes, mut line_no) = (0u64, 0u64);
        for line in reader.lines() {
            let line = line?;
            line_no += 1;
            bytes += line.len() as u64 + 1;
            let Some(place) = parse_line(&line).map_err(|message| GazetteerError::Format { line: line_no, message })?
            else {
                report.skipped += 1;
                continue;
            };
            if replaced.insert((place.country.clone(), place.kind)) {
                write(conn, &mut batch, &mut next_id, &mut report)?;
                diesel::delete(
                    geo_place_keys::table
                        .filter(geo_place_keys::country.eq(&place.country))
                        .filter(geo_place_keys::kind.eq(place.kind)),
                )
                .execute(conn)?;
                diesel::delete(
                    geo_places::table
                        .filter(geo_places::country.eq(&place.country))
                        .filter(geo_places::kind.eq(place.kind)),
                )
                .execute(conn)?;
            }
            batch.push(place);
            if batch.len() == BATCH {
                write(conn, &mut batch, &mut next_id, &mut report)?;
                progress(bytes);
            }
        }
        write(conn, &mut batch, &mut next_id, &mut report)?;
        progress(bytes);
        report.countries = replaced.into_iter().map(|(c, _)| c).collect::<BTreeSet<_>>().into_iter().collect();
        Ok(report)
    })
}

/// Loads the demo gazetteer into a database whose gazetteer is empty; None when it was not.
pub fn load_demo_if_empty(conn: &mut AnyConnection) -> Result<Option<ImportReport>, GazetteerError> {
    let any: Option<i64> = geo_places::table.select(geo_places::id).first(conn).optional()?;
    if any.is_some() {
        return Ok(None);
    }
    let mut report = import(conn, DEMO_CITIES.as_bytes(), &mut |_| {})?;
    let postal = import(conn, DEMO_POSTAL.as_bytes(), &mut |_| {})?;
    report.places += postal.places;
    report.keys += postal.keys;
    Ok(Some(report))
}

/// A place of a line; None for a line that is not one (a comment, another feature class).
fn parse_line(line: &str) -> Result<Option<Place>, String> {
    if line.starts_with('#') || line.trim().is_empty() {
        return Ok(None);
    }
    let cols: Vec<&str> = line.split('\t').collect();
    let coordinate = |s: &str, what: &str, max: f64| -> Result<f64, String> {
        let v: f64 = s.trim().parse().map_err(|_| format!("{what} {s:?} is not a number"))?;
        if !v.is_finite() || v.abs() > max {
            return Err(format!("{what} {v} is out of range"));
        }
        Ok(v)
    };
    let country = |s: &str| -> Result<String, String> {
        let c = s.trim().to_uppercase();
        if c.len() != 2 || !c.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(format!("country {s:?} is not an ISO 3166-1 alpha-2 code"));
        }
        Ok(c)
    };
    let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    match cols.len() {
        19 => {
            if cols[6].trim() != "P" {
                return Ok(None);
            }
            let mut keys = BTreeSet::new();
            for name in [cols[1], cols[2]].into_iter().chain(cols[3].split(',')) {
                let k = place_key(name);
                if !k.is_empty() {
                    keys.insert(k);
                }
            }
            Ok(Some(Place {
                country: country(cols[8])?,
                kind: "city",
                name: text(cols[1]).ok_or("a city without a name")?,
                admin1: text(cols[10]),
                postal_code: None,
                latitude: coordinate(cols[4], "latitude", 90.0)?,
                longitude: coordinate(cols[5], "longitude", 180.0)?,
                population: cols[14].trim().parse().unwrap_or(0),
                keys,
            }))
        }
        12 => {
            let code = text(cols[1]).ok_or("a postal code row without a code")?;
            let key = postal_key(&code);
            Ok(Some(Place {
                country: country(cols[0])?,
                kind: "postal_code",
                name: text(cols[2]).unwrap_or_else(|| code.clone()),
                admin1: text(cols[3]),
                latitude: coordinate(cols[9], "latitude", 90.0)?,
                longitude: coordinate(cols[10], "longitude", 180.0)?,
                postal_code: Some(code),
                population: 0,
                keys: BTreeSet::from([key]),
            }))
        }
        n => Err(format!("{n} tab-separated columns: a GeoNames cities file has 19, a postal-code file 12")),
    }
}

fn write(
    conn: &mut AnyConnection,
    batch: &mut Vec<Place>,
    next_id: &mut i64,
    report: &mut ImportReport,
) -> QueryResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut places = Vec::with_capacity(batch.len());
    let mut keys = Vec::new();
    for p in batch.drain(..) {
        let id = *next_id;
        *next_id += 1;
        for k in &p.keys {
            keys.push((
                geo_place_keys::country.eq(p.country.clone()),
                geo_place_keys::kind.eq(p.kind),
                geo_place_keys::key.eq(k.clone()),
                geo_place_keys::place_id.eq(id),
            ));
        }
        places.push((
            geo_places::id.eq(id),
            geo_places::country.eq(p.country),
            geo_places::kind.eq(p.kind),
            geo_places::name.eq(p.name),
            geo_places::admin1.eq(p.admin1),
            geo_places::postal_code.eq(p.postal_code),
            geo_places::latitude.eq(p.latitude),
            geo_places::longitude.eq(p.longitude),
            geo_places::population.eq(p.population),
        ));
    }
    report.places += places.len() as u64;
    report.keys += keys.len() as u64;
    // PostgreSQL takes many rows per statement; SQLite through diesel one (in the import's
    // transaction, from its statement cache).
    macro_rules! insert_all {
        ($table:expr, $rows:expr) => {
            match conn {
                AnyConnection::Postgresql(c) => {
                    for chunk in $rows.chunks(2000) {
                        diesel::insert_into($table).values(chunk).execute(c)?;
                    }
                }
                AnyConnection::Sqlite(c) => {
                    for row in $rows {
                        diesel::insert_into($table).values(row).execute(c)?;
                    }
                }
            }
        };
    }
    insert_all!(geo_places::table, places);
    insert_all!(geo_place_keys::table, keys);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_both_formats_parse_and_bad_ones_say_why() {
        let city = parse_line(DEMO_CITIES.lines().find(|l| l.contains("\tMunich\t")).unwrap()).unwrap().unwrap();
        assert_eq!((city.country.as_str(), city.kind, city.latitude), ("DE", "city", 48.1351));
        assert!(city.keys.contains("münchen") && city.keys.contains("munich") && city.keys.contains("muenchen"));
        let postal = parse_line("JP\t100-0001\tChiyoda\tTokyo\t\t\t\t\t\t35.685\t139.7528\t4").unwrap().unwrap();
        assert_eq!(postal.keys, BTreeSet::from(["1000001".to_string()]));
        // Another feature class (an administrative area) is not a city.
        let admin = "\tSeoul\tSeoul\t\t37.5\t127\tA\tADM1\tKR\t\t11\t\t\t\t0\t\t\t\t";
        assert!(parse_line(admin).unwrap().is_none());
        assert!(parse_line("KR\t04524\tJung-gu").unwrap_err().contains("3 tab-separated columns"));
        assert!(parse_line("KR\t04524\tJung-gu\t\t\t\t\t\t\t95\t126\t4").unwrap_err().contains("out of range"));
        assert!(parse_line("Korea\t04524\tJung-gu\t\t\t\t\t\t\t37\t126\t4").unwrap_err().contains("alpha-2"));
    }
}
