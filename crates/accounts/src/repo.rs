//! SQL for accounts. Rows never leave this module; callers get `Account`.

use chrono::NaiveDateTime;
use crm_core::filter::{Catalog, FieldDef, FieldKind};
use crm_core::ids::AccountId;
use crm_core::list::{ListQuery, Page};
use crm_core::{Long, Money};
use crm_db::schema::accounts;
use crm_db::sql::{self, Bind, SearchIndex};
use crm_db::types::{DbJson, DbUuid};
use crm_db::{AnyConnection, MultiBackend, to_utc};
use diesel::prelude::*;

use crate::error::AccountError;
use crate::model::{Account, Tier};

const fn f(name: &'static str, kind: FieldKind, nullable: bool, sortable: bool) -> FieldDef {
    FieldDef { name, column: name, kind, nullable, sortable }
}

/// What account lists can filter and sort on.
pub static CATALOG: Catalog = Catalog {
    resource: "accounts",
    table: "accounts",
    fields: &[
        f("id", FieldKind::Uuid, false, false),
        f("name", FieldKind::Text, false, true),
        f("domain", FieldKind::LowerText, true, true),
        f("industry", FieldKind::Text, true, true),
        f("tier", FieldKind::Enum(Tier::NAMES), true, true),
        f("owner_id", FieldKind::Uuid, true, false),
        f("phone", FieldKind::Text, true, false),
        f("website", FieldKind::Text, true, false),
        f("street", FieldKind::Text, true, false),
        f("city", FieldKind::Text, true, true),
        f("region", FieldKind::Text, true, true),
        f("postal_code", FieldKind::Text, true, true),
        f("country", FieldKind::UpperText, true, true),
        f("latitude", FieldKind::Float, true, true),
        f("longitude", FieldKind::Float, true, true),
        FieldDef {
            name: "annual_revenue",
            column: "annual_revenue_minor",
            kind: FieldKind::Int,
            nullable: true,
            sortable: true,
        },
        FieldDef {
            name: "annual_revenue_currency",
            column: "annual_revenue_currency",
            kind: FieldKind::UpperText,
            nullable: true,
            sortable: false,
        },
        f("employee_count", FieldKind::Int, true, true),
        f("tags", FieldKind::Tags, false, false),
        FieldDef {
            name: "external_id",
            column: "account",
            kind: FieldKind::ExternalId,
            nullable: false,
            sortable: false,
        },
        f("version", FieldKind::Int, false, false),
        f("created_at", FieldKind::Timestamp, false, true),
        f("updated_at", FieldKind::Timestamp, false, true),
        f("archived_at", FieldKind::Timestamp, true, true),
    ],
    relations: &[],
};

/// The entity name in the event log and the external-id table.
pub const ENTITY: &str = "account";

pub const SEARCH: SearchIndex = SearchIndex { pg_column: "search_tsv", sqlite_table: "accounts_fts" };

#[derive(Queryable, Insertable, AsChangeset, Clone, Debug)]
#[diesel(table_name = accounts, treat_none_as_null = true)]
pub(crate) struct AccountRow {
    id: DbUuid,
    name: String,
    domain: Option<String>,
    industry: Option<String>,
    tier: Option<String>,
    owner_id: Option<DbUuid>,
    phone: Option<String>,
    website: Option<String>,
    street: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    annual_revenue_minor: Option<i64>,
    annual_revenue_currency: Option<String>,
    employee_count: Option<i64>,
    tags: DbJson,
    custom_fields: DbJson,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Account {
        Account {
            id: AccountId(r.id.0),
            name: r.name,
            domain: r.domain,
            industry: r.industry,
            tier: r.tier.as_deref().and_then(Tier::parse),
            owner_id: r.owner_id.map(|u| u.0),
            phone: r.phone,
            website: r.website,
            street: r.street,
            city: r.city,
            region: r.region,
            postal_code: r.postal_code,
            country: r.country,
            latitude: r.latitude,
            longitude: r.longitude,
            annual_revenue: match (r.annual_revenue_minor, r.annual_revenue_currency) {
                (Some(a), Some(c)) => Some(Money { amount_minor: Long(a), currency: c }),
                _ => None,
            },
            employee_count: r.employee_count.and_then(|n| i32::try_from(n).ok()),
            tags: serde_json::from_value(r.tags.0).unwrap_or_default(),
            custom_fields: r.custom_fields.0,
            external_ids: Vec::new(),
            version: r.version,
            created_at: to_utc(r.created_at),
            updated_at: to_utc(r.updated_at),
            archived_at: r.archived_at.map(to_utc),
        }
    }
}

