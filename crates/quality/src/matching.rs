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
pub fn contact_duplicates(conn: &mut AnyConnection, actor: &Actor, id: Uuid) -> Result<Vec<Candidate>, RecordError> {
    actor.require(Scope::ContactsRead)?;
    let me = people(conn, None, Some(&[id]), 1)?.pop().ok_or(RecordError::NotFound { entity: "contact" })?;
    let s = crate::settings::load(conn)?;
    let mut cond = crm_db::sql::Sql::new(conn.backend());
    cond.push("archived_at IS NULL AND id <> ").bind(id).push(" AND (1 = 0");
    for e in &me.emails {
        cond.push(" OR email = ").bind(e.clone());
    }
    for p in &me.phones {
        cond.push(" OR phone = ").bind(p.clone());
    }
    if let Some(a) = me.account_id {
        cond.push(" OR account_id = ").bind(a);
    }
    if let (Some(city), Some(last)) = (&me.city, &me.last_name) {
        // The family name as written (the scan also compares it across scripts).
        cond.push(" OR (lower(city) = ").bind(city.to_lowercase());
        cond.push(" AND lower(last_name) = ").bind(last.to_lowercase()).push(")");
    }
    cond.push(") ORDER BY id LIMIT 5000");
    let ids = crm_db::sql::ids_where(conn, "contacts", cond)?;
    let mut out: Vec<Candidate> = people(conn, None, Some(&ids), 5000)?
        .into_iter()
        .filter_map(|p| match_people(&s, &me, &p).map(|(score, rules)| candidate_of_person(p, score, rules)))
        .collect();
    sort(&mut out);
    Ok(out)
}

/// The accounts that may be the same company as `id`, best first. Candidates are those with
/// the same domain, and those in the same country (their names compared folded).
pub fn account_duplicates(conn: &mut AnyConnection, actor: &Actor, id: Uuid) -> Result<Vec<Candidate>, RecordError> {
    actor.require(Scope::AccountsRead)?;
    let me = orgs(conn, None, Some(&[id]), 1)?.pop().ok_or(RecordError::NotFound { entity: "account" })?;
    let s = crate::settings::load(conn)?;
    let mut cond = crm_db::sql::Sql::new(conn.backend());
    cond.push("archived_at IS NULL AND id <> ").bind(id).push(" AND (1 = 0");
    if let Some(d) = &me.domain {
        cond.push(" OR domain = ").bind(d.clone());
    }
    match &me.country {
        Some(c) => cond.push(" OR country = ").bind(c.clone()),
        None => cond.push(" OR country IS NULL"),
    };
    cond.push(") ORDER BY id LIMIT 20000");
    let ids = crm_db::sql::ids_where(conn, "accounts", cond)?;
    let mut out: Vec<Candidate> = Vec::new();
    for chunk in ids.chunks(1000) {
        for o in orgs(conn, None, Some(chunk), 1000)? {
            if let Some((score, rules)) = match_orgs(&s, &me, &o) {
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

fn sort(out: &mut [Candidate]) {
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
}

pub(crate) type Seen = HashSet<(usize, usize)>;
