//! Pairs of records and how alike they are: the rules, the blocks candidates come from, and a
//! record's duplicates.

use std::collections::HashSet;

use crm_core::{Actor, Scope, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::{accounts, contacts};
use crm_db::types::{DbJson, DbUuid};
use crm_records::RecordError;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::normalize;
use crate::settings::{DuplicateSettings, Rule};

wire_enum!(
    /// The resources duplicates are looked for in.
    DuplicateResource {
        Contacts = "contacts",
        Accounts = "accounts",
    }
);

impl DuplicateResource {
    pub fn read_scope(self) -> Scope {
        match self {
            DuplicateResource::Contacts => Scope::ContactsRead,
            DuplicateResource::Accounts => Scope::AccountsRead,
        }
    }

    /// The entity name of its records.
    pub fn entity(self) -> &'static str {
        match self {
            DuplicateResource::Contacts => "contact",
            DuplicateResource::Accounts => "account",
        }
    }
}

/// A rule a pair matched, and how alike the compared values were (1 for exact rules).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct RuleMatch {
    /// `contact_email`, `contact_phone`, `contact_name_account`, `contact_name_city`,
    /// `account_domain` or `account_name_country`.
    pub rule: String,
    pub similarity: f64,
}

/// Another record that may be the same, with the evidence.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "DuplicateCandidate"))]
pub struct Candidate {
    pub id: Uuid,
    /// 0 to 1: `1 − Π(1 − weight × similarity)` over the rules matched.
    pub score: f64,
    pub rules: Vec<RuleMatch>,
    /// Its name as written.
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub domain: Option<String>,
    pub country: Option<String>,
}

/// What matching needs of a contact.
#[derive(Clone, Debug)]
pub struct Person {
    pub id: Uuid,
    pub display: String,
    /// Full name folded.
    pub name: String,
    /// Family name folded.
    pub last: String,
    /// Family name as written.
    pub last_name: Option<String>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub account_id: Option<Uuid>,
    pub city: Option<String>,
    pub country: Option<String>,
}

impl Person {
    /// Where it lives, folded (`seoul|KR`).
    pub fn place(&self) -> Option<String> {
        Some(format!("{}|{}", normalize::fold(self.city.as_deref()?), self.country.as_deref().unwrap_or_default()))
    }
}

/// What matching needs of an account.
#[derive(Clone, Debug)]
pub struct Org {
    pub id: Uuid,
    pub display: String,
    /// Name folded, legal form dropped.
    pub name: String,
    pub domain: Option<String>,
    pub country: Option<String>,
}

type PersonRow = (
    DbUuid,
    Option<String>,
    Option<String>,
    Option<String>,
    DbJson,
    Option<String>,
    DbJson,
    Option<DbUuid>,
    Option<String>,
    Option<String>,
);

macro_rules! person_columns {
    () => {
        (
            contacts::id,
            contacts::first_name,
            contacts::last_name,
            contacts::email,
            contacts::emails,
            contacts::phone,
            contacts::phones,
            contacts::account_id,
            contacts::city,
            contacts::country,
        )
    };
}

fn strings(v: &serde_json::Value) -> impl Iterator<Item = String> + '_ {
    v.as_array().into_iter().flatten().filter_map(|x| x.as_str().map(str::to_string))
}

fn person(r: PersonRow) -> Person {
    let (id, first, last, email, emails, phone, phones, account_id, city, country) = r;
    let display = [first.as_deref(), last.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let mut all_emails: Vec<String> = email.into_iter().chain(strings(&emails.0)).collect();
    all_emails.dedup();
    let mut all_phones: Vec<String> = phone.into_iter().chain(strings(&phones.0)).collect();
    all_phones.dedup();
    Person {
        id: id.0,
        display,
        name: normalize::person(first.as_deref(), last.as_deref()),
        last: normalize::fold(last.as_deref().unwrap_or_default()),
        last_name: last,
        emails: all_emails,
        phones: all_phones,
        account_id: account_id.map(|a| a.0),
        city,
        country,
    }
}

/// Live contacts after `after` in id order (a page of the scan), or those of `ids`.
pub fn people(
    conn: &mut AnyConnection,
    after: Option<Uuid>,
    ids: Option<&[Uuid]>,
    limit: i64,
) -> QueryResult<Vec<Person>> {
    let mut q = contacts::table
        .filter(contacts::archived_at.is_null())
        .select(person_columns!())
        .order(contacts::id)
        .limit(limit)
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(contacts::id.gt(DbUuid(a)));
    }
    if let Some(ids) = ids {
        q = q.filter(contacts::id.eq_any(ids.iter().map(|u| DbUuid(*u)).collect::<Vec<_>>()));
    }
    Ok(q.load::<PersonRow>(conn)?.into_iter().map(person).collect())
}

