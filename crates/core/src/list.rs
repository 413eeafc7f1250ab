//! List requests: sort keys, keyset cursors, limits. Shared by every resource and transport.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::custom::CustomFilters;
use crate::filter::{self, Catalog, FieldDef, FieldKind, FilterError, Resolved};
use crate::geo::{GeoCond, GeoPoint};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 1000;

/// One sort key.
#[derive(Clone, Copy, Debug)]
pub struct SortKey {
    pub field: &'static FieldDef,
    pub desc: bool,
}

/// A list request as the transports hand it to a service (raw strings, not yet checked).
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    pub sort: Option<String>,
    pub filter: Option<String>,
    /// A filter already in AST form (GraphQL `where`); combined with `filter` by `and`.
    pub filter_ast: Option<filter::Filter>,
    pub q: Option<String>,
    pub archived: Archived,
    pub count: bool,
    /// The caller will not show `external_ids`: a resource may leave them empty and save their
    /// query (contacts and accounts do; a GraphQL selection without `externalIds` asks this).
    pub skip_external_ids: bool,
}

/// Which records a list shows with respect to archiving.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Archived {
    /// Live records only (the default).
    #[default]
    Exclude,
    /// Live and archived records (`archived=true`).
    Include,
    /// Archived records only (`archived=only`).
    Only,
}

impl Archived {
    pub fn parse(s: &str) -> Option<Archived> {
        match s {
            "false" => Some(Archived::Exclude),
            "true" => Some(Archived::Include),
            "only" => Some(Archived::Only),
            _ => None,
        }
    }
}

/// A list request checked against a catalog.
#[derive(Clone, Debug)]
pub struct ListQuery {
    pub limit: u32,
    pub sort: Vec<SortKey>,
    /// Direction of the final id tie-breaker.
    pub id_desc: bool,
    pub filter: Option<Resolved>,
    pub after: Option<Cursor>,
    pub q: Option<String>,
    pub archived: Archived,
    pub count: bool,
    /// See [`ListParams::skip_external_ids`].
    pub skip_external_ids: bool,
    /// The point of the filter's `location[near]` condition: records carry their distance
    /// from it (`distance_m`), and `sort=distance` orders by it.
    pub origin: Option<GeoPoint>,
}

/// Why a list request was refused (400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("{0}")]
    Filter(#[from] FilterError),
    #[error("cannot sort by `{0}`")]
    Sort(String),
    #[error(
        "sorting by `{field}` would order amounts of different currencies: filter on one currency \
         (`{currency}[eq]:KRW`)"
    )]
    SortCurrency { field: &'static str, currency: &'static str },
    #[error("the cursor is invalid or belongs to another sort order")]
    Cursor,
    #[error("limit must be between 1 and {0}")]
    Limit(u32),
    #[error("search text must be at most 200 characters")]
    Search,
    #[error(
        "sorting by distance needs one point to measure from: a `location[near]:[lat,lng,radius]` \
         condition at the top of the filter (or `near=`)"
    )]
    DistanceOrigin,
}

impl ListError {
    /// The request parameter at fault and a stable code.
    pub fn field_and_code(&self) -> (String, &'static str) {
        match self {
            ListError::Filter(e) => (e.field.clone(), e.code),
            ListError::Sort(_) => ("sort".into(), "invalid_sort"),
            ListError::SortCurrency { .. } => ("sort".into(), "currency_required"),
            ListError::Cursor => ("cursor".into(), "invalid_cursor"),
            ListError::Limit(_) => ("limit".into(), "out_of_range"),
            ListError::Search => ("q".into(), "too_long"),
            ListError::DistanceOrigin => ("sort".into(), "origin_required"),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ListError::Filter(_) => "INVALID_FILTER",
            ListError::Sort(_) | ListError::SortCurrency { .. } | ListError::DistanceOrigin => "INVALID_SORT",
            ListError::Cursor => "INVALID_CURSOR",
            ListError::Limit(_) | ListError::Search => "INVALID_PARAMETER",
        }
    }
}

impl crate::error::DomainError for ListError {
    fn class(&self) -> crate::error::ErrorClass {
        crate::error::ErrorClass::BadRequest
    }
    fn code(&self) -> &'static str {
        ListError::code(self)
    }
    fn field_errors(&self) -> Vec<crate::error::FieldError> {
        let (field, code) = self.field_and_code();
        vec![crate::error::FieldError::new(field, code, self.to_string())]
    }
}

