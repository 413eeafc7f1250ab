//! Accounts as records: what lists filter and sort on, the stored row, and the domain's rules
//! (`impl Record`). Rows never leave this module; callers get `Account`.

use chrono::NaiveDateTime;
use crm_core::filter::{Catalog, FieldDef, FieldKind};
use crm_core::ids::{AccountId, UserId};
use crm_core::{Actor, Long, Money, Scope, Timestamp};
use crm_db::schema::accounts;
use crm_db::sql::SearchIndex;
use crm_db::types::{DbJson, DbUuid};
use crm_db::{AnyConnection, to_utc};
use crm_records::{Record, RecordError};
use diesel::prelude::*;

use crate::model::{Account, AccountInput, AccountPatch, Tier};

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

pub const SEARCH: SearchIndex = SearchIndex { pg_column: "search_tsv", sqlite_table: "accounts_fts" };

#[derive(Queryable, Insertable, AsChangeset, Clone, Debug)]
#[diesel(table_name = accounts, treat_none_as_null = true)]
pub struct AccountRow {
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
            owner_id: r.owner_id.map(|u| UserId(u.0)),
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
            owner_id: a.owner_id.map(|u| DbUuid(u.0)),
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

impl Record for Account {
    type Id = AccountId;
    type Input = AccountInput;
    type Patch = AccountPatch;

    const READ: Scope = Scope::AccountsRead;
    const WRITE: Scope = Scope::AccountsWrite;

    crm_records::record_basics!(catalog: CATALOG);

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: AccountId,
        input: AccountInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let i = input.normalize_over(prev).map_err(|errors| RecordError::Invalid { entity: Self::ENTITY, errors })?;
        if prev.is_none_or(|p| p.owner_id != i.owner_id) {
            crm_records::check_ref(conn, Self::ENTITY, "owner_id", i.owner_id)?;
        }
        Ok(Account::from_input(id, i, prev))
    }

    /// The domain: one live account per company.
    fn unique(&self) -> Vec<(&'static str, &str)> {
        self.domain.as_deref().map(|d| ("domain", d)).into_iter().collect()
    }

    crm_records::diesel_store!(table: accounts, row: AccountRow, search: SEARCH);
}

crm_records::batch_record!(Account);
