//! Restrictions of processing (a privacy request of type `restriction`): the person's data is
//! kept and still read and corrected, but left out of what processes it beyond that. Campaigns
//! neither pick nor message a restricted contact, and analyses leave it out (no figures, no
//! model fit, `409 PROCESSING_RESTRICTED` on demand). A restriction lasts until a request of
//! type `lift_restriction`.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use crm_db::AnyConnection;
use crm_db::schema::processing_restrictions as r;
use crm_db::types::DbUuid;
use diesel::prelude::*;
use serde::Serialize;

/// A person whose data may only be stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Restriction {
    /// `contact` or `lead`.
    pub person: String,
    /// The contact's or lead's id.
    pub person_id: uuid::Uuid,
    /// The privacy request that restricted it.
    pub request_id: uuid::Uuid,
    /// Why, as the request said.
    pub reason: Option<String>,
    /// Since when (UTC).
    pub since: chrono::DateTime<chrono::Utc>,
}

/// Restricts the processing of a person (`("contact", id)`); false when it already was.
pub fn restrict(
    conn: &mut AnyConnection,
    person: (&str, uuid::Uuid),
    request: uuid::Uuid,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    if is_restricted(conn, person)? {
        return Ok(false);
    }
    diesel::insert_into(r::table)
        .values((
            r::person.eq(person.0),
            r::person_id.eq(DbUuid(person.1)),
            r::request_id.eq(DbUuid(request)),
            r::reason.eq(reason),
            r::since.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Lifts a person's restriction; false when there was none.
pub fn lift(conn: &mut AnyConnection, person: (&str, uuid::Uuid)) -> QueryResult<bool> {
    let n = diesel::delete(r::table.filter(r::person.eq(person.0)).filter(r::person_id.eq(DbUuid(person.1))))
        .execute(conn)?;
    Ok(n > 0)
}

/// Whether a person's processing is restricted.
pub fn is_restricted(conn: &mut AnyConnection, person: (&str, uuid::Uuid)) -> QueryResult<bool> {
    let found: Option<String> = r::table
        .filter(r::person.eq(person.0))
        .filter(r::person_id.eq(DbUuid(person.1)))
        .select(r::person)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// The contacts whose processing is restricted.
pub fn restricted_contacts(conn: &mut AnyConnection) -> QueryResult<HashSet<uuid::Uuid>> {
    let ids: Vec<DbUuid> = r::table.filter(r::person.eq("contact")).select(r::person_id).load(conn)?;
    Ok(ids.into_iter().map(|u| u.0).collect())
}

/// The restrictions in force, newest first (at most `limit`).
pub fn list(conn: &mut AnyConnection, limit: i64) -> QueryResult<Vec<Restriction>> {
    let rows: Vec<(String, DbUuid, DbUuid, Option<String>, NaiveDateTime)> = r::table
        .select((r::person, r::person_id, r::request_id, r::reason, r::since))
        .order((r::since.desc(), r::person_id.desc()))
        .limit(limit)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(person, id, request, reason, since)| Restriction {
            person,
            person_id: id.0,
            request_id: request.0,
            reason,
            since: since.and_utc(),
        })
        .collect())
}

/// Carries a restriction over to the contact a person's record became (`("lead", id)` of a
/// converted lead, `("contact", id)` of a merged contact): the person stays restricted. True
/// when the contact became restricted here.
pub fn reassign(conn: &mut AnyConnection, from: (&str, uuid::Uuid), contact: uuid::Uuid) -> QueryResult<bool> {
    let found: Option<(DbUuid, Option<String>)> = r::table
        .filter(r::person.eq(from.0))
        .filter(r::person_id.eq(DbUuid(from.1)))
        .select((r::request_id, r::reason))
        .first(conn)
        .optional()?;
    let Some((request, reason)) = found else { return Ok(false) };
    restrict(conn, ("contact", contact), request.0, reason.as_deref(), crm_db::now())
}