impl From<&Account> for AccountRow {
    fn from(a: &Account) -> AccountRow {
        AccountRow {
            id: DbUuid(a.id.0),
            name: a.name.clone(),
            domain: a.domain.clone(),
            industry: a.industry.clone(),
            tier: a.tier.map(|t| t.as_str().to_string()),
            owner_id: a.owner_id.map(DbUuid),
            phone: a.phone.clone(),
            website: a.website.clone(),
            street: a.street.clone(),
            city: a.city.clone(),
            region: a.region.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
            latitude: a.latitude,
            longitude: a.longitude,
            annual_revenue_minor: a.annual_revenue.as_ref().map(|m| m.amount_minor.0),
            annual_revenue_currency: a.annual_revenue.as_ref().map(|m| m.currency.clone()),
            employee_count: a.employee_count.map(i64::from),
            tags: DbJson(serde_json::json!(a.tags)),
            custom_fields: DbJson(a.custom_fields.clone()),
            version: a.version,
            created_at: a.created_at.naive_utc(),
            updated_at: a.updated_at.naive_utc(),
            archived_at: a.archived_at.map(|t| t.naive_utc()),
        }
    }
}

fn sort_value(a: &Account, field: &str) -> Option<Bind> {
    let s = |v: &Option<String>| v.clone().map(Bind::Text);
    match field {
        "name" => Some(Bind::Text(a.name.clone())),
        "domain" => s(&a.domain),
        "industry" => s(&a.industry),
        "tier" => a.tier.map(|t| Bind::Text(t.as_str().into())),
        "city" => s(&a.city),
        "region" => s(&a.region),
        "postal_code" => s(&a.postal_code),
        "country" => s(&a.country),
        "latitude" => a.latitude.map(Bind::Float),
        "longitude" => a.longitude.map(Bind::Float),
        "annual_revenue" => a.annual_revenue.as_ref().map(|m| Bind::Int(m.amount_minor.0)),
        "employee_count" => a.employee_count.map(|n| Bind::Int(n.into())),
        "created_at" => Some(Bind::Timestamp(a.created_at.naive_utc())),
        "updated_at" => Some(Bind::Timestamp(a.updated_at.naive_utc())),
        "archived_at" => a.archived_at.map(|t| Bind::Timestamp(t.naive_utc())),
        _ => None,
    }
}

/// Fills in the external ids of loaded accounts (one query).
fn with_external_ids(conn: &mut AnyConnection, mut items: Vec<Account>) -> QueryResult<Vec<Account>> {
    let ids: Vec<uuid::Uuid> = items.iter().map(|a| a.id.0).collect();
    let mut map = crm_db::external_ids::of_records(conn, ENTITY, &ids)?;
    for a in &mut items {
        a.external_ids = map.remove(&a.id.0).unwrap_or_default();
    }
    Ok(items)
}

pub fn find(conn: &mut AnyConnection, id: AccountId) -> QueryResult<Option<Account>> {
    let row = accounts::table
        .filter(accounts::id.eq(DbUuid(id.0)))
        .select(accounts::all_columns)
        .first::<AccountRow>(conn)
        .optional()?;
    match row {
        Some(r) => Ok(with_external_ids(conn, vec![Account::from(r)])?.pop()),
        None => Ok(None),
    }
}

