//! Contacts as records: what lists filter and sort on, the stored row, the domain's rules
//! (`impl Record`), and the multi-row update batches use on PostgreSQL. Rows never leave this
//! module; callers get `Contact`.

use chrono::NaiveDateTime;
use crm_core::filter::{Catalog, FieldDef, FieldKind, RelationDef};
use crm_core::ids::{AccountId, ContactId, UserId};
use crm_core::{Actor, FieldErrors, Scope, Timestamp};
use crm_db::schema::contacts;
use crm_db::sql::SearchIndex;
use crm_db::types::{DbJson, DbUuid};
use crm_db::{AnyConnection, to_utc};
use crm_records::{Record, RecordError};
use diesel::prelude::*;

use crate::model::{Contact, ContactInput, ContactPatch, EmailConsent, LifecycleStage};

const fn f(name: &'static str, kind: FieldKind, nullable: bool, sortable: bool) -> FieldDef {
    FieldDef { name, column: name, kind, nullable, sortable }
}

/// What contact lists can filter and sort on; `account.*` follows the account.
pub static CATALOG: Catalog = Catalog {
    resource: "contacts",
    table: "contacts",
    fields: &[
        f("id", FieldKind::Uuid, false, false),
        f("first_name", FieldKind::Text, true, true),
        f("last_name", FieldKind::Text, true, true),
        f("email", FieldKind::LowerText, true, true),
        f("phone", FieldKind::Text, true, false),
        f("title", FieldKind::Text, true, true),
        f("department", FieldKind::Text, true, true),
        f("account_id", FieldKind::Uuid, true, false),
        f("owner_id", FieldKind::Uuid, true, false),
        f("lifecycle_stage", FieldKind::Enum(LifecycleStage::NAMES), false, true),
        f("email_consent", FieldKind::Enum(EmailConsent::NAMES), false, true),
        f("email_consent_at", FieldKind::Timestamp, true, true),
        f("do_not_call", FieldKind::Bool, false, false),
        f("street", FieldKind::Text, true, false),
        f("city", FieldKind::Text, true, true),
        f("region", FieldKind::Text, true, true),
        f("postal_code", FieldKind::Text, true, true),
        f("country", FieldKind::UpperText, true, true),
        f("latitude", FieldKind::Float, true, true),
        f("longitude", FieldKind::Float, true, true),
        f("tags", FieldKind::Tags, false, false),
        FieldDef {
            name: "external_id",
            column: "contact",
            kind: FieldKind::ExternalId,
            nullable: false,
            sortable: false,
        },
        f("version", FieldKind::Int, false, false),
        f("created_at", FieldKind::Timestamp, false, true),
        f("updated_at", FieldKind::Timestamp, false, true),
        f("archived_at", FieldKind::Timestamp, true, true),
    ],
    relations: &[RelationDef { name: "account", local_column: "account_id", target: &crm_accounts::ACCOUNT_CATALOG }],
};

pub const SEARCH: SearchIndex = SearchIndex { pg_column: "search_tsv", sqlite_table: "contacts_fts" };

#[derive(Queryable, Insertable, AsChangeset, Clone, Debug)]
#[diesel(table_name = contacts, treat_none_as_null = true)]
pub struct ContactRow {
    id: DbUuid,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    emails: DbJson,
    phone: Option<String>,
    phones: DbJson,
    title: Option<String>,
    department: Option<String>,
    account_id: Option<DbUuid>,
    owner_id: Option<DbUuid>,
    lifecycle_stage: String,
    email_consent: String,
    email_consent_at: Option<NaiveDateTime>,
    do_not_call: bool,
    street: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    tags: DbJson,
    custom_fields: DbJson,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    archived_at: Option<NaiveDateTime>,
}

fn strings(v: serde_json::Value) -> Vec<String> {
    serde_json::from_value(v).unwrap_or_default()
}

impl From<ContactRow> for Contact {
    fn from(r: ContactRow) -> Contact {
        Contact {
            id: ContactId(r.id.0),
            first_name: r.first_name,
            last_name: r.last_name,
            email: r.email,
            emails: strings(r.emails.0),
            phone: r.phone,
            phones: strings(r.phones.0),
            title: r.title,
            department: r.department,
            account_id: r.account_id.map(|u| AccountId(u.0)),
            owner_id: r.owner_id.map(|u| UserId(u.0)),
            lifecycle_stage: LifecycleStage::parse(&r.lifecycle_stage).unwrap_or(LifecycleStage::Other),
            email_consent: EmailConsent::parse(&r.email_consent).unwrap_or(EmailConsent::Unknown),
            email_consent_at: r.email_consent_at.map(to_utc),
            do_not_call: r.do_not_call,
            street: r.street,
            city: r.city,
            region: r.region,
            postal_code: r.postal_code,
            country: r.country,
            latitude: r.latitude,
            longitude: r.longitude,
            tags: strings(r.tags.0),
            custom_fields: r.custom_fields.0,
            external_ids: Vec::new(),
            version: r.version,
            created_at: to_utc(r.created_at),
            updated_at: to_utc(r.updated_at),
            archived_at: r.archived_at.map(to_utc),
        }
    }
}

