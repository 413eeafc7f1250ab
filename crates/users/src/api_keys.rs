//! API keys: long-lived credentials for integrators' scripts, created by an administrator.
//!
//! A key is `crm_live_` followed by 43 random characters (256 bits). Only its SHA-256 is kept
//! (the `key_hash` column, outside the record): the key itself is in the answer that creates it
//! and nowhere else, not in the change feed nor the history. A caller presents it as
//! `Authorization: Bearer crm_live_…` or `X-Api-Key: crm_live_…`; [`authenticate`] looks it up
//! on every request, so archiving a key (revoking it) takes effect at once on every instance.
//! A key carries its own scopes, never more than its creator holds, and optionally an expiry,
//! the networks it may be used from and its own rate limit.

use std::net::IpAddr;

use crm_core::external::parse_external_ids;
use crm_core::ids::{ApiKeyId, EntityId};
use crm_core::values::{self, clean};
use crm_core::{Actor, ExternalId, FieldErrors, Scope, Timestamp};
use crm_db::AnyConnection;
use crm_db::schema::api_keys;
use crm_db::types::DbUuid;
use crm_records::{Record, RecordError, Stored};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What every key starts with (secret scanners can recognise it).
pub const KEY_PREFIX: &str = "crm_live_";

/// An API key as clients see it: never the key itself, except once in the answer that creates
/// it.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = api_keys)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "ApiKeyFields", visible = false))]
pub struct ApiKey {
    /// The record's id (UUIDv7: time-ordered). Calls made with the key act as `api_key:<id>`
    /// (in the history, the change feed and `Idempotency-Key` scoping).
    pub id: ApiKeyId,
    /// What the key is for, e.g. `ERP nightly sync`.
    #[filter(sort)]
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// What the key may do (`contacts:write`, …): a subset of its creator's scopes.
    #[filter]
    pub scopes: Vec<String>,
    /// After this moment the key is refused (null: it does not expire).
    #[filter(sort)]
    pub expires_at: Option<Timestamp>,
    /// The addresses or networks (CIDR) the key may be used from; empty for anywhere.
    pub allowed_ips: Vec<String>,
    /// Requests per minute this key may make (null: the server's limit for every caller).
    pub rate_limit_per_minute: Option<i64>,
    /// The key's first characters (`crm_live_AbCd1234`), to recognise it in a secret store.
    #[filter]
    pub key_prefix: String,
    /// When the key was last used (updated at most once a minute per instance, without a new
    /// version).
    #[filter(sort)]
    pub last_used_at: Option<Timestamp>,
    /// The address it was last used from.
    pub last_used_ip: Option<String>,
    /// The key (`crm_live_…`): present only in the answer that creates it. Keep it; it is never
    /// shown again.
    #[stored(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Free labels, lower case, without duplicates.
    #[filter]
    pub tags: Vec<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the key was revoked (archived); null while it is live. A revoked key is refused at
    /// once and cannot be restored.
    pub archived_at: Option<Timestamp>,
}

/// A new API key, or the whole writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = ApiKeyPatch, record = ApiKey)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ApiKeyInput {
    /// What the key is for, 1 to 200 characters.
    #[cfg_attr(feature = "openapi", schema(example = "ERP nightly sync"))]
    pub name: Option<String>,
    /// Free text, at most 500 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// At least one scope, each held by the caller that sets it.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    #[cfg_attr(feature = "openapi", schema(example = json!(["contacts:read", "contacts:write"])))]
    pub scopes: Vec<String>,
    /// When the key stops working (in the future when set).
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// Addresses or networks in CIDR form (`203.0.113.7`, `10.20.0.0/16`), at most 100; empty
    /// for anywhere.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    #[cfg_attr(feature = "openapi", schema(example = json!(["203.0.113.0/24"])))]
    pub allowed_ips: Vec<String>,
    /// Requests per minute, 1 to 1,000,000 (null: the server's limit).
    #[serde(default)]
    pub rate_limit_per_minute: Option<i64>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    /// Ids in other systems, each unique among API keys.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// The scopes a key may be given by `actor`: known ones it holds itself (or that the key already
