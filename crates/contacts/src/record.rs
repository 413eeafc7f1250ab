//! The domain's rules for contacts (`impl Record`), and the multi-row update batches use on
//! PostgreSQL; the row and the catalog are derived on the model (`#[derive(Stored)]`).

use crm_core::ids::{AccountId, ContactId};
use crm_core::{Actor, FieldErrors, Scope, Timestamp};
use crm_db::AnyConnection;
use crm_db::types::DbUuid;
use crm_records::custom::{CustomResource, validated};
use crm_records::{Record, RecordError, Stored};
use diesel::prelude::*;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::model::{Contact, ContactInput, ContactPatch, ContactRow, EmailConsent};

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
        .bind::<Array<Bool>, _>(col(&rows, |r| r.do_not_mail))
        .bind::<Array<Bool>, _>(col(&rows, |r| r.marketing_opt_out))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.street.clone()))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.city.clone()))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.region.clone()))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.postal_code.clone()))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.country.clone()))
        .bind::<Array<Nullable<Double>>, _>(col(&rows, |r| r.latitude))
        .bind::<Array<Nullable<Double>>, _>(col(&rows, |r| r.longitude))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.location_source.clone()))
        .bind::<Array<Nullable<Text>>, _>(col(&rows, |r| r.location_accuracy.clone()))
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
    email_consent_at = v.email_consent_at, do_not_call = v.do_not_call, do_not_mail = v.do_not_mail, \
    marketing_opt_out = v.marketing_opt_out, street = v.street, \
    city = v.city, region = v.region, postal_code = v.postal_code, country = v.country, \
    latitude = v.latitude, longitude = v.longitude, location_source = v.location_source, \
    location_accuracy = v.location_accuracy, tags = v.tags, custom_fields = v.custom_fields, \
    version = v.version, created_at = v.created_at, updated_at = v.updated_at, archived_at = v.archived_at \
    FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
    $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33) AS v(id, expected, first_name, last_name, email, \
    emails, phone, phones, title, department, account_id, owner_id, lifecycle_stage, email_consent, \
    email_consent_at, do_not_call, do_not_mail, marketing_opt_out, street, city, region, postal_code, country, \
    latitude, longitude, location_source, location_accuracy, tags, \
    custom_fields, version, created_at, updated_at, archived_at) \
    WHERE c.id = v.id AND c.version = v.expected";

crm_records::impl_located!(Contact, ContactInput);

impl Record for Contact {
    type Input = ContactInput;
    type Patch = ContactPatch;

    const READ: Scope = Scope::ContactsRead;
    const WRITE: Scope = Scope::ContactsWrite;

    fn owner(&self) -> Option<uuid::Uuid> {
        self.owner_id.map(|u| u.0)
    }
    // Contacts have no `after_write`: batches write their rows a group at a time.
    const DEFER_BATCH_WRITES: bool = true;

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
        let custom = input.custom_fields.take();
        let (mut i, custom) = validated(
            conn,
            CustomResource::Contacts,
            input.normalize_over(prev),
            custom,
            prev.map(|p| &p.custom_fields),
        )?;
        i.custom_fields = Some(custom);
        crm_records::location::relocate(conn, entity, &mut i, prev)?;
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

    const UNIQUE_FIELDS: &'static [&'static str] = &["email"];

    fn unique_key(_field: &str, raw: &str) -> Option<String> {
        crm_core::values::parse_email("email", raw).ok()
    }

    fn update_many_if_version(conn: &mut AnyConnection, items: &[(Self, i64)]) -> QueryResult<bool> {
        update_many(conn, items)
    }

    /// A merged contact stays reachable at every address and number the losers had (as
    /// further ones), and keeps the strictest consent of them all unless the caller chose.
    fn merge_values(
        survivor: &Value,
        losers: &[Value],
        choices: &BTreeMap<String, uuid::Uuid>,
        patch: &mut Map<String, Value>,
    ) {
        let all = || std::iter::once(survivor).chain(losers);
        for (primary, further) in [("email", "emails"), ("phone", "phones")] {
            let kept = patch.get(primary).or(survivor.get(primary)).cloned().unwrap_or(Value::Null);
            let mut list: Vec<Value> =
                patch.get(further).or(survivor.get(further)).and_then(Value::as_array).cloned().unwrap_or_default();
            for v in all().filter_map(|r| r.get(primary)).filter(|v| !v.is_null()) {
                if !list.contains(v) {
                    list.push(v.clone());
                }
            }
            list.retain(|v| *v != kept);
            if Some(&Value::Array(list.clone())) != survivor.get(further) {
                patch.insert(further.into(), Value::Array(list));
            }
        }
        for flag in ["do_not_call", "do_not_mail", "marketing_opt_out"] {
            if !choices.contains_key(flag) && all().any(|r| r.get(flag) == Some(&Value::Bool(true))) {
                patch.insert(flag.into(), Value::Bool(true));
            }
        }
        let opted_out = Value::from(EmailConsent::OptedOut.as_str());
        if !choices.contains_key("email_consent") && all().any(|r| r.get("email_consent") == Some(&opted_out)) {
            patch.insert("email_consent".into(), opted_out);
        }
    }
}

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