/// Position after the last row of a page: its sort values and id. Opaque on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// Sort signature this cursor was made for (`-created_at,id`).
    pub s: String,
    /// The last row's sort values, in key order (JSON; null for NULL).
    pub v: Vec<serde_json::Value>,
    /// The last row's id.
    pub id: uuid::Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(s: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(s.as_bytes()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The stable text form of a sort order and its id direction, bound into cursors.
pub fn sort_signature_with(keys: &[SortKey], id_desc: bool) -> String {
    let mut s = sort_signature(keys);
    if id_desc {
        s.insert(s.len() - 2, '-');
    }
    s
}

/// [`sort_signature_with`] of a list, with the origin when it sorts by distance (a cursor
/// measured from one point does not continue a list measured from another).
pub fn list_signature(keys: &[SortKey], id_desc: bool, origin: Option<GeoPoint>) -> String {
    let s = sort_signature_with(keys, id_desc);
    match origin {
        Some(o) if keys.iter().any(SortKey::is_distance) => format!("{s}@{:?},{:?}", o.lat, o.lng),
        _ => s,
    }
}

/// The stable text form of a sort order, bound into cursors.
pub fn sort_signature(keys: &[SortKey]) -> String {
    let mut parts: Vec<String> =
        keys.iter().map(|k| format!("{}{}", if k.desc { "-" } else { "" }, k.field.name)).collect();
    parts.push("id".into());
    parts.join(",")
}

/// Parses `sort=-created_at,last_name`; returns the keys and the id tie-breaker's direction
/// (explicit `id`/`-id` as the last key, otherwise the first key's direction).
pub fn parse_sort_with_id(
    raw: Option<&str>,
    catalog: &'static Catalog,
    default: &str,
) -> Result<(Vec<SortKey>, bool), ListError> {
    parse_sort_custom(raw, catalog, default, CustomFilters::none())
}

/// `parse_sort_with_id`, where `custom_fields.<name>` sorts by a custom field in `custom`.
pub fn parse_sort_custom(
    raw: Option<&str>,
    catalog: &'static Catalog,
    default: &str,
    custom: &CustomFilters,
) -> Result<(Vec<SortKey>, bool), ListError> {
    let raw_s = raw.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(default);
    let parts: Vec<&str> = raw_s.split(',').map(str::trim).collect();
    if let Some(pos) = parts.iter().position(|p| p.trim_start_matches(['-', '+']) == "id")
        && pos + 1 != parts.len()
    {
        return Err(ListError::Sort("id".into()));
    }
    let explicit_id_desc =
        parts.last().filter(|p| p.trim_start_matches(['-', '+']) == "id").map(|p| p.starts_with('-'));
    let keys = sort_keys(raw, catalog, default, custom)?;
    let desc = explicit_id_desc.unwrap_or_else(|| id_desc(&keys));
    Ok((keys, desc))
}

/// Parses `sort=-created_at,last_name`.
pub fn parse_sort(raw: Option<&str>, catalog: &'static Catalog, default: &str) -> Result<Vec<SortKey>, ListError> {
    sort_keys(raw, catalog, default, CustomFilters::none())
}

fn sort_keys(
    raw: Option<&str>,
    catalog: &'static Catalog,
    default: &str,
    custom: &CustomFilters,
) -> Result<Vec<SortKey>, ListError> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(default);
    let mut keys = Vec::new();
    for part in raw.split(',') {
        let part = part.trim();
        let (desc, name) = match part.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, part.strip_prefix('+').unwrap_or(part)),
        };
        if name == "id" {
            // id is always the final tie-breaker; an explicit id ends the list.
            keys.push(SortKey { field: &ID_FIELD, desc });
            break;
        }
        let distance = (name == "distance" && catalog.located()).then_some(&DISTANCE_FIELD);
        let field = distance
            .or_else(|| catalog.field(name))
            .or_else(|| custom.field(catalog.table, name))
            .filter(|f| f.sortable)
            .ok_or_else(|| ListError::Sort(name.to_string()))?;
        // A repeated key adds nothing (the first occurrence decides).
        if keys.iter().any(|k: &SortKey| k.field.name == field.name) {
            continue;
        }
        if keys.len() >= 4 {
            return Err(ListError::Sort(name.to_string()));
        }
        keys.push(SortKey { field, desc });
    }
    if keys.last().map(|k| k.field.name) == Some("id") {
        keys.pop();
    }
    Ok(keys)
}

