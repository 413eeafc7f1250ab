//! The matching rules, configurable by an admin (`GET`/`PUT /api/v1/duplicates/settings`).

use crm_core::{Actor, Scope};
use crm_db::AnyConnection;
use crm_db::schema::duplicate_settings;
use crm_records::RecordError;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// One rule: whether it runs, and how much a match weighs (0 to 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "DuplicateRuleInput")
)]
pub struct Rule {
    pub enabled: bool,
    /// What a match adds to the score (a fuzzy rule: times the names' similarity).
    pub weight: f64,
}

impl Rule {
    const fn on(weight: f64) -> Rule {
        Rule { enabled: true, weight }
    }
}

/// The rules of contacts and accounts, and the scores that count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "DuplicateSettingsInput")
)]
pub struct DuplicateSettings {
    /// Contacts with the same email (primary or further).
    pub contact_email: Rule,
    /// Contacts with the same phone (E.164, primary or further).
    pub contact_phone: Rule,
    /// Contacts of the same account with similar names.
    pub contact_name_account: Rule,
    /// Contacts in the same city and country with the same family name and similar full names.
    pub contact_name_city: Rule,
    /// Accounts with the same domain.
    pub account_domain: Rule,
    /// Accounts in the same country with similar names (legal forms ignored).
    pub account_name_country: Rule,
    /// Names this similar (Jaro–Winkler, 0 to 1) count for the name rules.
    pub min_name_similarity: f64,
    /// Pairs scoring this much or more are listed (0 to 1). The default, 0.6, is above the
    /// city rule's weight: the same name in the same city alone is weak evidence (two
    /// "Kim Min-jun" in Seoul are usually two people).
    pub min_score: f64,
    /// Creating a contact or an account (`POST`, GraphQL `create…`) whose likeliest duplicate
    /// scores at least `block_score` answers `409 POSSIBLE_DUPLICATE` with the candidates,
    /// unless the caller says `allow_duplicate` (default true; syncs are never checked).
    #[serde(default = "yes")]
    #[cfg_attr(feature = "graphql", graphql(default = true))]
    pub check_on_create: bool,
    /// The score (0 to 1) that stops a create; default 0.9: a shared further email, or a
    /// shared phone with the same name at the same account.
    #[serde(default = "default_block_score")]
    #[cfg_attr(feature = "graphql", graphql(default = 0.9))]
    pub block_score: f64,
}

fn yes() -> bool {
    true
}

fn default_block_score() -> f64 {
    0.9
}

impl Default for DuplicateSettings {
    fn default() -> Self {
        DuplicateSettings {
            contact_email: Rule::on(0.95),
            contact_phone: Rule::on(0.8),
            contact_name_account: Rule::on(0.7),
            contact_name_city: Rule::on(0.5),
            account_domain: Rule::on(0.95),
            account_name_country: Rule::on(0.8),
            min_name_similarity: 0.9,
            min_score: 0.6,
            check_on_create: true,
            block_score: default_block_score(),
        }
    }
}

impl DuplicateSettings {
    fn validate(&self) -> Result<(), RecordError> {
        let mut errs = crm_core::FieldErrors::default();
        let rules = [
            ("contact_email", self.contact_email),
            ("contact_phone", self.contact_phone),
            ("contact_name_account", self.contact_name_account),
            ("contact_name_city", self.contact_name_city),
            ("account_domain", self.account_domain),
            ("account_name_country", self.account_name_country),
        ];
        for (name, r) in rules {
            if !(0.0..=1.0).contains(&r.weight) {
                errs.add(&format!("{name}.weight"), "out_of_range", "a weight is 0 to 1");
            }
        }
        let scores = [
            ("min_name_similarity", self.min_name_similarity),
            ("min_score", self.min_score),
            ("block_score", self.block_score),
        ];
        for (name, v) in scores {
            if !(0.0..=1.0).contains(&v) {
                errs.add(name, "out_of_range", "0 to 1");
            }
        }
        errs.into_result().map_err(|errors| RecordError::Invalid { entity: "duplicate_settings", errors })
    }
}

/// The settings in force (the defaults until an admin sets them).
pub fn load(conn: &mut AnyConnection) -> QueryResult<DuplicateSettings> {
    let raw: Option<String> =
        duplicate_settings::table.select(duplicate_settings::definition).first(conn).optional()?;
    Ok(raw.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default())
}

/// The settings, for those who may read contacts.
pub fn get(conn: &mut AnyConnection, actor: &Actor) -> Result<DuplicateSettings, RecordError> {
    actor.require(Scope::ContactsRead)?;
    Ok(load(conn)?)
}

/// Replaces the settings (admins: they need both write scopes and `users:write`).
pub fn set(conn: &mut AnyConnection, actor: &Actor, s: DuplicateSettings) -> Result<DuplicateSettings, RecordError> {
    actor.require(Scope::ContactsWrite)?;
    actor.require(Scope::AccountsWrite)?;
    actor.require(Scope::UsersWrite)?;
    s.validate()?;
    diesel::delete(duplicate_settings::table).execute(conn)?;
    diesel::insert_into(duplicate_settings::table)
        .values((
            duplicate_settings::id.eq(1i64),
            duplicate_settings::definition.eq(serde_json::to_string(&s).unwrap_or_default()),
            duplicate_settings::updated_at.eq(crm_db::now()),
        ))
        .execute(conn)?;
    Ok(s)
}
