//! A region's snapshot: who is there (leads, prospects, customers, contacts), what is open
//! (deals, weighted), what they bought in a period, and the same per hexagonal cell of Uber's
//! H3 grid for maps (docs/GEO.md, "Region snapshots").
//!
//! - A region is a box, a circle (as the lists' `bbox` and `near`, on coordinates), or an
//!   administrative region: a country, optionally narrowed to a region (province, state) and a
//!   city, matched on the records' address fields (case-insensitive).
//! - Leads: live leads still open (new, contacted, qualified). Accounts: live accounts,
//!   customers when they have a live purchase that was not cancelled or returned
//!   (`purchase_count > 0`), prospects otherwise. Contacts: live contacts.
//! - Open pipeline: the amounts of live open deals of those accounts, per currency; weighted:
//!   each amount × its stage's probability, summed, then divided by 100 and rounded half away
//!   from zero (as the forecast). Revenue: the totals of the accounts' live purchases ordered
//!   in the period that were not cancelled or returned, per currency.
//! - The grid: each located lead, account and contact falls in one cell at the resolution
//!   asked (0, continents, to 15, a square metre; 5 ≈ a city at 250 km², 7 ≈ a district at
//!   5 km²). A cell carries the counts and the money of what falls in it; deals and revenue
//!   fall where their account is. An administrative region can hold records without
//!   coordinates: they count in the totals and in `unlocated`, not in any cell.

use std::collections::BTreeMap;

use crm_core::filter::{FilterError, Op, Resolved};
use crm_core::geo::GeoCond;
use crm_core::{Actor, FieldError, FieldErrors, Money, Scope};
use crm_db::AnyConnection;
use crm_db::schema::{accounts, contacts, leads, opportunities, pipeline_stages, purchases};
use crm_db::sql::Sql;
use crm_db::types::DbUuid;
use crm_records::RecordError;
use crm_sales::Period;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

const ENTITY: &str = "region_snapshot";

/// Which region, over which period, on which grid.
#[derive(Clone, Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct SnapshotQuery {
    /// A box: `south,west,north,east` in degrees (`33,124,39,132`).
    pub bbox: Option<String>,
    /// A circle: `latitude,longitude,distance` (`37.5665,126.978,30km`).
    pub near: Option<String>,
    /// An administrative region: the country (ISO 3166-1 alpha-2)…
    pub country: Option<String>,
    /// …narrowed to a region (province, state) by name…
    pub region: Option<String>,
    /// …and to a city by name.
    pub city: Option<String>,
    /// The period of `revenue`: a year (`2026`), a quarter (`2026-Q4`) or a month
    /// (`2026-11`); default the current year.
    pub period: Option<String>,
    /// The H3 resolution of the grid, 0 to 15; no grid without it.
    #[cfg_attr(feature = "openapi", param(minimum = 0, maximum = 15))]
    pub resolution: Option<u8>,
}

/// Money per currency, in currency order.
type Amounts = Vec<Money>;

/// The figures of a region or of one cell of its grid.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct RegionFigures {
    /// Open leads.
    pub leads: i64,
    /// Accounts without a purchase.
    pub prospects: i64,
    /// Accounts with a purchase.
    pub customers: i64,
    pub contacts: i64,
    /// Open deals of the accounts.
    pub open_deals: i64,
    /// Their amounts, per currency.
    pub open_pipeline: Amounts,
    /// Their amounts × their stages' probabilities, per currency.
    pub weighted_pipeline: Amounts,
    /// The accounts' purchases in the period, per currency.
    pub revenue: Amounts,
}

/// One hexagon of the grid.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct GridCell {
    /// The H3 cell index (hexadecimal), e.g. `8530e1affffffff`.
    pub cell: String,
    /// Its centre.
    pub latitude: f64,
    pub longitude: f64,
    /// Its corners, in order around the cell.
    pub boundary: Vec<Corner>,
    #[cfg_attr(feature = "graphql", graphql(flatten))]
    #[serde(flatten)]
    pub figures: RegionFigures,
}