/// The id tie-breaker follows the first key's direction (newest-first lists stay newest-first).
pub fn id_desc(keys: &[SortKey]) -> bool {
    keys.first().map(|k| k.desc).unwrap_or(false)
}

static ID_FIELD: FieldDef =
    FieldDef { name: "id", column: "id", kind: FieldKind::Uuid, nullable: false, sortable: true, currency: None };

/// `sort=distance`: the distance from the list's origin (the filter's `location[near]` point),
/// which the list computes per row; records carry it as `distance_m`.
pub static DISTANCE_FIELD: FieldDef = FieldDef {
    name: "distance_m",
    column: "distance_m",
    kind: FieldKind::Float,
    nullable: false,
    sortable: true,
    currency: None,
};

impl SortKey {
    /// Whether this key is the distance from the list's origin.
    pub fn is_distance(&self) -> bool {
        std::ptr::eq(self.field, &DISTANCE_FIELD)
    }
}

/// How a list nearest first looks for its page: in discs around the origin that widen until
/// one holds a page (`limit + 1` records beyond the cursor's distance), the last being the
/// query's own radius. The records within a smaller radius are the first of those within the
/// whole one, so a disc that holds a page gives exactly the page the query would, among far
/// fewer candidates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rings {
    /// The cursor's distance (0 on the first page): the records counted lie beyond it.
    pub base: f64,
    /// The query's own radius.
    pub full: f64,
}

impl Rings {
    /// The first disc: a sixteenth of the way from the cursor's distance to the radius.
    pub fn first(&self) -> f64 {
        self.base + (self.full - self.base) / 16.0
    }

    /// The next disc after one of radius `r` held `found` records (fewer than a page): wide
    /// enough, at the density just seen and with half again as much to spare, for `wanted`
    /// records; at least twice the area; at most the whole radius.
    pub fn next(&self, r: f64, found: usize, wanted: usize) -> f64 {
        let b2 = self.base * self.base;
        let area = r * r - b2;
        let grow = if found == 0 { 16.0 } else { (wanted as f64 * 1.5 / found as f64).max(2.0) };
        (b2 + area * grow).sqrt().min(self.full)
    }
}

impl ListQuery {
    /// The discs to look in first, when the list is nearest first under one `near` radius.
    pub fn rings(&self) -> Option<Rings> {
        let nearest_first = self.sort.first().is_some_and(|k| k.is_distance() && !k.desc);
        let full = self.filter.as_ref().and_then(Resolved::near_radius)?;
        let base = self.after.as_ref().and_then(|c| c.v.first()).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
        (nearest_first && base < full).then_some(Rings { base, full })
    }

    /// This query with the `near` radius cut to `radius_m` (and no count).
    pub fn within(&self, radius_m: f64) -> ListQuery {
        let mut q = self.clone();
        q.filter = self.filter.as_ref().map(|f| f.with_near_radius(radius_m));
        q.count = false;
        q
    }
}