/// had), without duplicates.
fn check_scopes(actor: &Actor, raw: &[String], already: &[String], errs: &mut FieldErrors) -> Vec<String> {
    if raw.len() > Scope::ALL.len() * 2 {
        errs.add("scopes", "too_many", format!("at most {} scopes", Scope::ALL.len()));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let s = s.trim();
        match Scope::parse(s) {
            None => {
                let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                errs.add(
                    &format!("scopes[{i}]"),
                    "invalid_value",
                    format!("`{s}` is not a scope; scopes: {}", known.join(", ")),
                );
            }
            Some(scope) if !actor.has(scope) && !already.iter().any(|a| a == scope.as_str()) => errs.add(
                &format!("scopes[{i}]"),
                "not_granted",
                format!("`{s}` is not among your own scopes: a key never gets more than its creator holds"),
            ),
            Some(scope) => {
                let s = scope.as_str().to_string();
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    if out.is_empty() && errs.is_empty() {
        errs.add("scopes", "required", "at least one scope, e.g. `contacts:read`");
    }
    out
}

/// Parses addresses and networks into CIDR form (a bare address is one host).
fn check_networks(raw: &[String], errs: &mut FieldErrors) -> Vec<String> {
    if raw.len() > 100 {
        errs.add("allowed_ips", "too_many", "at most 100 addresses or networks");
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, n) in raw.iter().enumerate() {
        let n = n.trim();
        let parsed = n.parse::<ipnet::IpNet>().or_else(|_| n.parse::<IpAddr>().map(ipnet::IpNet::from));
        match parsed {
            Ok(net) => {
                let s = net.trunc().to_string();
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            Err(_) => errs.add(
                &format!("allowed_ips[{i}]"),
                "invalid_value",
                format!("`{n}` is not an IP address or a network in CIDR form (`10.20.0.0/16`)"),
            ),
        }
    }
    out
}

impl ApiKeyInput {
    fn normalize(mut self, actor: &Actor, prev: Option<&ApiKey>, now: Timestamp) -> Result<ApiKeyInput, RecordError> {
        let mut errs = FieldErrors::new();
        self.name = self.name.as_deref().and_then(clean);
        match &self.name {
            None => errs.add("name", "required", "an API key needs a name"),
            Some(n) if n.chars().count() > 200 => errs.add("name", "too_long", "at most 200 characters"),
            Some(_) => {}
        }
        self.description = self.description.as_deref().and_then(clean);
        if self.description.as_ref().is_some_and(|d| d.chars().count() > 500) {
            errs.add("description", "too_long", "at most 500 characters");
        }
        // Scopes the key already had may stay when someone lacking them changes it.
        self.scopes = check_scopes(actor, &self.scopes, prev.map_or(&[][..], |p| &p.scopes), &mut errs);
        if self.expires_at != prev.and_then(|p| p.expires_at)
            && let Some(at) = self.expires_at
            && at.0 <= now.0
        {
            errs.add("expires_at", "in_the_past", "an expiry must be in the future");
        }
        self.allowed_ips = check_networks(&self.allowed_ips, &mut errs);
        if let Some(n) = self.rate_limit_per_minute
            && !(1..=1_000_000).contains(&n)
        {
            errs.add("rate_limit_per_minute", "out_of_range", "1 to 1,000,000 requests per minute");
        }
        self.tags = errs.take(values::parse_tags("tags", &self.tags)).unwrap_or_default();
        self.external_ids = parse_external_ids("external_ids", std::mem::take(&mut self.external_ids), &mut errs);
        errs.into_result().map_err(|errors| RecordError::Invalid { entity: ApiKey::ENTITY, errors })?;
        Ok(self)
    }
}

/// A fresh key: the prefix and 32 random bytes in URL-safe base64.
fn new_key() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    format!("{KEY_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The SHA-256 of a key, in hex: what is stored and looked up. Keys are 256 random bits, so a
/// fast hash is enough (nothing to guess from it); a slow password hash would cost every call.
pub fn key_hash(key: &str) -> String {
    Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Record for ApiKey {
    type Input = ApiKeyInput;
    type Patch = ApiKeyPatch;

    const READ: Scope = Scope::ApiKeysRead;
    const WRITE: Scope = Scope::ApiKeysWrite;
    const DEFAULT_SORT: &'static str = "name";

    fn build(
        _conn: &mut AnyConnection,
        actor: &Actor,
        id: ApiKeyId,
        input: ApiKeyInput,
        prev: Option<&Self>,
        now: Timestamp,
    ) -> Result<Self, RecordError> {
        let i = input.normalize(actor, prev, now)?;
        let mut k = prev.cloned().unwrap_or_else(<ApiKey as Stored>::blank);
        k.id = id;
        k.name = i.name.unwrap_or_default();
        k.description = i.description;
        k.scopes = i.scopes;
        k.expires_at = i.expires_at;
        k.allowed_ips = i.allowed_ips;
        k.rate_limit_per_minute = i.rate_limit_per_minute;
        k.tags = i.tags;
        k.external_ids = i.external_ids;
        if prev.is_none() {
            let key = new_key();
            k.key_prefix = key[..KEY_PREFIX.len() + 8].to_string();
            k.key = Some(key);
        }
        Ok(k)
    }

    /// A new key's hash is stored beside its row.
    fn after_write(
        conn: &mut AnyConnection,
        _actor: &Actor,
        before: Option<&Self>,
        after: &Self,
    ) -> Result<(), RecordError> {
        if before.is_none()
            && let Some(key) = &after.key
        {
            diesel::update(api_keys::table.find(DbUuid(after.id.uuid())))
                .set(api_keys::key_hash.eq(key_hash(key)))
                .execute(conn)?;
        }
        Ok(())
    }

    /// A revoked key stays revoked: make a new one.
    fn check_restore(_conn: &mut AnyConnection, _record: &Self) -> Result<(), RecordError> {
        Err(RecordError::Conflict {
            entity: Self::ENTITY,
            code: "API_KEY_REVOKED",
            reason: "a revoked API key cannot be restored; create a new key".into(),
        })
    }

    /// The key never reaches the change feed or the history.
    fn redact(json: &mut serde_json::Value) {
        if let Some(o) = json.as_object_mut() {
            o.remove("key");
        }
    }
}

/// Why a presented key was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No key has this value (or it was malformed).
    Unknown,
    Revoked(ApiKeyId),
    Expired(ApiKeyId),
    /// The key may not be used from this address.
    Address(ApiKeyId, IpAddr),
}

impl Refusal {
    /// The key refused, when the value presented is one.
    pub fn key(&self) -> Option<ApiKeyId> {
        match self {
            Refusal::Unknown => None,
            Refusal::Revoked(id) | Refusal::Expired(id) | Refusal::Address(id, _) => Some(*id),
        }
    }

    /// Why, as the audit log says it.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Unknown => "unknown",
            Refusal::Revoked(_) => "revoked",
            Refusal::Expired(_) => "expired",
            Refusal::Address(..) => "address_not_allowed",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unknown => f.write_str("the API key is not valid"),
            Refusal::Revoked(_) => f.write_str("the API key was revoked"),
            Refusal::Expired(_) => f.write_str("the API key has expired"),
            Refusal::Address(_, ip) => write!(f, "the API key may not be used from {ip}"),
        }
    }
}

/// A key that was accepted: the caller it makes and its own rate limit.
#[derive(Debug)]
pub struct Grant {
    pub actor: Actor,
    pub key: ApiKey,
}

/// Whether `value` has the form of a key (callers tell keys from JWTs by it).
pub fn looks_like_key(value: &str) -> bool {
    value.starts_with(KEY_PREFIX)
}

/// Looks a presented key up and checks it: live, not expired, used from an allowed address.
/// One statement, by a unique index.
pub fn authenticate(
    conn: &mut AnyConnection,
    presented: &str,
    from: Option<IpAddr>,
    now: Timestamp,
) -> Result<Result<Grant, Refusal>, RecordError> {
    if !looks_like_key(presented) || presented.len() > 100 {
        return Ok(Err(Refusal::Unknown));
    }
    // One statement: the key's row by its hash (its external ids are not needed here).
    let row: Option<ApiKeyRow> = api_keys::table
        .filter(api_keys::key_hash.eq(key_hash(presented)))
        .select(<ApiKeyRow as diesel::SelectableHelper<crm_db::MultiBackend>>::as_select())
        .first(conn)
        .optional()?;
    let Some(key) = row.map(ApiKey::from) else {
        return Ok(Err(Refusal::Unknown));
    };
    if key.archived_at.is_some() {
        return Ok(Err(Refusal::Revoked(key.id)));
    }
    if key.expires_at.is_some_and(|at| at.0 <= now.0) {
        return Ok(Err(Refusal::Expired(key.id)));
    }
    if !key.allowed_ips.is_empty() {
        let allowed = from.is_some_and(|ip| {
            key.allowed_ips.iter().filter_map(|n| n.parse::<ipnet::IpNet>().ok()).any(|n| n.contains(&ip))
        });
        if !allowed {
            return Ok(Err(match from {
                Some(ip) => Refusal::Address(key.id, ip),
                None => Refusal::Unknown,
            }));
        }
    }
    let mut actor = Actor::new(format!("api_key:{}", key.id), [], key.scopes.iter().map(String::as_str));
    actor.name = Some(key.name.clone());
    actor.integration = true;
    actor.ip = from;
    Ok(Ok(Grant { actor, key }))
}

/// A key's use is audited when it comes from another address than the last, or after this
/// long without one.
const QUIET: chrono::Duration = chrono::Duration::hours(1);

/// Notes a key's use (without a new version: this is bookkeeping, not a change of the key), and
/// audits it (`api_key.used`) when it comes from a new address or after an hour's quiet.
/// `grant.key` is the key as it was before this use.
pub fn touch(conn: &mut AnyConnection, grant: &Grant, at: Timestamp) -> Result<(), RecordError> {
    let key = &grant.key;
    let from = grant.actor.ip.map(|ip| ip.to_string());
    diesel::update(api_keys::table.find(DbUuid(key.id.uuid())))
        .set((api_keys::last_used_at.eq(at.0.naive_utc()), api_keys::last_used_ip.eq(from.as_deref())))
        .execute(conn)?;
    let quiet = key.last_used_at.is_none_or(|last| at.0 - last.0 >= QUIET);
    if quiet || key.last_used_ip != from {
        let details = serde_json::json!({
            "name": key.name,
            "previous_use_at": key.last_used_at,
            "previous_ip": key.last_used_ip,
        });
        crm_events::audit::append(conn, &grant.actor, "api_key.used", Some(("api_key", key.id.uuid())), details)?;
    }
    Ok(())
}

/// Audits the refusal of a known key (`api_key.refused`: revoked, expired, or from an address
/// it may not be used from), as the key's own actor, from `from`.
pub fn note_refusal(conn: &mut AnyConnection, refusal: &Refusal, from: Option<IpAddr>) -> Result<(), RecordError> {
    let Some(id) = refusal.key() else { return Ok(()) };
    let mut actor = Actor::new(format!("api_key:{id}"), [], []);
    actor.ip = from;
    let details = serde_json::json!({ "reason": refusal.reason() });
    crm_events::audit::append(conn, &actor, "api_key.refused", Some(("api_key", id.uuid())), details)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hashed() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.len() == KEY_PREFIX.len() + 43, "{a}");
        assert_eq!(key_hash(&a).len(), 64);
        assert_ne!(key_hash(&a), key_hash(&b));
        // The published SHA-256 of "abc".
        assert_eq!(key_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn scopes_are_bounded_by_the_creator() {
        let sales = Actor::new("u", ["sales"], []);
        let mut errs = FieldErrors::new();
        let ok = check_scopes(&sales, &["contacts:write".into(), " contacts:write".into()], &[], &mut errs);
        assert!(errs.is_empty());
        assert_eq!(ok, ["contacts:write"]);
        let mut errs = FieldErrors::new();
        check_scopes(&sales, &["webhooks:write".into(), "nope".into()], &[], &mut errs);
        let codes: Vec<String> = errs.into_result().unwrap_err().0.iter().map(|e| e.code.clone()).collect();
        assert_eq!(codes, ["not_granted", "invalid_value"]);
        // A scope the key already has may stay when someone without it changes the key.
        let mut errs = FieldErrors::new();
        let kept = check_scopes(&sales, &["webhooks:write".into()], &["webhooks:write".into()], &mut errs);
        assert!(errs.is_empty());
        assert_eq!(kept, ["webhooks:write"]);
    }

    #[test]
    fn networks_are_written_in_cidr_form() {
        let mut errs = FieldErrors::new();
        let nets = check_networks(&["203.0.113.7".into(), "10.20.30.40/16".into(), "::1".into()], &mut errs);
        assert!(errs.is_empty());
        assert_eq!(nets, ["203.0.113.7/32", "10.20.0.0/16", "::1/128"]);
        let mut errs = FieldErrors::new();
        check_networks(&["10.0.0.0/33".into()], &mut errs);
        assert!(!errs.is_empty());
    }
}
