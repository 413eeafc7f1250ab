//! The account as clients see it, and the inputs that create and change it.

use crm_core::external::parse_external_ids;
use crm_core::ids::{AccountId, UserId};
use crm_core::values::{self, clean};
use crm_core::{ExternalId, FieldErrors, Money, wire_enum};
use serde::{Deserialize, Serialize};
use validator::Validate;

wire_enum!(
    /// Commercial tier of an account.
    Tier {
        Bronze = "bronze",
        Silver = "silver",
        Gold = "gold",
        Platinum = "platinum",
    }
);

/// A company or organisation.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = accounts)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "AccountFields", visible = false))]
pub struct Account {
    /// The record's id (UUIDv7: time-ordered).
    pub id: AccountId,
    /// The name people see.
    #[filter(sort)]
    pub name: String,
    /// Bare internet domain, lower case; unique among live accounts.
    #[filter(lower, sort)]
    pub domain: Option<String>,
    /// The industry (free text).
    #[filter(sort)]
    pub industry: Option<String>,
    #[filter(sort)]
    pub tier: Option<Tier>,
    /// The user who owns the account.
    #[filter(relation = "owner", to = crm_users::USER_CATALOG)]
    pub owner_id: Option<UserId>,
    /// E.164.
    #[filter]
    pub phone: Option<String>,
    /// Web address (an absolute http(s) URL).
    #[filter]
    pub website: Option<String>,
    /// Street and number of the postal address.
    // The postal address and its coordinates: the same fields on accounts and contacts (and
    // leads), by design: each record is filtered and sorted on its own columns.
    #[filter]
    pub street: Option<String>,
    /// City of the postal address.
    #[filter(sort)]
    pub city: Option<String>,
    /// The region (a name).
    #[filter(sort)]
    pub region: Option<String>,
    /// Postal code of the postal address.
    #[filter(sort)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[filter(upper, sort)]
    pub country: Option<String>,
    /// Latitude in decimal degrees (WGS 84).
    #[filter(sort)]
    pub latitude: Option<f64>,
    /// Longitude in decimal degrees (WGS 84).
    #[filter(sort)]
    pub longitude: Option<f64>,
    /// Where the coordinates come from: `given` (sent by the client), `geocoded` (from the
    /// address, in the gazetteer), `manual` (placed by a person), `unresolved` (the address
    /// matched no place, so there are no coordinates).
    #[filter(sort)]
    pub location_source: Option<crm_core::geo::LocationSource>,
    /// How precise the coordinates are: `rooftop`, `postal_code` or `city`.
    #[filter(sort)]
    pub location_accuracy: Option<crm_core::geo::LocationAccuracy>,
    /// Metres from the point of the list's `location[near]` condition (or `near=`): only in
    /// such lists, which may sort by it (`sort=distance`).
    #[stored(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(read_only))]
    pub distance_m: Option<f64>,
    #[filter(sort)]
    pub annual_revenue: Option<Money>,
    #[filter(sort)]
    pub employee_count: Option<i32>,
    /// Free labels, lower case, without duplicates.
    #[filter]
    pub tags: Vec<String>,
    /// Custom fields, by name: the fields an administrator defined for accounts
    /// (`GET /api/v1/schema/accounts/fields`), each value checked against its type.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub custom_fields: serde_json::Value,
    /// What the account and its people bought in all (read-only, kept by the server from the live purchases
    /// that were not cancelled or returned): the total in its main currency, the one most of
    /// them were paid in (the summary lists every currency). Sorting or comparing it needs a
    /// filter on `lifetime_value_currency`.
    #[filter(sort)]
    pub lifetime_value: Option<Money>,
    /// How many of those purchases there are (read-only).
    #[filter(sort)]
    pub purchase_count: i64,
    /// When the latest of them was ordered (read-only).
    #[filter(sort)]
    pub last_purchase_at: Option<crm_core::Timestamp>,
    /// Ids of this account in other systems.
    // GraphQL resolves it on the node (`AccountNode`), which can read it on demand.
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: crm_core::Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: crm_core::Timestamp,
    /// When the record was archived; null while it is live.
    pub archived_at: Option<crm_core::Timestamp>,
}