impl Resolved {
    /// The radius of the filter's one `near` condition (see [`Resolved::origin`]).
    pub fn near_radius(&self) -> Option<f64> {
        fn radii(r: &Resolved, out: &mut Vec<f64>) {
            match r {
                Resolved::Geo(GeoCond::Near { radius_m, .. }) => out.push(*radius_m),
                Resolved::And(v) => v.iter().for_each(|x| radii(x, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        radii(self, &mut found);
        match found.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// The filter with the radius of its `near` conditions (outside `or` and `not`) set to
    /// `radius_m`.
    pub fn with_near_radius(&self, radius_m: f64) -> Resolved {
        match self {
            Resolved::Geo(GeoCond::Near { center, .. }) => Resolved::Geo(GeoCond::Near { center: *center, radius_m }),
            Resolved::And(v) => Resolved::And(v.iter().map(|x| x.with_near_radius(radius_m)).collect()),
            other => other.clone(),
        }
    }

    /// The point distances are measured from: the centre of the one `location[near]`
    /// condition that every matching record satisfies (the filter itself, or a condition of
    /// its top `and`s). None when there is none, or several.
    pub fn origin(&self) -> Option<GeoPoint> {
        fn centers(r: &Resolved, out: &mut Vec<GeoPoint>) {
            match r {
                Resolved::Geo(GeoCond::Near { center, .. }) => out.push(*center),
                Resolved::And(v) => v.iter().for_each(|x| centers(x, out)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        centers(self, &mut found);
        match found.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }
}

/// A page size: 1 to `max` (else `ListError::Limit`, which names `limit`).
pub fn page_size(limit: u32, max: u32) -> Result<u32, ListError> {
    if limit == 0 || limit > max {
        return Err(ListError::Limit(max));
    }
    Ok(limit)
}

impl ListParams {
    /// Checks the request against a catalog.
    pub fn resolve(&self, catalog: &'static Catalog, default_sort: &str) -> Result<ListQuery, ListError> {
        self.resolve_with(catalog, default_sort, CustomFilters::none())
    }

    /// Whether the filter or the sort names a custom field (`custom_fields.…`): only then do
    /// the definitions need reading.
    pub fn mentions_custom_fields(&self) -> bool {
        let text = |s: &Option<String>| s.as_deref().is_some_and(|s| s.contains(filter::CUSTOM_FIELDS));
        text(&self.filter)
            || text(&self.sort)
            || self.filter_ast.as_ref().is_some_and(filter::Filter::mentions_custom_fields)
    }

    /// `resolve`, with the custom fields filters and sorts may name.
    pub fn resolve_with(
        &self,
        catalog: &'static Catalog,
        default_sort: &str,
        custom: &CustomFilters,
    ) -> Result<ListQuery, ListError> {
        let limit = page_size(self.limit.unwrap_or(DEFAULT_LIMIT), MAX_LIMIT)?;
        let (sort, id_desc) = parse_sort_custom(self.sort.as_deref(), catalog, default_sort, custom)?;
        let text = match self.filter.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(f) => Some(filter::parse(f)?),
            None => None,
        };
        let parsed = match (text, self.filter_ast.clone()) {
            (Some(a), Some(b)) => Some(filter::Filter::And(vec![a, b])),
            (a, b) => a.or(b),
        };
        let filter = match parsed {
            Some(f) => Some(filter::resolve_with(&f, catalog, custom)?),
            None => None,
        };
        for key in &sort {
            if let Some(currency) = key.field.currency
                && !filter.as_ref().is_some_and(|f| f.pins(currency))
            {
                return Err(ListError::SortCurrency { field: key.field.name, currency });
            }
        }
        let origin = filter.as_ref().and_then(Resolved::origin);
        if origin.is_none() && sort.iter().any(SortKey::is_distance) {
            return Err(ListError::DistanceOrigin);
        }
        let after = match self.cursor.as_deref().filter(|s| !s.is_empty()) {
            Some(c) => {
                let cur = Cursor::decode(c).ok_or(ListError::Cursor)?;
                if cur.s != list_signature(&sort, id_desc, origin) || cur.v.len() != sort.len() {
                    return Err(ListError::Cursor);
                }
                Some(cur)
            }
            None => None,
        };
        let q = self.q.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(String::from);
        if q.as_ref().is_some_and(|q| q.chars().count() > 200) {
            return Err(ListError::Search);
        }
        Ok(ListQuery {
            limit,
            sort,
            id_desc,
            filter,
            after,
            q,
            archived: self.archived,
            count: self.count,
            skip_external_ids: self.skip_external_ids,
            origin,
        })
    }
}

/// One page of results.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
    pub total: Option<i64>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { data: self.data.into_iter().map(f).collect(), next_cursor: self.next_cursor, total: self.total }
    }
}

/// Splits search text into tokens of letters and digits (any script), at most 8.
pub fn search_tokens(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).take(8).map(|t| t.to_lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rings_widen_by_the_density_they_see() {
        let r = Rings { base: 0.0, full: 5000.0 };
        assert_eq!(r.first(), 312.5);
        // 12 of the 51 wanted in 312.5 m: the area grows 51 × 1.5 ÷ 12 = 6.375 times.
        assert!((r.next(312.5, 12, 51) - 312.5 * 6.375_f64.sqrt()).abs() < 1e-9);
        // None seen: sixteen times the area; nearly enough: still twice; never past the radius.
        assert!((r.next(312.5, 0, 51) - 1250.0).abs() < 1e-9);
        assert!((r.next(312.5, 50, 51) - 312.5 * 2.0_f64.sqrt()).abs() < 1e-9);
        assert_eq!(r.next(4000.0, 1, 51), 5000.0);
        // Beyond a cursor at 1 km: the annulus's area grows.
        let r = Rings { base: 1000.0, full: 5000.0 };
        assert_eq!(r.first(), 1250.0);
        let next = r.next(1250.0, 10, 51);
        assert!((next * next - 1000.0 * 1000.0 - (1250.0_f64.powi(2) - 1e6) * 7.65).abs() < 1e-6);
    }

    static CAT: Catalog = Catalog {
        name: "Thing",
        resource: "things",
        table: "things",
        fields: &[
            FieldDef {
                name: "name",
                column: "name",
                kind: FieldKind::Text,
                nullable: false,
                sortable: true,
                currency: None,
            },
            FieldDef {
                name: "note",
                column: "note",
                kind: FieldKind::Text,
                nullable: true,
                sortable: false,
                currency: None,
            },
            FieldDef {
                name: "price",
                column: "price_minor",
                kind: FieldKind::Int,
                nullable: true,
                sortable: true,
                currency: Some("price_currency"),
            },
            FieldDef {
                name: "price_currency",
                column: "price_currency",
                kind: FieldKind::UpperText,
                nullable: true,
                sortable: false,
                currency: None,
            },
        ],
        relations: &[],
    };

    #[test]
    fn sort_and_cursor_round_trip() {
        let p = ListParams { sort: Some("-name".into()), ..Default::default() };
        let q = p.resolve(&CAT, "name").unwrap();
        assert!(q.sort[0].desc);
        let cur = Cursor { s: sort_signature_with(&q.sort, q.id_desc), v: vec!["x".into()], id: uuid::Uuid::nil() };
        let p2 = ListParams { sort: Some("-name".into()), cursor: Some(cur.encode()), ..Default::default() };
        assert_eq!(p2.resolve(&CAT, "name").unwrap().after, Some(cur.clone()));
        // A cursor from another sort order is refused, not misread.
        let p3 = ListParams { sort: Some("name".into()), cursor: Some(cur.encode()), ..Default::default() };
        assert_eq!(p3.resolve(&CAT, "name").unwrap_err(), ListError::Cursor);
        let p4 = ListParams { cursor: Some("garbage!".into()), ..Default::default() };
        assert_eq!(p4.resolve(&CAT, "name").unwrap_err(), ListError::Cursor);
    }

    #[test]
    fn bad_sorts_and_limits() {
        assert!(matches!(parse_sort(Some("note"), &CAT, "name"), Err(ListError::Sort(_))));
        assert_eq!(parse_sort(Some("name,-name"), &CAT, "name").unwrap().len(), 1, "a repeated key adds nothing");
        assert_eq!(parse_sort(Some("name,id"), &CAT, "name").unwrap().len(), 1);
        assert!(parse_sort_with_id(Some("-id"), &CAT, "name").unwrap().1);
        assert!(!parse_sort_with_id(Some("-name,id"), &CAT, "name").unwrap().1);
        assert!(parse_sort_with_id(Some("id,name"), &CAT, "name").is_err());
        let p = ListParams { limit: Some(1001), ..Default::default() };
        assert_eq!(p.resolve(&CAT, "name").unwrap_err(), ListError::Limit(MAX_LIMIT));
    }

    #[test]
    fn amounts_sort_only_within_one_currency() {
        let sorted = |filter: Option<&str>| {
            ListParams { sort: Some("-price".into()), filter: filter.map(String::from), ..Default::default() }
                .resolve(&CAT, "name")
                .map(|q| q.sort.len())
        };
        assert_eq!(sorted(Some("price_currency[eq]:KRW")), Ok(1));
        assert_eq!(sorted(Some("name[starts_with]:a,price_currency[in]:[usd]")), Ok(1));
        for f in [None, Some("name[eq]:x"), Some("or(price_currency[eq]:KRW,name[eq]:x)")] {
            let e = sorted(f).unwrap_err();
            assert_eq!(e, ListError::SortCurrency { field: "price", currency: "price_currency" }, "{f:?}");
            assert_eq!(e.field_and_code(), ("sort".into(), "currency_required"));
            assert_eq!(e.code(), "INVALID_SORT");
        }
    }

    #[test]
    fn search_tokens_keep_any_script() {
        assert_eq!(search_tokens("김민준 O'Brien"), vec!["김민준", "o", "brien"]);
        assert!(search_tokens("'\"*()").is_empty());
    }
}
