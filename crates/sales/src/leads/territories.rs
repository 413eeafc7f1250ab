//! Sales territories drawn as regions: a box, a circle, a list of cities or of postal-code
//! prefixes, each optionally in one country (or a whole country). A user whose `territory`
//! is a territory's name covers it, and the `territory` strategy of the assignment rules gives
//! a new lead to the users covering a territory that holds it (docs/GEO.md, "Territories").

use crm_core::geo::{GeoBox, GeoPoint, MAX_DISTANCE_M, distance_m};
use crm_core::values::{self, clean};
use crm_core::{Actor, FieldErrors, Scope};
use crm_db::AnyConnection;
use crm_db::schema::territories;
use crm_db::types::DbUuid;
use crm_records::RecordError;
use crm_records::location::{place_key, postal_key};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::Lead;

/// A box in degrees (`west` greater than `east` crosses the antimeridian).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "TerritoryBoxInput")
)]
pub struct TerritoryBox {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
}

/// A circle: a centre and a radius in metres.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "TerritoryCircleInput")
)]
pub struct TerritoryCircle {
    pub latitude: f64,
    pub longitude: f64,
    pub radius_m: f64,
}

/// A territory: a name and one region. Give one of `bbox`, `near`, `cities` or
/// `postal_prefixes`, or only a `country` (the whole country); `country` narrows the others,
/// and cities and postal prefixes need it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "TerritoryInput")
)]
pub struct Territory {
    /// Unique (case-insensitive); users cover it by this name in their `territory`.
    pub name: String,
    /// ISO 3166-1 alpha-2.
    #[serde(default)]
    pub country: Option<String>,
    /// Leads whose coordinates are in the box.
    #[serde(default)]
    pub bbox: Option<TerritoryBox>,
    /// Leads whose coordinates are within the circle.
    #[serde(default)]
    pub near: Option<TerritoryCircle>,
    /// Leads in one of these cities (compared as the gazetteer compares names: case, spaces
    /// and punctuation aside).
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub cities: Vec<String>,
    /// Leads whose postal code starts with one of these (spaces and dashes aside).
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub postal_prefixes: Vec<String>,
}

/// The territories, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "TerritoriesInput")
)]
pub struct Territories {
    pub territories: Vec<Territory>,
}

impl Territory {
    /// Whether the lead lies in the territory.
    pub fn holds(&self, l: &Lead) -> bool {
        if self.country.as_ref().is_some_and(|c| l.country.as_ref() != Some(c)) {
            return false;
        }
        let point = l.latitude.zip(l.longitude).map(|(lat, lng)| GeoPoint { lat, lng });
        if let Some(b) = self.bbox {
            return point
                .is_some_and(|p| GeoBox { south: b.south, west: b.west, north: b.north, east: b.east }.contains(p));
        }
        if let Some(c) = self.near {
            return point.is_some_and(|p| distance_m(GeoPoint { lat: c.latitude, lng: c.longitude }, p) <= c.radius_m);
        }
        if !self.cities.is_empty() {
            let city = l.city.as_deref().map(place_key);
            return self.cities.iter().any(|c| Some(place_key(c)) == city);
        }
        if !self.postal_prefixes.is_empty() {
            let Some(code) = l.postal_code.as_deref().map(postal_key) else { return false };
            return self.postal_prefixes.iter().any(|p| code.starts_with(&postal_key(p)));
        }
        self.country.is_some()
    }