/// A corner of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Corner {
    pub latitude: f64,
    pub longitude: f64,
}

/// Records in an administrative region that have no coordinates (in the totals, not on the
/// grid).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Unlocated {
    pub leads: i64,
    pub accounts: i64,
    pub contacts: i64,
}

/// A region's snapshot.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct RegionSnapshot {
    /// The region as a filter condition (`location[bbox]:[…]`, `location[near]:[…]`, or
    /// `country = KR AND region = …`).
    pub region: String,
    /// The period of `revenue`, its first day and the day after its last.
    pub period_start: chrono::NaiveDate,
    pub period_end_exclusive: chrono::NaiveDate,
    #[cfg_attr(feature = "graphql", graphql(flatten))]
    #[serde(flatten)]
    pub totals: RegionFigures,
    pub unlocated: Unlocated,
    /// The grid's resolution, when one was asked for.
    pub resolution: Option<u8>,
    /// The cells that hold something, in cell order.
    pub cells: Vec<GridCell>,
}

fn invalid(field: &str, code: &str, message: impl Into<String>) -> RecordError {
    RecordError::Invalid { entity: ENTITY, errors: FieldErrors(vec![FieldError::new(field, code, message)]) }
}

/// The region's condition over a located table's own columns, and how it reads.
fn region_condition(q: &SnapshotQuery, backend: crm_db::Backend) -> Result<(Sql, String), RecordError> {
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let (bbox, near, country, region, city) =
        (text(&q.bbox), text(&q.near), text(&q.country), text(&q.region), text(&q.city));
    let geo = |op: Op, raw: &str, field: &str| {
        crm_core::filter::parse_geo(op, raw, field)
            .map_err(|FilterError { field, code, message }| invalid(&field, code, message))
    };
    if country.is_none() && (region.is_some() || city.is_some()) {
        return Err(invalid("country", "required", "`region` and `city` narrow a `country`"));
    }
    let given = [bbox.is_some(), near.is_some(), country.is_some()].iter().filter(|g| **g).count();
    if given != 1 {
        let msg = "give one region: `bbox`, `near`, or `country` (with `region` and `city` to narrow it)";
        return Err(invalid("region", if given == 0 { "required" } else { "conflict" }, msg));
    }
    let cond: GeoCond = match (&bbox, &near) {
        (Some(b), _) => geo(Op::Bbox, b, "bbox")?,
        (_, Some(n)) => geo(Op::Near, n, "near")?,
        _ => {
            let country = crm_core::values::parse_country("country", country.as_deref().unwrap_or_default())
                .map_err(|e| RecordError::Invalid { entity: ENTITY, errors: FieldErrors(vec![e]) })?;
            let mut sql = Sql::new(backend);
            sql.push("country = ").bind(country.clone());
            let mut label = format!("country = {country}");
            for (column, value) in [("region", region), ("city", city)] {
                if let Some(v) = value {
                    sql.push(&format!(" AND lower({column}) = lower(")).bind(v.clone()).push(")");
                    label.push_str(&format!(" AND {column} = {v}"));
                }
            }
            return Ok((sql, label));
        }
    };
    Ok((crm_db::sql::filter(&Resolved::Geo(cond), backend), cond.to_string()))
}

/// `SELECT id FROM accounts WHERE` live and in the region (the deals' and purchases' owners).
fn accounts_in(region: &Sql) -> Sql {
    let mut s = Sql::new(region.backend());
    s.push("account_id IN (SELECT id FROM accounts WHERE archived_at IS NULL AND ").append(region.clone()).push(")");
    s
}

/// An open deal: its account, amount, currency and stage probability.
type DealRow = (Option<DbUuid>, Option<i64>, Option<String>, i64);

#[derive(Default)]
struct Acc {
    f: RegionFigures,
    pipeline: BTreeMap<String, i128>,
    weighted: BTreeMap<String, i128>,
    revenue: BTreeMap<String, i128>,
}