impl From<&Contact> for ContactRow {
    fn from(c: &Contact) -> ContactRow {
        ContactRow {
            id: DbUuid(c.id.0),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            email: c.email.clone(),
            emails: DbJson(serde_json::json!(c.emails)),
            phone: c.phone.clone(),
            phones: DbJson(serde_json::json!(c.phones)),
            title: c.title.clone(),
            department: c.department.clone(),
            account_id: c.account_id.map(|a| DbUuid(a.0)),
            owner_id: c.owner_id.map(|u| DbUuid(u.0)),
            lifecycle_stage: c.lifecycle_stage.as_str().to_string(),
            email_consent: c.email_consent.as_str().to_string(),
            email_consent_at: c.email_consent_at.map(|t| t.naive_utc()),
            do_not_call: c.do_not_call,
            street: c.street.clone(),
            city: c.city.clone(),
            region: c.region.clone(),
            postal_code: c.postal_code.clone(),
            country: c.country.clone(),
            latitude: c.latitude,
            longitude: c.longitude,
            tags: DbJson(serde_json::json!(c.tags)),
            custom_fields: DbJson(c.custom_fields.clone()),
            version: c.version,
            created_at: c.created_at.naive_utc(),
            updated_at: c.updated_at.naive_utc(),
            archived_at: c.archived_at.map(|t| t.naive_utc()),
        }
    }
}

/// Writes each contact over its stored row if that row is still at the paired version; false
/// when some row was not (all others are then written: the caller rolls back). PostgreSQL gets
/// one statement for all of them (arrays unnested into rows), SQLite one per row.
fn update_many(conn: &mut AnyConnection, items: &[(Contact, i64)]) -> QueryResult<bool> {
    if items.is_empty() {
        return Ok(true);
    }
    let pg = match conn {
        AnyConnection::Postgresql(pg) => pg,
        AnyConnection::Sqlite(_) => {
            let mut all = true;
            for (c, expected) in items {
                all &= Contact::update_if_version(conn, c, *expected)?;
            }
            return Ok(all);
        }
    };
    use diesel::pg::Pg;
    use diesel::sql_types::{Array, BigInt, Bool, Double, Jsonb, Nullable, Text, Timestamp, Uuid};
    // Rows in id order: concurrent batches lock the rows they share in the same order.
    let mut items: Vec<&(Contact, i64)> = items.iter().collect();
    items.sort_by_key(|(c, _)| c.id);
    let rows: Vec<ContactRow> = items.iter().map(|(c, _)| ContactRow::from(c)).collect();
    fn col<T>(rows: &[ContactRow], f: impl Fn(&ContactRow) -> T) -> Vec<T> {
        rows.iter().map(f).collect()
    }
    let uuid = |u: &DbUuid| u.0;
    let updated = diesel::sql_query(UPDATE_MANY_PG)
        .into_boxed::<Pg>()
        .bind::<Array<Uuid>, _>(col(&rows, |r| r.id.0))
        .bind::<Array<BigInt>, _>(items.iter().map(|(_, v)| *v).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.first_name.clone()))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.last_name.clone()))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.email.clone()))
        .bind::<Array<Jsonb>, _>(col(&rows, |r| r.emails.0.clone()))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.phone.clone()))
        .bind::<Array<Jsonb>, _>(col(&rows, |r| r.phones.0.clone()))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.title.clone()))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.department.clone()))
        .bind::<Array<Nullable<Uuid>>, _>(col(&rows, |r| r.account_id.as_ref().map(uuid)))
        .bind::<Array<Nullable<Uuid>>, _>(col(&rows, |r| r.owner_id.as_ref().map(uuid)))
        .bind::<Array<Text>, _>(col(&rows, |r| r.lifecycle_stage.clone()))
        .bind::<Array<Text>, _>(col(&rows, |r| r.email_consent.clone()))
        .bind::<Array<Nullable<Timestamp>>, _>(col(&rows, |r| r.email_consent_at))
        .bind::<Array<Bool>, _>(col(&rows, |r| r.do_not_call))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.street.clone()))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.city.clone()))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.region.clone()))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.postal_code.clone()))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.country.clone()))
        .bind::<Array<Nullable<Double>>, _>(col(&rows, |r| r.latitude))
        .bind::<Array<Nullable<Double>>, _>(col(&rows, |r| r.longitude))
        .bind::<Array<Jsonb>, _>(col(&rows, |r| r.tags.0.clone()))
        .bind::<Array<Jsonb>, _>(col(&rows, |r| r.custom_fields.0.clone()))
        .bind::<Array<BigInt>, _>(col(&rows, |r| r.version))
        .bind::<Array<Timestamp>, _>(col(&rows, |r| r.created_at))
        .bind::<Array<Timestamp>, _>(col(&rows, |r| r.updated_at))
        .bind::<Array<Nullable<Timestamp>>, _>(col(&rows, |r| r.archived_at))
        .execute(pg)?;
    Ok(updated == items.len())
}