/// Live accounts after `after` in id order, or those of `ids`.
pub fn orgs(conn: &mut AnyConnection, after: Option<Uuid>, ids: Option<&[Uuid]>, limit: i64) -> QueryResult<Vec<Org>> {
    let mut q = accounts::table
        .filter(accounts::archived_at.is_null())
        .select((accounts::id, accounts::name, accounts::domain, accounts::country))
        .order(accounts::id)
        .limit(limit)
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(accounts::id.gt(DbUuid(a)));
    }
    if let Some(ids) = ids {
        q = q.filter(accounts::id.eq_any(ids.iter().map(|u| DbUuid(*u)).collect::<Vec<_>>()));
    }
    let rows: Vec<(DbUuid, String, Option<String>, Option<String>)> = q.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, domain, country)| Org {
            id: id.0,
            name: normalize::company(&name),
            display: name,
            domain,
            country,
        })
        .collect())
}

/// Adds a rule's evidence.
fn add(rules: &mut Vec<RuleMatch>, name: &str, rule: Rule, similarity: f64) {
    if rule.enabled && rule.weight > 0.0 {
        rules.push(RuleMatch { rule: name.to_string(), similarity: (similarity * 10_000.0).round() / 10_000.0 });
    }
}

/// The combined score of the rules matched.
pub fn combine(s: &DuplicateSettings, rules: &[RuleMatch]) -> f64 {
    let weight = |name: &str| match name {
        "contact_email" => s.contact_email.weight,
        "contact_phone" => s.contact_phone.weight,
        "contact_name_account" => s.contact_name_account.weight,
        "contact_name_city" => s.contact_name_city.weight,
        "account_domain" => s.account_domain.weight,
        "account_name_country" => s.account_name_country.weight,
        _ => 0.0,
    };
    let miss: f64 = rules.iter().map(|r| 1.0 - weight(&r.rule) * r.similarity).product();
    ((1.0 - miss) * 10_000.0).round() / 10_000.0
}

/// How two contacts match: the rules and the score, when it counts.
pub fn match_people(s: &DuplicateSettings, a: &Person, b: &Person) -> Option<(f64, Vec<RuleMatch>)> {
    let mut rules = Vec::new();
    if a.emails.iter().any(|e| b.emails.contains(e)) {
        add(&mut rules, "contact_email", s.contact_email, 1.0);
    }
    if a.phones.iter().any(|p| b.phones.contains(p)) {
        add(&mut rules, "contact_phone", s.contact_phone, 1.0);
    }
    let sim = normalize::similarity(&a.name, &b.name);
    if sim >= s.min_name_similarity {
        if a.account_id.is_some() && a.account_id == b.account_id {
            add(&mut rules, "contact_name_account", s.contact_name_account, sim);
        }
        if !a.last.is_empty() && a.last == b.last && a.place().is_some() && a.place() == b.place() {
            add(&mut rules, "contact_name_city", s.contact_name_city, sim);
        }
    }
    let score = combine(s, &rules);
    (!rules.is_empty() && score >= s.min_score).then_some((score, rules))
}

/// How two accounts match.
pub fn match_orgs(s: &DuplicateSettings, a: &Org, b: &Org) -> Option<(f64, Vec<RuleMatch>)> {
    let mut rules = Vec::new();
    if a.domain.is_some() && a.domain == b.domain {
        add(&mut rules, "account_domain", s.account_domain, 1.0);
    }
    if a.country == b.country {
        let sim = normalize::similarity(&a.name, &b.name);
        if sim >= s.min_name_similarity {
            add(&mut rules, "account_name_country", s.account_name_country, sim);
        }
    }
    let score = combine(s, &rules);
    (!rules.is_empty() && score >= s.min_score).then_some((score, rules))
}

fn candidate_of_person(p: Person, score: f64, rules: Vec<RuleMatch>) -> Candidate {
    Candidate {
        id: p.id,
        score,
        rules,
        name: p.display,
        email: p.emails.into_iter().next(),
        phone: p.phones.into_iter().next(),
        city: p.city,
        domain: None,
        country: p.country,
    }
}

/// The contacts that may be the same person as `id`, best first. Candidates are those sharing
/// an email or a phone, of the same account, or in the same city with the same family name.
/// Only contacts the caller sees: a contact it does not see is not found, and candidates it
/// does not see are left out.
pub fn contact_duplicates(conn: &mut AnyConnection, actor: &Actor, id: Uuid) -> Result<Vec<Candidate>, RecordError> {
    actor.require(Scope::ContactsRead)?;
    let seen = seen_by(conn, actor, DuplicateResource::Contacts, id)?;
    let s = crate::settings::load(conn)?;
    duplicates_of_contact(conn, &s, id, true, &seen)
}