pub fn find_many(conn: &mut AnyConnection, ids: &[AccountId], external_ids: bool) -> QueryResult<Vec<Account>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<AccountRow> = accounts::table
        .filter(crm_db::sql::in_ids(r#""accounts"."id""#, ids.iter().map(|i| i.0), conn.backend()))
        .select(accounts::all_columns)
        .load(conn)?;
    let items = rows.into_iter().map(Account::from).collect();
    if external_ids { with_external_ids(conn, items) } else { Ok(items) }
}

/// The live account that holds `domain`, other than `except`.
pub fn find_live_by_domain(
    conn: &mut AnyConnection,
    domain: &str,
    except: Option<AccountId>,
) -> QueryResult<Option<AccountId>> {
    // Fixed statements (no boxing), so the driver keeps them prepared.
    let base = accounts::table.filter(accounts::domain.eq(domain)).filter(accounts::archived_at.is_null());
    let found = match except {
        Some(e) => base.filter(accounts::id.ne(DbUuid(e.0))).select(accounts::id).first::<DbUuid>(conn).optional()?,
        None => base.select(accounts::id).first::<DbUuid>(conn).optional()?,
    };
    Ok(found.map(|u| AccountId(u.0)))
}

/// Inserts a new account unless a live account already has its domain: whether it was
/// inserted. (No failed statement on a duplicate, so a PostgreSQL transaction carries on.)
pub fn insert(conn: &mut AnyConnection, a: &Account) -> QueryResult<bool> {
    let row = AccountRow::from(a);
    let n = match conn {
        AnyConnection::Postgresql(pg) => {
            diesel::insert_into(accounts::table).values(row).on_conflict_do_nothing().execute(pg)?
        }
        AnyConnection::Sqlite(lite) => {
            diesel::insert_into(accounts::table).values(row).on_conflict_do_nothing().execute(lite)?
        }
    };
    Ok(n == 1)
}

/// Inserts many rows with multi-row statements (bulk import).
pub fn insert_many(conn: &mut AnyConnection, items: &[Account]) -> QueryResult<()> {
    let rows: Vec<AccountRow> = items.iter().map(AccountRow::from).collect();
    // Under the backends' bind-parameter limits (SQLite 32766, PostgreSQL 65535).
    for chunk in rows.chunks(500) {
        match conn {
            AnyConnection::Postgresql(c) => diesel::insert_into(accounts::table).values(chunk).execute(c)?,
            AnyConnection::Sqlite(c) => diesel::insert_into(accounts::table).values(chunk).execute(c)?,
        };
    }
    Ok(())
}

/// Writes `a` over the stored row if that row is still at `expected` version.
pub fn update_if_version(conn: &mut AnyConnection, a: &Account, expected: i64) -> QueryResult<bool> {
    let n =
        diesel::update(accounts::table.filter(accounts::id.eq(DbUuid(a.id.0))).filter(accounts::version.eq(expected)))
            .set(AccountRow::from(a))
            .execute(conn)?;
    Ok(n == 1)
}

/// One page of a list, plus the total when asked.
pub fn list(conn: &mut AnyConnection, q: &ListQuery) -> Result<Page<Account>, AccountError> {
    let parts = sql::list_sql(q, SEARCH, conn.backend())?;
    let rows: Vec<AccountRow> = accounts::table
        .select(accounts::all_columns)
        .into_boxed::<MultiBackend>()
        .filter(parts.page)
        .order(parts.order)
        .limit(i64::from(q.limit) + 1)
        .load(conn)?;
    let items: Vec<Account> = rows.into_iter().map(Account::from).collect();
    let (items, next) = sql::paginate(items, q, sort_value, |a| a.id.0);
    let items = if q.skip_external_ids { items } else { with_external_ids(conn, items)? };
    let total = if q.count {
        Some(accounts::table.into_boxed::<MultiBackend>().filter(parts.matching).count().get_result::<i64>(conn)?)
    } else {
        None
    };
    Ok(Page { data: items, next_cursor: next, total })
}