impl Acc {
    fn finish(mut self) -> RegionFigures {
        let money =
            |m: BTreeMap<String, i128>, f: fn(i128) -> i64| m.into_iter().map(|(c, v)| Money::new(f(v), &c)).collect();
        let clamp = |v: i128| i64::try_from(v).unwrap_or(i64::MAX);
        self.f.open_pipeline = money(self.pipeline, clamp);
        self.f.weighted_pipeline = money(self.weighted, crm_sales::period::weighted);
        self.f.revenue = money(self.revenue, clamp);
        self.f
    }
}

/// The snapshot of a region. Needs the read scopes of what it counts: accounts, contacts,
/// sales (leads and deals) and products (purchases). It counts only the records the caller
/// sees (`crm_records::visibility`): a rep's snapshot under a `team` level is the team's.
pub fn snapshot(conn: &mut AnyConnection, actor: &Actor, q: &SnapshotQuery) -> Result<RegionSnapshot, RecordError> {
    for scope in [Scope::AccountsRead, Scope::ContactsRead, Scope::SalesRead, Scope::ProductsRead] {
        actor.require(scope)?;
    }
    let backend = conn.backend();
    let (region, label) = region_condition(q, backend)?;
    // What the caller sees of each resource counted; deals and revenue are those of the
    // accounts counted.
    let seen = |conn: &mut AnyConnection, entity: &str, owner: &str, id: &str| {
        crm_records::visibility::of_entity(conn, actor, entity).map(|v| v.sql(owner, id, backend))
    };
    let accounts_seen = {
        let mut s = region.clone();
        Sql::and(&mut s, seen(conn, "account", "owner_id", "id")?);
        s
    };
    let deals_seen = seen(conn, "opportunity", "opportunities.owner_id", "opportunities.id")?;
    let leads_seen = seen(conn, "lead", "owner_id", "id")?;
    let contacts_seen = seen(conn, "contact", "owner_id", "id")?;
    let period = match q.period.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(p) => Period::parse_exact(p).ok_or_else(|| {
            invalid("period", "invalid_value", "a year (2026), a quarter (2026-Q4) or a month (2026-11)")
        })?,
        None => Period::parse_exact(&chrono::Utc::now().format("%Y").to_string())
            .ok_or_else(|| invalid("period", "invalid_value", "no current year"))?,
    };
    let resolution = q
        .resolution
        .map(|r| {
            h3o::Resolution::try_from(r)
                .map_err(|_| invalid("resolution", "out_of_range", "an H3 resolution is 0 to 15"))
        })
        .transpose()?;
    let cell_of = |lat: Option<f64>, lng: Option<f64>| -> Option<h3o::CellIndex> {
        let (lat, lng) = lat.zip(lng)?;
        Some(h3o::LatLng::new(lat, lng).ok()?.to_cell(resolution?))
    };

    let mut totals = Acc::default();
    let mut cells: BTreeMap<h3o::CellIndex, Acc> = BTreeMap::new();
    let mut unlocated = Unlocated::default();

    // Accounts, and where each one's deals and purchases fall.
    let rows: Vec<(DbUuid, Option<f64>, Option<f64>, i64)> = accounts::table
        .filter(accounts::archived_at.is_null())
        .filter(accounts_seen.clone())
        .select((accounts::id, accounts::latitude, accounts::longitude, accounts::purchase_count))
        .load(conn)?;
    let mut account_cell: BTreeMap<uuid::Uuid, Option<h3o::CellIndex>> = BTreeMap::new();
    for (id, lat, lng, purchases) in rows {
        let cell = cell_of(lat, lng);
        unlocated.accounts += i64::from(lat.is_none());
        account_cell.insert(id.0, cell);
        for acc in std::iter::once(&mut totals).chain(cell.map(|c| cells.entry(c).or_default())) {
            if purchases > 0 {
                acc.f.customers += 1;
            } else {
                acc.f.prospects += 1;
            }
        }
    }

    let deals: Vec<DealRow> = opportunities::table
        .inner_join(pipeline_stages::table.on(pipeline_stages::id.eq(opportunities::stage_id)))
        .filter(opportunities::archived_at.is_null())
        .filter(opportunities::status.eq("open"))
        .filter(accounts_in(&accounts_seen))
        .filter(deals_seen)
        .select((
            opportunities::account_id,
            opportunities::amount_minor,
            opportunities::currency,
            pipeline_stages::probability,
        ))
        .load(conn)?;
    for (account, amount, currency, probability) in deals {
        let cell = account.and_then(|a| account_cell.get(&a.0).copied().flatten());
        for acc in std::iter::once(&mut totals).chain(cell.map(|c| cells.entry(c).or_default())) {
            acc.f.open_deals += 1;
            if let (Some(amount), Some(currency)) = (amount, &currency) {
                *acc.pipeline.entry(currency.clone()).or_default() += i128::from(amount);
                *acc.weighted.entry(currency.clone()).or_default() += i128::from(amount) * i128::from(probability);
            }
        }
    }

    let mut bought = Sql::new(backend);
    bought.push("ordered_at >= ").bind(period.start.and_time(chrono::NaiveTime::MIN));
    bought.push(" AND ordered_at < ").bind(period.end_exclusive.and_time(chrono::NaiveTime::MIN));
    let sales: Vec<(Option<DbUuid>, String, i64)> = purchases::table
        .filter(purchases::archived_at.is_null())
        .filter(purchases::status.ne_all(crm_products::read::NOT_BOUGHT.map(|s| s.as_str())))
        .filter(bought)
        .filter(accounts_in(&accounts_seen))
        .select((purchases::account_id, purchases::currency, purchases::total_minor))
        .load(conn)?;
    for (account, currency, total) in sales {
        let cell = account.and_then(|a| account_cell.get(&a.0).copied().flatten());
        for acc in std::iter::once(&mut totals).chain(cell.map(|c| cells.entry(c).or_default())) {
            *acc.revenue.entry(currency.clone()).or_default() += i128::from(total);
        }
    }

    let open: Vec<&str> = crm_sales::LeadStatus::ALL.iter().filter(|s| s.is_open()).map(|s| s.as_str()).collect();
    let located: Vec<(Option<f64>, Option<f64>)> = leads::table
        .filter(leads::archived_at.is_null())
        .filter(leads::status.eq_any(open))
        .filter(region.clone())
        .filter(leads_seen)
        .select((leads::latitude, leads::longitude))
        .load(conn)?;
    for (lat, lng) in located {
        unlocated.leads += i64::from(lat.is_none());
        for acc in std::iter::once(&mut totals).chain(cell_of(lat, lng).map(|c| cells.entry(c).or_default())) {
            acc.f.leads += 1;
        }
    }

    let people: Vec<(Option<f64>, Option<f64>)> = contacts::table
        .filter(contacts::archived_at.is_null())
        .filter(region)
        .filter(contacts_seen)
        .select((contacts::latitude, contacts::longitude))
        .load(conn)?;
    for (lat, lng) in people {
        unlocated.contacts += i64::from(lat.is_none());
        for acc in std::iter::once(&mut totals).chain(cell_of(lat, lng).map(|c| cells.entry(c).or_default())) {
            acc.f.contacts += 1;
        }
    }

    let cells = cells
        .into_iter()
        .map(|(cell, acc)| {
            let centre = h3o::LatLng::from(cell);
            GridCell {
                cell: cell.to_string(),
                latitude: centre.lat(),
                longitude: centre.lng(),
                boundary: cell.boundary().iter().map(|v| Corner { latitude: v.lat(), longitude: v.lng() }).collect(),
                figures: acc.finish(),
            }
        })
        .collect();
    Ok(RegionSnapshot {
        region: label,
        period_start: period.start,
        period_end_exclusive: period.end_exclusive,
        totals: totals.finish(),
        unlocated,
        resolution: q.resolution,
        cells,
    })
}