/// What the caller sees of a resource's records, with `id` one of them (404 otherwise).
fn seen_by(
    conn: &mut AnyConnection,
    actor: &Actor,
    resource: DuplicateResource,
    id: Uuid,
) -> Result<crm_db::sql::Sql, RecordError> {
    let entity = resource.entity();
    let owned = crm_records::visibility::owned_entity(entity).ok_or(RecordError::NotFound { entity })?;
    if crm_records::visibility::sees_raw(conn, actor, owned, id)? != Some(true) {
        return Err(RecordError::NotFound { entity });
    }
    let backend = conn.backend();
    Ok(crm_records::visibility::of_entity(conn, actor, entity)?.sql(owned.owner, "id", backend))
}

/// Everything: the candidates a create check weighs (those the caller does not see are
/// named without their id).
fn everything(conn: &AnyConnection) -> crm_db::sql::Sql {
    crm_records::visibility::Visibility::All.sql("owner_id", "id", conn.backend())
}

/// `by_name`: also the candidates that share no email or phone (same account, same city and
/// family name), which only the name rules can match.
fn duplicates_of_contact(
    conn: &mut AnyConnection,
    s: &DuplicateSettings,
    id: Uuid,
    by_name: bool,
    seen: &crm_db::sql::Sql,
) -> Result<Vec<Candidate>, RecordError> {
    let me = people(conn, None, Some(&[id]), 1)?.pop().ok_or(RecordError::NotFound { entity: "contact" })?;
    // One indexed lookup per branch (both backends combine them: PostgreSQL's bitmap OR,
    // SQLite's multi-index OR, which needs each branch to imply its partial index's condition).
    let backend = conn.backend();
    let branch = || crm_db::sql::Sql::new(backend);
    let mut branches: Vec<crm_db::sql::Sql> = Vec::new();
    for e in &me.emails {
        let mut b = branch();
        b.push("(email = ").bind(e.clone()).push(" AND archived_at IS NULL)");
        branches.push(b);
    }
    for p in &me.phones {
        let mut b = branch();
        b.push("phone = ").bind(p.clone());
        branches.push(b);
    }
    if let Some(a) = me.account_id.filter(|_| by_name) {
        let mut b = branch();
        b.push("account_id = ").bind(a);
        branches.push(b);
    }
    if let (Some(city), Some(last), true) = (&me.city, &me.last_name, by_name) {
        // The family name as written (the scan also compares it across scripts).
        let mut b = branch();
        b.push("(lower(city) = ").bind(city.to_lowercase());
        b.push(" AND lower(last_name) = ").bind(last.to_lowercase()).push(")");
        branches.push(b);
    }
    if branches.is_empty() {
        return Ok(Vec::new());
    }
    let mut cond = crm_db::sql::Sql::new(conn.backend());
    cond.push("archived_at IS NULL AND id <> ").bind(id).push(" AND (");
    for (i, b) in branches.into_iter().enumerate() {
        if i > 0 {
            cond.push(" OR ");
        }
        cond.append(b);
    }
    cond.push(") AND ").append(seen.clone()).push(" ORDER BY id LIMIT 5000");
    let ids = crm_db::sql::ids_where(conn, "contacts", cond)?;
    let mut out: Vec<Candidate> = people(conn, None, Some(&ids), 5000)?
        .into_iter()
        .filter_map(|p| match_people(s, &me, &p).map(|(score, rules)| candidate_of_person(p, score, rules)))
        .collect();
    sort(&mut out);
    Ok(out)
}

/// The accounts that may be the same company as `id`, best first. Candidates are those with
/// the same domain, and those in the same country (their names compared folded).
/// Only accounts the caller sees, as for contacts.
pub fn account_duplicates(conn: &mut AnyConnection, actor: &Actor, id: Uuid) -> Result<Vec<Candidate>, RecordError> {
    actor.require(Scope::AccountsRead)?;
    let seen = seen_by(conn, actor, DuplicateResource::Accounts, id)?;
    let s = crate::settings::load(conn)?;
    duplicates_of_account(conn, &s, id, &seen)
}

fn duplicates_of_account(
    conn: &mut AnyConnection,
    s: &DuplicateSettings,
    id: Uuid,
    seen: &crm_db::sql::Sql,
) -> Result<Vec<Candidate>, RecordError> {
    let me = orgs(conn, None, Some(&[id]), 1)?.pop().ok_or(RecordError::NotFound { entity: "account" })?;
    let mut cond = crm_db::sql::Sql::new(conn.backend());
    cond.push("archived_at IS NULL AND id <> ").bind(id).push(" AND (1 = 0");
    if let Some(d) = &me.domain {
        cond.push(" OR domain = ").bind(d.clone());
    }
    match &me.country {
        Some(c) => cond.push(" OR country = ").bind(c.clone()),
        None => cond.push(" OR country IS NULL"),
    };
    cond.push(") AND ").append(seen.clone()).push(" ORDER BY id LIMIT 20000");
    let ids = crm_db::sql::ids_where(conn, "accounts", cond)?;
    let mut out: Vec<Candidate> = Vec::new();
    for chunk in ids.chunks(1000) {
        for o in orgs(conn, None, Some(chunk), 1000)? {
            if let Some((score, rules)) = match_orgs(s, &me, &o) {
                out.push(Candidate {
                    id: o.id,
                    score,
                    rules,
                    name: o.display,
                    email: None,
                    phone: None,
                    city: None,
                    domain: o.domain,
                    country: o.country,
                });
            }
        }
    }
    sort(&mut out);
    Ok(out)
}

