//! The list parameters of records with a location (accounts, contacts, leads): the common
//! ones, plus `near` and `bbox`, which add a location condition to the filter
//! (`location[near]:[…]`, `location[bbox]:[…]`, docs/GEO.md).

use crm_core::filter::{Filter, LOCATION, Op, RawValue};
use crm_core::list::ListParams;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::problem::ApiError;

/// The list parameters, plus the location shortcuts.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LocatedListQuery {
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Comma-separated fields, `-` for descending, e.g. `-created_at` or `city,last_name`;
    /// `distance` (nearest first) with `near`.
    pub sort: Option<String>,
    /// Filter expression, e.g. `and(city[eq]:Seoul,account.tier[in]:[gold,platinum])`;
    /// `location[near]:[37.5665,126.978,5km]` and `location[bbox]:[33,124,39,132]` too.
    pub filter: Option<String>,
    /// Full-text search (every word must match as a prefix).
    pub q: Option<String>,
    /// Related records to embed, comma-separated; what a resource can embed is listed in its
    /// description.
    pub include: Option<String>,
    /// `true` adds `total` (the count of all matching records).
    pub count: Option<bool>,
    /// `false` (default): live records; `true`: live and archived; `only`: archived only.
    pub archived: Option<String>,
    /// Comma-separated fields to return (`id` always comes), e.g. `fields=first_name,email`.
    pub fields: Option<String>,
    /// Records within a distance of a point: `latitude,longitude,distance` (`5km`, `500m`, or
    /// metres), e.g. `37.5665,126.9780,5km`. Each record then has `distance_m`, and
    /// `sort=distance` lists the nearest first.
    pub near: Option<String>,
    /// Records inside a box: `south,west,north,east` in degrees, e.g. `33,124,39,132`
    /// (`west` greater than `east` crosses the antimeridian).
    pub bbox: Option<String>,
}

impl LocatedListQuery {
    /// `near=`/`bbox=` as filter conditions; every one must hold.
    fn conditions(&self) -> Vec<Filter> {
        let cond = |op: Op, raw: &str| Filter::Cond {
            path: vec![LOCATION.to_string()],
            op,
            value: RawValue::List(raw.split(',').map(|s| s.trim().to_string()).collect()),
        };
        let mut out = Vec::new();
        if let Some(n) = self.near.as_deref().filter(|s| !s.trim().is_empty()) {
            out.push(cond(Op::Near, n));
        }
        if let Some(b) = self.bbox.as_deref().filter(|s| !s.trim().is_empty()) {
            out.push(cond(Op::Bbox, b));
        }
        out
    }
}

impl crate::rest::record::ListRequest for LocatedListQuery {
    fn params(&self) -> Result<ListParams, ApiError> {
        let base = crate::rest::ListQuery {
            limit: self.limit,
            cursor: self.cursor.clone(),
            sort: self.sort.clone(),
            filter: self.filter.clone(),
            q: self.q.clone(),
            include: self.include.clone(),
            count: self.count,
            archived: self.archived.clone(),
            fields: self.fields.clone(),
        };
        let mut params = base.into_params()?;
        let mut conditions = self.conditions();
        params.filter_ast = match conditions.len() {
            0 => None,
            1 => conditions.pop(),
            _ => Some(Filter::And(conditions)),
        };
        Ok(params)
    }

    fn fields(&self) -> Option<&str> {
        self.fields.as_deref()
    }

    fn include(&self) -> Option<&str> {
        self.include.as_deref()
    }
}
