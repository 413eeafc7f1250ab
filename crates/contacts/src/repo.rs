//! SQL for contacts. Rows never leave this module; callers get `Contact`.

use chrono::NaiveDateTime;
use crm_core::filter::{Catalog, FieldDef, FieldKind, RelationDef};
use crm_core::ids::{AccountId, ContactId};
use crm_core::list::{ListQuery, Page};
use crm_db::schema::contacts;
use crm_db::sql::{self, Bind, SearchIndex};
use crm_db::types::{DbJson, DbUuid};
use crm_db::{AnyConnection, MultiBackend, to_utc};
use diesel::prelude::*;

use crate::error::ContactError;
use crate::model::{Contact, EmailConsent, LifecycleStage};

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

/// The entity name in the event log and the external-id table.
pub const ENTITY: &str = "contact";

pub const SEARCH: SearchIndex = SearchIndex { pg_column: "search_tsv", sqlite_table: "contacts_fts" };

#[derive(Queryable, Insertable, AsChangeset, Clone, Debug)]
#[diesel(table_name = contacts, treat_none_as_null = true)]
pub(crate) struct ContactRow {
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
            owner_id: r.owner_id.map(|u| u.0),
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
            owner_id: c.owner_id.map(DbUuid),
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

fn sort_value(c: &Contact, field: &str) -> Option<Bind> {
    let s = |v: &Option<String>| v.clone().map(Bind::Text);
    match field {
        "first_name" => s(&c.first_name),
        "last_name" => s(&c.last_name),
        "email" => s(&c.email),
        "title" => s(&c.title),
        "department" => s(&c.department),
        "lifecycle_stage" => Some(Bind::Text(c.lifecycle_stage.as_str().into())),
        "email_consent" => Some(Bind::Text(c.email_consent.as_str().into())),
        "email_consent_at" => c.email_consent_at.map(|t| Bind::Timestamp(t.naive_utc())),
        "city" => s(&c.city),
        "region" => s(&c.region),
        "postal_code" => s(&c.postal_code),
        "country" => s(&c.country),
        "latitude" => c.latitude.map(Bind::Float),
        "longitude" => c.longitude.map(Bind::Float),
        "created_at" => Some(Bind::Timestamp(c.created_at.naive_utc())),
        "updated_at" => Some(Bind::Timestamp(c.updated_at.naive_utc())),
        "archived_at" => c.archived_at.map(|t| Bind::Timestamp(t.naive_utc())),
        _ => None,
    }
}

/// Fills in the external ids of loaded contacts (one query).
fn with_external_ids(conn: &mut AnyConnection, mut items: Vec<Contact>) -> QueryResult<Vec<Contact>> {
    let ids: Vec<uuid::Uuid> = items.iter().map(|c| c.id.0).collect();
    let mut map = crm_db::external_ids::of_records(conn, ENTITY, &ids)?;
    for c in &mut items {
        c.external_ids = map.remove(&c.id.0).unwrap_or_default();
    }
    Ok(items)
}

pub fn find(conn: &mut AnyConnection, id: ContactId) -> QueryResult<Option<Contact>> {
    let row = contacts::table
        .filter(contacts::id.eq(DbUuid(id.0)))
        .select(contacts::all_columns)
        .first::<ContactRow>(conn)
        .optional()?;
    match row {
        Some(r) => Ok(with_external_ids(conn, vec![Contact::from(r)])?.pop()),
        None => Ok(None),
    }
}

/// Contacts by id (archived included); missing ids are skipped.
pub fn find_many(conn: &mut AnyConnection, ids: &[ContactId]) -> QueryResult<Vec<Contact>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<ContactRow> = contacts::table
        .filter(crm_db::sql::in_ids(r#""contacts"."id""#, ids.iter().map(|i| i.0), conn.backend()))
        .select(contacts::all_columns)
        .load(conn)?;
    with_external_ids(conn, rows.into_iter().map(Contact::from).collect())
}

/// The live contact whose primary email is `email`, other than `except`.
pub fn find_live_by_email(
    conn: &mut AnyConnection,
    email: &str,
    except: Option<ContactId>,
) -> QueryResult<Option<ContactId>> {
    // Fixed statements (no boxing), so the driver keeps them prepared.
    let base = contacts::table.filter(contacts::email.eq(email)).filter(contacts::archived_at.is_null());
    let found = match except {
        Some(e) => base.filter(contacts::id.ne(DbUuid(e.0))).select(contacts::id).first::<DbUuid>(conn).optional()?,
        None => base.select(contacts::id).first::<DbUuid>(conn).optional()?,
    };
    Ok(found.map(|u| ContactId(u.0)))
}

/// Inserts a new contact unless a live contact already has its email: whether it was inserted.
/// (No failed statement on a duplicate, so a PostgreSQL transaction carries on.)
pub fn insert(conn: &mut AnyConnection, c: &Contact) -> QueryResult<bool> {
    let row = ContactRow::from(c);
    let n = match conn {
        AnyConnection::Postgresql(pg) => {
            diesel::insert_into(contacts::table).values(row).on_conflict_do_nothing().execute(pg)?
        }
        AnyConnection::Sqlite(lite) => {
            diesel::insert_into(contacts::table).values(row).on_conflict_do_nothing().execute(lite)?
        }
    };
    Ok(n == 1)
}

/// Inserts new contacts unless their email is taken: one statement on PostgreSQL, one per row
/// on SQLite. False when some row was not inserted (the caller rolls back).
pub fn insert_many_new(conn: &mut AnyConnection, items: &[Contact]) -> QueryResult<bool> {
    let rows: Vec<ContactRow> = items.iter().map(ContactRow::from).collect();
    let mut inserted = 0;
    match conn {
        AnyConnection::Postgresql(pg) => {
            for chunk in rows.chunks(500) {
                inserted += diesel::insert_into(contacts::table).values(chunk).on_conflict_do_nothing().execute(pg)?;
            }
        }
        AnyConnection::Sqlite(lite) => {
            for row in rows {
                inserted += diesel::insert_into(contacts::table).values(row).on_conflict_do_nothing().execute(lite)?;
            }
        }
    }
    Ok(inserted == items.len())
}

/// Inserts many rows with multi-row statements (bulk import).
pub fn insert_many(conn: &mut AnyConnection, items: &[Contact]) -> QueryResult<()> {
    let rows: Vec<ContactRow> = items.iter().map(ContactRow::from).collect();
    // Under the backends' bind-parameter limits (SQLite 32766, PostgreSQL 65535).
    for chunk in rows.chunks(500) {
        match conn {
            AnyConnection::Postgresql(c) => diesel::insert_into(contacts::table).values(chunk).execute(c)?,
            AnyConnection::Sqlite(c) => diesel::insert_into(contacts::table).values(chunk).execute(c)?,
        };
    }
    Ok(())
}

/// Writes `c` over the stored row if that row is still at `expected` version.
pub fn update_if_version(conn: &mut AnyConnection, c: &Contact, expected: i64) -> QueryResult<bool> {
    let n =
        diesel::update(contacts::table.filter(contacts::id.eq(DbUuid(c.id.0))).filter(contacts::version.eq(expected)))
            .set(ContactRow::from(c))
            .execute(conn)?;
    Ok(n == 1)
}

/// Writes each contact over its stored row if that row is still at the paired version; false
/// when some row was not (all others are then written: the caller rolls back). PostgreSQL gets
/// one statement for all of them (arrays unnested into rows), SQLite one per row.
pub fn update_many_if_version(conn: &mut AnyConnection, items: &[(Contact, i64)]) -> QueryResult<bool> {
    if items.is_empty() {
        return Ok(true);
    }
    let pg = match conn {
        AnyConnection::Postgresql(pg) => pg,
        AnyConnection::Sqlite(_) => {
            let mut all = true;
            for (c, expected) in items {
                all &= update_if_version(conn, c, *expected)?;
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

/// Live contacts of several accounts at once (for GraphQL `Account.contacts`), newest first,
/// at most `per_account` each: one statement, capped in the database (window function).
pub fn live_by_accounts(conn: &mut AnyConnection, ids: &[AccountId], per_account: usize) -> QueryResult<Vec<Contact>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let mut cond = sql::Sql::new(conn.backend());
        cond.push(
            "id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY account_id \
             ORDER BY created_at DESC, id DESC) AS rn FROM contacts WHERE archived_at IS NULL AND account_id IN (",
        );
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                cond.push(", ");
            }
            cond.bind(id.0);
        }
        cond.push(")) ranked WHERE rn <= ");
        cond.bind(i64::try_from(per_account).unwrap_or(i64::MAX));
        cond.push(")");
        let rows: Vec<ContactRow> = contacts::table
            .select(contacts::all_columns)
            .into_boxed::<MultiBackend>()
            .filter(cond)
            .order((contacts::created_at.desc(), contacts::id.desc()))
            .load(conn)?;
        out.extend(rows.into_iter().map(Contact::from));
    }
    with_external_ids(conn, out)
}

/// One page of a list, plus the total when asked.
pub fn list(conn: &mut AnyConnection, q: &ListQuery) -> Result<Page<Contact>, ContactError> {
    let parts = sql::list_sql(q, SEARCH, conn.backend())?;
    let rows: Vec<ContactRow> = contacts::table
        .select(contacts::all_columns)
        .into_boxed::<MultiBackend>()
        .filter(parts.page)
        .order(parts.order)
        .limit(i64::from(q.limit) + 1)
        .load(conn)?;
    let items: Vec<Contact> = rows.into_iter().map(Contact::from).collect();
    let (items, next) = sql::paginate(items, q, sort_value, |c| c.id.0);
    let items = if q.skip_external_ids { items } else { with_external_ids(conn, items)? };
    let total = if q.count {
        Some(contacts::table.into_boxed::<MultiBackend>().filter(parts.matching).count().get_result::<i64>(conn)?)
    } else {
        None
    };
    Ok(Page { data: items, next_cursor: next, total })
}