/// A new account, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Validate, crm_records::MergePatch)]
#[patch(name = AccountPatch, record = Account)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct AccountInput {
    /// The name people see.
    #[validate(length(min = 1, max = 200))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    #[cfg_attr(feature = "openapi", schema(example = "Acme Korea"))]
    pub name: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "acme.co.kr"))]
    pub domain: Option<String>,
    /// The industry (free text).
    #[serde(default)]
    #[validate(length(max = 100))]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub industry: Option<String>,
    #[serde(default)]
    pub tier: Option<Tier>,
    /// The user who owns it.
    #[serde(default)]
    pub owner_id: Option<UserId>,
    /// Phone number in E.164 (`+821012345678`); one without `+` is read in the record's `country`.
    #[serde(default)]
    pub phone: Option<String>,
    /// Web address (an absolute http(s) URL).
    #[serde(default)]
    pub website: Option<String>,
    /// Street and number of the postal address.
    #[serde(default)]
    #[validate(length(max = 200))]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub street: Option<String>,
    /// City of the postal address.
    #[serde(default)]
    #[validate(length(max = 100))]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub city: Option<String>,
    /// The region (a name).
    #[serde(default)]
    #[validate(length(max = 100))]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub region: Option<String>,
    /// Postal code of the postal address.
    #[serde(default)]
    #[validate(length(max = 20))]
    #[cfg_attr(feature = "openapi", schema(max_length = 20))]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code, upper case.
    #[serde(default)]
    pub country: Option<String>,
    /// Latitude in decimal degrees (WGS 84).
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude in decimal degrees (WGS 84).
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Where coordinates sent with this write come from: `given` (the default), `geocoded` or
    /// `manual`. Without coordinates, the server locates the record from its address.
    #[serde(default)]
    pub location_source: Option<crm_core::geo::LocationSource>,
    /// How precise coordinates sent with this write are (default `rooftop`).
    #[serde(default)]
    pub location_accuracy: Option<crm_core::geo::LocationAccuracy>,
    #[serde(default)]
    pub annual_revenue: Option<Money>,
    #[serde(default)]
    #[validate(range(min = 0))]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub employee_count: Option<i32>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    /// Custom fields by name (`GET /api/v1/schema/accounts/fields` lists them); a value of each
    /// field's type, `null` to clear one. A patch merges them key by key.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[patch(merge)]
    pub custom_fields: Option<serde_json::Value>,
    /// Ids in other systems, each unique among accounts.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

impl Account {
    /// The account a normalized input describes, with `prev`'s bookkeeping when it updates one.
    pub fn from_input(id: AccountId, i: AccountInput, prev: Option<&Account>) -> Account {
        let base = prev.cloned().unwrap_or_else(<Account as crm_records::Stored>::blank);
        Account {
            id,
            name: i.name,
            domain: i.domain,
            industry: i.industry,
            tier: i.tier,
            owner_id: i.owner_id,
            phone: i.phone,
            website: i.website,
            street: i.street,
            city: i.city,
            region: i.region,
            postal_code: i.postal_code,
            country: i.country,
            latitude: i.latitude,
            longitude: i.longitude,
            location_source: i.location_source,
            location_accuracy: i.location_accuracy,
            annual_revenue: i.annual_revenue,
            employee_count: i.employee_count,
            tags: i.tags,
            custom_fields: i.custom_fields.unwrap_or_else(|| serde_json::json!({})),
            external_ids: i.external_ids,
            ..base
        }
    }
}

impl AccountInput {
    /// Validates and normalizes every field, reporting all problems at once.
    pub fn normalize(self) -> Result<AccountInput, FieldErrors> {
        self.normalize_over(None)
    }

    /// `normalize` for an update of `current`: a phone it already stores is kept as it is
    /// (see `values::parse_phone_unless_stored`).
    pub fn normalize_over(self, current: Option<&Account>) -> Result<AccountInput, FieldErrors> {
        let stored: Vec<&str> = current.and_then(|c| c.phone.as_deref()).into_iter().collect();
        let mut errs = FieldErrors::new();
        let mut i = self;
        let opt = |v: Option<String>| v.as_deref().and_then(clean);
        i.name = i.name.trim().to_string();
        i.industry = opt(i.industry);
        i.street = opt(i.street);
        i.city = opt(i.city);
        i.region = opt(i.region);
        i.postal_code = opt(i.postal_code);
        if let Err(e) = i.validate() {
            errs.extend_validator(e);
        }
        i.country = match opt(i.country) {
            Some(c) => errs.take(values::parse_country("country", &c)),
            None => None,
        };
        i.domain = match opt(i.domain) {
            Some(d) => errs.take(values::parse_domain("domain", &d)),
            None => None,
        };
        i.website = match opt(i.website) {
            Some(w) => errs.take(values::parse_url("website", &w)),
            None => None,
        };
        i.phone = match opt(i.phone) {
            Some(p) => errs.take(values::parse_phone_unless_stored("phone", &p, i.country.as_deref(), &stored)),
            None => None,
        };
        let stored = current.map(|c| (c.latitude, c.longitude));
        (i.latitude, i.longitude) = values::location(i.latitude, i.longitude, stored, &mut errs);
        i.annual_revenue = i.annual_revenue.and_then(|m| errs.take(m.parse("annual_revenue")));
        i.tags = errs.take(values::parse_tags("tags", &i.tags)).unwrap_or_default();
        i.external_ids = parse_external_ids("external_ids", std::mem::take(&mut i.external_ids), &mut errs);
        errs.into_result().map(|_| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_reports_every_problem() {
        let i = AccountInput {
            name: "  ".into(),
            domain: Some("not a domain".into()),
            country: Some("ZZ".into()),
            employee_count: Some(-1),
            annual_revenue: Some(Money::new(1, "BAD")),
            ..Default::default()
        };
        let e = i.normalize().unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        for f in ["name", "domain", "country", "employee_count", "annual_revenue.currency"] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
    }
}