/// How many candidates a `409 POSSIBLE_DUPLICATE` names.
const CANDIDATES_SHOWN: usize = 5;

/// The check on a new contact or account (`crm_records::create_checked`): `409
/// POSSIBLE_DUPLICATE` when a live record scores at least the settings' `block_score`. The
/// candidates (best first, at most 5) are in the answer, with their names and addresses only
/// for a caller who may read them. Account checks that cannot reach the score are skipped: a
/// live account's domain is unique already, so only the name rule can match.
fn check_new(
    conn: &mut AnyConnection,
    actor: &Actor,
    resource: DuplicateResource,
    id: Uuid,
) -> Result<(), RecordError> {
    let s = crate::settings::load(conn)?;
    if !s.check_on_create {
        return Ok(());
    }
    let found = match resource {
        // A candidate sharing no email or phone can match the name rules only: when those
        // cannot reach the score together (the defaults: 1 − 0.3 × 0.5 = 0.85), its lookups
        // (everyone at the account, everyone of the family name in the city) are skipped.
        DuplicateResource::Contacts => {
            let weight = |r: Rule| if r.enabled { r.weight } else { 0.0 };
            let names = 1.0 - (1.0 - weight(s.contact_name_account)) * (1.0 - weight(s.contact_name_city));
            duplicates_of_contact(conn, &s, id, names >= s.block_score, &everything(conn))?
        }
        DuplicateResource::Accounts => {
            let name = s.account_name_country;
            if !name.enabled || name.weight < s.block_score {
                return Ok(());
            }
            duplicates_of_account(conn, &s, id, &everything(conn))?
        }
    };
    let likely: Vec<Candidate> =
        found.into_iter().filter(|c| c.score >= s.block_score).take(CANDIDATES_SHOWN).collect();
    let Some(best) = likely.first() else { return Ok(()) };
    let entity = resource.entity();
    // A candidate the caller does not see is one without its id (it exists, not which one),
    // as a unique value held by a record the caller does not see.
    let owned = crm_records::visibility::owned_entity(entity).ok_or(RecordError::NotFound { entity })?;
    let mut seen: HashSet<Uuid> = HashSet::new();
    for c in &likely {
        if crm_records::visibility::sees_raw(conn, actor, owned, c.id)? == Some(true) {
            seen.insert(c.id);
        }
    }
    let message = if seen.contains(&best.id) {
        format!(
            "this {entity} is likely a duplicate of {} (score {}); create it anyway with allow_duplicate, or merge",
            best.id, best.score
        )
    } else {
        format!(
            "this {entity} is likely a duplicate of one you cannot see (score {}); create it anyway with allow_duplicate",
            best.score
        )
    };
    let readable = actor.has(resource.read_scope());
    let shown: Vec<serde_json::Value> = likely
        .iter()
        .map(|c| {
            if !seen.contains(&c.id) {
                serde_json::json!({"score": c.score, "rules": c.rules})
            } else if readable {
                serde_json::to_value(c).unwrap_or_default()
            } else {
                serde_json::json!({"id": c.id, "score": c.score, "rules": c.rules})
            }
        })
        .collect();
    let mut extra = serde_json::Map::new();
    extra.insert("candidates".into(), serde_json::Value::Array(shown));
    Err(RecordError::Foreign {
        class: crm_core::ErrorClass::Conflict,
        code: "POSSIBLE_DUPLICATE",
        message,
        fields: Vec::new(),
        extra: Some(extra),
    })
}

/// `check_new` for contacts, as a create check hook.
pub fn check_new_contact(conn: &mut AnyConnection, actor: &Actor, id: Uuid) -> Result<(), RecordError> {
    check_new(conn, actor, DuplicateResource::Contacts, id)
}

/// `check_new` for accounts, as a create check hook.
pub fn check_new_account(conn: &mut AnyConnection, actor: &Actor, id: Uuid) -> Result<(), RecordError> {
    check_new(conn, actor, DuplicateResource::Accounts, id)
}

fn sort(out: &mut [Candidate]) {
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
}

pub(crate) type Seen = HashSet<(usize, usize)>;