/// `update_many_if_version` on PostgreSQL: the binds are one array per column, in this order.
const UPDATE_MANY_PG: &str = "UPDATE contacts AS c SET first_name = v.first_name, last_name = v.last_name, \
    email = v.email, emails = v.emails, phone = v.phone, phones = v.phones, title = v.title, \
    department = v.department, account_id = v.account_id, owner_id = v.owner_id, \
    lifecycle_stage = v.lifecycle_stage, email_consent = v.email_consent, \
    email_consent_at = v.email_consent_at, do_not_call = v.do_not_call, street = v.street, \
    city = v.city, region = v.region, postal_code = v.postal_code, country = v.country, \
    latitude = v.latitude, longitude = v.longitude, tags = v.tags, custom_fields = v.custom_fields, \
    version = v.version, created_at = v.created_at, updated_at = v.updated_at, archived_at = v.archived_at \
    FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
    $20, $21, $22, $23, $24, $25, $26, $27, $28, $29) AS v(id, expected, first_name, last_name, email, \
    emails, phone, phones, title, department, account_id, owner_id, lifecycle_stage, email_consent, \
    email_consent_at, do_not_call, street, city, region, postal_code, country, latitude, longitude, tags, \
    custom_fields, version, created_at, updated_at, archived_at) \
    WHERE c.id = v.id AND c.version = v.expected";

impl Record for Contact {
    type Id = ContactId;
    type Input = ContactInput;
    type Patch = ContactPatch;

    const READ: Scope = Scope::ContactsRead;
    const WRITE: Scope = Scope::ContactsWrite;
    // Contacts have no `after_write`: batches write their rows a group at a time.
    const DEFER_BATCH_WRITES: bool = true;

    crm_records::record_basics!(catalog: CATALOG);

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: ContactId,
        mut input: ContactInput,
        prev: Option<&Self>,
        now: Timestamp,
    ) -> Result<Self, RecordError> {
        let entity = Self::ENTITY;
        resolve_account_ref(conn, &mut input)?;
        let i = input.normalize_over(prev).map_err(|errors| RecordError::Invalid { entity, errors })?;
        if prev.is_none_or(|p| p.account_id != i.account_id) {
            crm_records::check_ref(conn, entity, "account_id", i.account_id)?;
        }
        if prev.is_none_or(|p| p.owner_id != i.owner_id) {
            crm_records::check_ref(conn, entity, "owner_id", i.owner_id)?;
        }
        Ok(Contact::from_input(id, i, prev, now))
    }

    /// The primary email: one live contact per address.
    fn unique(&self) -> Vec<(&'static str, &str)> {
        self.email.as_deref().map(|e| ("email", e)).into_iter().collect()
    }

    fn update_many_if_version(conn: &mut AnyConnection, items: &[(Self, i64)]) -> QueryResult<bool> {
        update_many(conn, items)
    }

    crm_records::diesel_store!(table: contacts, row: ContactRow, search: SEARCH);
}

crm_records::batch_record!(Contact);

fn invalid(field: &str, code: &str, message: impl Into<String>) -> RecordError {
    RecordError::Invalid {
        entity: Contact::ENTITY,
        errors: FieldErrors(vec![crm_core::FieldError::new(field, code, message)]),
    }
}

/// Turns `account: {id | external_id}` into `account_id`.
fn resolve_account_ref(conn: &mut AnyConnection, input: &mut ContactInput) -> Result<(), RecordError> {
    let Some(r) = input.account.take() else { return Ok(()) };
    let id = match (r.id, r.external_id) {
        (Some(id), None) => id,
        (None, Some(ext)) => {
            let ext = ext
                .parse("account.external_id")
                .map_err(|e| RecordError::Invalid { entity: Contact::ENTITY, errors: FieldErrors(vec![e]) })?;
            crm_records::id_by_external_id::<AccountId>(conn, &ext)?.ok_or_else(|| {
                invalid(
                    "account.external_id",
                    "not_found",
                    format!("no account has external id {}:{}", ext.source, ext.id),
                )
            })?
        }
        _ => return Err(invalid("account", "invalid", "give exactly one of `id` or `external_id`")),
    };
    if input.account_id.is_some_and(|a| a != id) {
        return Err(invalid("account", "conflict", "`account` and `account_id` name different accounts"));
    }
    input.account_id = Some(id);
    Ok(())
}
