//! Storage of idempotency keys: the first answer to a keyed request, per caller.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::conn::AnyConnection;
use crate::schema::idempotency_keys as k;
use crate::types::DbJson;

/// A stored key.
#[derive(Debug, Clone, Queryable)]
pub struct StoredKey {
    pub subject: String,
    pub idem_key: String,
    pub request_hash: String,
    /// `None` while the first request is still running.
    pub status: Option<i32>,
    pub response_headers: Option<DbJson>,
    pub response_body: Option<String>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim {
    /// The key is new (or expired, or abandoned): the caller runs the request. The token
    /// (the claim's creation time) must be passed to `complete` / `release`, so a slow former
    /// owner cannot overwrite a newer claim.
    Acquired(NaiveDateTime),
    /// The key exists.
    Existing(StoredKey),
}

fn load(conn: &mut AnyConnection, subject: &str, key: &str) -> QueryResult<Option<StoredKey>> {
    k::table.filter(k::subject.eq(subject)).filter(k::idem_key.eq(key)).first::<StoredKey>(conn).optional()
}

/// Claims `key` for a request with `hash`. Keys in progress for longer than `abandon_after`
/// (a crashed request) are taken over.
pub fn claim(
    conn: &mut AnyConnection,
    subject: &str,
    key: &str,
    hash: &str,
    ttl: chrono::Duration,
    abandon_after: chrono::Duration,
) -> QueryResult<Claim> {
    let now = crate::now();
    if let Some(existing) = load(conn, subject, key)? {
        let expired = existing.expires_at <= now;
        let abandoned = existing.status.is_none() && existing.created_at + abandon_after <= now;
        if !expired && !abandoned {
            return Ok(Claim::Existing(existing));
        }
        // Only the claimant that deletes this exact stale row may take the key over.
        let gone = diesel::delete(
            k::table
                .filter(k::subject.eq(subject))
                .filter(k::idem_key.eq(key))
                .filter(k::created_at.eq(existing.created_at)),
        )
        .execute(conn)?;
        if gone == 0 {
            return match load(conn, subject, key)? {
                Some(s) => Ok(Claim::Existing(s)),
                None => Ok(Claim::Existing(existing)),
            };
        }
    }
    let inserted = diesel::insert_into(k::table)
        .values((
            k::subject.eq(subject),
            k::idem_key.eq(key),
            k::request_hash.eq(hash),
            k::created_at.eq(now),
            k::expires_at.eq(now + ttl),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(Claim::Acquired(now)),
        Err(e) if crate::pool::is_unique_violation(&e) => match load(conn, subject, key)? {
            Some(s) => Ok(Claim::Existing(s)),
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Stores the answer of a claimed key.
pub fn complete(
    conn: &mut AnyConnection,
    subject: &str,
    key: &str,
    token: NaiveDateTime,
    status: u16,
    headers: serde_json::Value,
    body: &str,
) -> QueryResult<()> {
    diesel::update(k::table.filter(k::subject.eq(subject)).filter(k::idem_key.eq(key)).filter(k::created_at.eq(token)))
        .set((
            k::status.eq(Some(i32::from(status))),
            k::response_headers.eq(Some(DbJson(headers))),
            k::response_body.eq(Some(body)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Forgets a claimed key (the request failed in a way a retry may fix).
pub fn release(conn: &mut AnyConnection, subject: &str, key: &str, token: NaiveDateTime) -> QueryResult<()> {
    diesel::delete(
        k::table
            .filter(k::subject.eq(subject))
            .filter(k::idem_key.eq(key))
            .filter(k::created_at.eq(token))
            .filter(k::status.is_null()),
    )
    .execute(conn)
    .map(|_| ())
}

/// Deletes expired keys; returns how many.
pub fn purge_expired(conn: &mut AnyConnection) -> QueryResult<usize> {
    diesel::delete(k::table.filter(k::expires_at.le(crate::now()))).execute(conn)
}