    /// Checks and cleans the territory at `path` (`territories[2]`).
    fn normalize(mut self, path: &str, errs: &mut FieldErrors) -> Territory {
        let field = |f: &str| format!("{path}.{f}");
        self.name = self.name.trim().to_string();
        if self.name.is_empty() || self.name.chars().count() > 100 {
            errs.add(&field("name"), "required", "a territory needs a name of at most 100 characters");
        }
        if let Some(c) = self.country.take().as_deref().and_then(clean) {
            self.country = errs.take(values::parse_country(&field("country"), &c));
        }
        self.cities = self.cities.iter().filter_map(|c| clean(c)).collect();
        self.postal_prefixes = self.postal_prefixes.iter().filter_map(|c| clean(c)).collect();
        let shapes =
            [self.bbox.is_some(), self.near.is_some(), !self.cities.is_empty(), !self.postal_prefixes.is_empty()];
        match shapes.iter().filter(|s| **s).count() {
            0 if self.country.is_none() => errs.add(
                &field("country"),
                "required",
                "a territory is a box, a circle, cities or postal prefixes, or a whole country",
            ),
            0 | 1 => {}
            _ => errs.add(path, "conflict", "give one of bbox, near, cities or postal_prefixes"),
        }
        if (!self.cities.is_empty() || !self.postal_prefixes.is_empty()) && self.country.is_none() {
            errs.add(&field("country"), "required", "cities and postal prefixes are named within a country");
        }
        if self.cities.len() > 1000 || self.postal_prefixes.len() > 1000 {
            errs.add(path, "too_many", "at most 1000 cities and 1000 postal prefixes");
        }
        if let Some(b) = self.bbox
            && let Err(e) = GeoBox::new(b.south, b.west, b.north, b.east)
        {
            errs.add(&field("bbox"), "invalid_value", e);
        }
        if let Some(c) = self.near {
            if let Err(e) = GeoPoint::new(c.latitude, c.longitude) {
                errs.add(&field("near"), "invalid_value", e);
            }
            if !(c.radius_m > 0.0 && c.radius_m <= MAX_DISTANCE_M) {
                errs.add(
                    &field("near.radius_m"),
                    "out_of_range",
                    "more than 0 and at most half the earth's circumference",
                );
            }
        }
        self
    }
}

/// Every territory, in order.
pub fn load(conn: &mut AnyConnection) -> Result<Vec<Territory>, RecordError> {
    let rows: Vec<String> =
        territories::table.order(territories::position.asc()).select(territories::definition).load(conn)?;
    rows.iter()
        .map(|d| {
            serde_json::from_str(d).map_err(|e| {
                RecordError::Db(crm_db::DbError::Query(diesel::result::Error::DeserializationError(Box::new(e))))
            })
        })
        .collect()
}

pub fn get_territories(conn: &mut AnyConnection, actor: &Actor) -> Result<Territories, RecordError> {
    actor.require(Scope::SalesRead)?;
    Ok(Territories { territories: load(conn)? })
}

/// Replaces the territories (`sales:write`).
pub fn set_territories(conn: &mut AnyConnection, actor: &Actor, t: Territories) -> Result<Territories, RecordError> {
    actor.require(Scope::SalesWrite)?;
    let mut errs = FieldErrors::new();
    if t.territories.len() > 1000 {
        errs.add("territories", "too_many", "at most 1000 territories");
        return Err(RecordError::Invalid { entity: "territories", errors: errs });
    }
    let list: Vec<Territory> = t
        .territories
        .into_iter()
        .enumerate()
        .map(|(n, x)| x.normalize(&format!("territories[{n}]"), &mut errs))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for (n, x) in list.iter().enumerate() {
        if !x.name.is_empty() && !seen.insert(x.name.to_lowercase()) {
            errs.add(&format!("territories[{n}].name"), "duplicate", format!("`{}` is named twice", x.name));
        }
    }
    if !errs.0.is_empty() {
        return Err(RecordError::Invalid { entity: "territories", errors: errs });
    }
    diesel::delete(territories::table).execute(conn)?;
    for (n, x) in list.iter().enumerate() {
        let definition = serde_json::to_string(x).unwrap_or_default();
        diesel::insert_into(territories::table)
            .values((
                territories::id.eq(DbUuid(uuid::Uuid::now_v7())),
                territories::position.eq(i64::try_from(n).unwrap_or(0)),
                territories::name.eq(&x.name),
                territories::definition.eq(definition),
            ))
            .execute(conn)?;
    }
    Ok(Territories { territories: list })
}

/// The names of the territories that hold the lead.
pub(super) fn holding(conn: &mut AnyConnection, l: &Lead) -> Result<Vec<String>, RecordError> {
    Ok(load(conn)?.into_iter().filter(|t| t.holds(l)).map(|t| t.name).collect())
}
