//! Leads: prospects not yet qualified. Captured from web forms, assigned by rules, scored by
//! rules, converted into an account, a contact and optionally an opportunity.

use crm_core::external::parse_external_ids;
use crm_core::ids::{AccountId, CampaignId, ContactId, LeadId, OpportunityId, UserId};
use crm_core::values::{self, clean};
use crm_core::{Actor, ExternalId, FieldErrors, Scope, Timestamp, wire_enum};
use crm_db::AnyConnection;
use crm_records::custom::{CustomResource, validated};
use crm_records::{Record, RecordError, Stored};
use serde::{Deserialize, Serialize};

mod assignment;
mod capture;
mod convert;
mod scoring;
pub mod territories;

use assignment::assign;
pub use assignment::{AssignmentRule, AssignmentRules, AssignmentStrategy, get_assignment_rules, set_assignment_rules};
pub use capture::{CaptureInput, CaptureOutcome, CaptureReceipt, authorize_capture, capture};
pub use convert::{ConvertInput, ConvertOpportunity, ConvertResult, authorize_convert, convert};
use scoring::score;
pub use scoring::{ScoreOp, ScoringRule, ScoringRules, get_scoring_rules, rescore, set_scoring_rules};
pub use territories::{Territories, Territory, TerritoryBox, TerritoryCircle, get_territories, set_territories};

wire_enum!(
    /// Where a lead came from.
    LeadSource {
        WebForm = "web_form",
        Campaign = "campaign",
        Import = "import",
        Referral = "referral",
        Event = "event",
        Partner = "partner",
        ColdCall = "cold_call",
        Other = "other",
    }
);

wire_enum!(
    /// `new → contacted → qualified | disqualified → converted` (conversion only through
    /// `POST /leads/{id}/convert`; a disqualified lead can be reopened).
    LeadStatus {
        New = "new",
        Contacted = "contacted",
        Qualified = "qualified",
        Disqualified = "disqualified",
        Converted = "converted",
    }
);

impl LeadStatus {
    pub fn allowed_next(self) -> &'static [LeadStatus] {
        use LeadStatus::*;
        match self {
            New => &[Contacted, Qualified, Disqualified],
            Contacted => &[Qualified, Disqualified],
            Qualified => &[Contacted, Disqualified],
            Disqualified => &[New, Contacted],
            Converted => &[],
        }
    }
    pub fn is_open(self) -> bool {
        matches!(self, LeadStatus::New | LeadStatus::Contacted | LeadStatus::Qualified)
    }
}

/// A prospect.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = leads)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "LeadFields", visible = false))]
pub struct Lead {
    /// The record's id (UUIDv7: time-ordered).
    pub id: LeadId,
    /// Given name.
    #[filter(sort)]
    pub first_name: Option<String>,
    /// Family name.
    #[filter(sort)]
    pub last_name: Option<String>,
    /// Lower case; unique among live leads.
    #[filter(lower, sort)]
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    #[filter(sort)]
    pub company: Option<String>,
    #[filter(sort)]
    pub title: Option<String>,
    /// Web address (an absolute http(s) URL).
    pub website: Option<String>,
    /// The industry (free text).
    #[filter(lower, sort)]
    pub industry: Option<String>,
    #[filter(sort)]
    pub source: LeadSource,
    #[filter(sort)]
    pub status: LeadStatus,
    /// From the scoring rules, recomputed on every change (read-only).
    #[filter(sort)]
    pub score: i64,
    /// Set by the assignment rules when not given.
    #[filter(relation = "owner", to = crm_users::USER_CATALOG)]
    pub owner_id: Option<UserId>,
    /// Street and number of the postal address.
    #[filter]
    pub street: Option<String>,
    /// City of the postal address.
    #[filter(sort)]
    pub city: Option<String>,
    /// Postal code of the postal address.
    #[filter(sort)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[filter(upper, sort)]
    pub country: Option<String>,
    /// The region (a name).
    #[filter(sort)]
    pub region: Option<String>,
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
    /// Free text.
    pub description: Option<String>,
    pub disqualify_reason: Option<String>,
    #[filter(sort)]
    pub converted_at: Option<Timestamp>,
    pub converted_account_id: Option<AccountId>,
    pub converted_contact_id: Option<ContactId>,
    pub converted_opportunity_id: Option<OpportunityId>,
    /// The campaign it came in through: the latest web capture that named one (counted in the
    /// campaign's figures).
    #[filter]
    pub campaign_id: Option<CampaignId>,
    /// Free labels, lower case, without duplicates.
    #[filter]
    pub tags: Vec<String>,
    /// Custom fields, by name: the fields an administrator defined for leads
    /// (`GET /api/v1/schema/leads/fields`), each value checked against its type.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub custom_fields: serde_json::Value,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the record was archived; null while it is live.
    pub archived_at: Option<Timestamp>,
}

/// A new lead, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, crm_records::MergePatch)]
#[patch(name = LeadPatch, record = Lead)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct LeadInput {
    /// Given name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Email address, trimmed and lower-cased.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "dana@globex.example"))]
    pub email: Option<String>,
    /// Phone number in E.164 (`+821012345678`); one without `+` is read in the record's `country`.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// Web address (an absolute http(s) URL).
    #[serde(default)]
    pub website: Option<String>,
    /// The industry (free text).
    #[serde(default)]
    pub industry: Option<String>,
    /// Defaults to `other` (`web_form` through the capture endpoint).
    #[serde(default)]
    pub source: Option<LeadSource>,
    /// Defaults to `new`.
    #[serde(default)]
    #[patch(keep_on_null)]
    pub status: Option<LeadStatus>,
    /// The user who owns it.
    #[serde(default)]
    pub owner_id: Option<UserId>,
    /// Street and number of the postal address.
    #[serde(default)]
    pub street: Option<String>,
    /// City of the postal address.
    #[serde(default)]
    pub city: Option<String>,
    /// Postal code of the postal address (at most 20 characters).
    #[serde(default)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code, upper case.
    #[serde(default)]
    pub country: Option<String>,
    /// The region (a name).
    #[serde(default)]
    pub region: Option<String>,
    /// Latitude in decimal degrees (WGS 84), -90 to 90.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude in decimal degrees (WGS 84), -180 to 180.
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Where coordinates sent with this write come from: `given` (the default), `geocoded` or
    /// `manual`. Without coordinates, the server locates the record from its address.
    #[serde(default)]
    pub location_source: Option<crm_core::geo::LocationSource>,
    /// How precise coordinates sent with this write are (default `rooftop`).
    #[serde(default)]
    pub location_accuracy: Option<crm_core::geo::LocationAccuracy>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub disqualify_reason: Option<String>,
    /// The campaign it came in through.
    #[serde(default)]
    pub campaign_id: Option<CampaignId>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    /// Custom fields by name (`GET /api/v1/schema/leads/fields` lists them); a value of each
    /// field's type, `null` to clear one. A patch merges them key by key.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[patch(merge)]
    pub custom_fields: Option<serde_json::Value>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

impl LeadInput {
    pub fn normalize(self) -> Result<LeadInput, FieldErrors> {
        self.normalize_over(None)
    }

    /// `normalize` for an update of `current` (see `values::location`).
    pub fn normalize_over(self, current: Option<&Lead>) -> Result<LeadInput, FieldErrors> {
        let mut errs = FieldErrors::new();
        let mut i = self;
        let opt = |v: Option<String>| v.as_deref().and_then(clean);
        i.first_name = opt(i.first_name);
        i.last_name = opt(i.last_name);
        i.company = opt(i.company);
        i.title = opt(i.title);
        i.industry = opt(i.industry).map(|s| s.to_lowercase());
        i.region = opt(i.region);
        i.street = opt(i.street);
        i.city = opt(i.city);
        i.postal_code = opt(i.postal_code);
        i.disqualify_reason = opt(i.disqualify_reason);
        i.description = i.description.filter(|d| !d.trim().is_empty());
        for (field, v) in [
            ("first_name", &i.first_name),
            ("last_name", &i.last_name),
            ("company", &i.company),
            ("title", &i.title),
            ("industry", &i.industry),
            ("region", &i.region),
            ("street", &i.street),
            ("city", &i.city),
        ] {
            if v.as_ref().is_some_and(|s| s.chars().count() > 200) {
                errs.add(field, "too_long", "at most 200 characters");
            }
        }
        i.country = match opt(i.country) {
            Some(c) => errs.take(values::parse_country("country", &c)),
            None => None,
        };
        i.email = match opt(i.email) {
            Some(e) => errs.take(values::parse_email("email", &e)),
            None => None,
        };
        let country = i.country.clone();
        i.phone = match opt(i.phone) {
            Some(p) => errs.take(values::parse_phone("phone", &p, country.as_deref())),
            None => None,
        };
        i.website = match opt(i.website) {
            Some(w) => errs.take(values::parse_url("website", &w)),
            None => None,
        };
        if i.postal_code.as_ref().is_some_and(|s| s.chars().count() > 20) {
            errs.add("postal_code", "too_long", "at most 20 characters");
        }
        if i.last_name.is_none() && i.email.is_none() && i.company.is_none() {
            errs.add("last_name", "required", "a lead needs a last name, an email or a company");
        }
        let stored = current.map(|l| (l.latitude, l.longitude));
        (i.latitude, i.longitude) = values::location(i.latitude, i.longitude, stored, &mut errs);
        i.tags = errs.take(values::parse_tags("tags", &i.tags)).unwrap_or_default();
        i.external_ids = parse_external_ids("external_ids", std::mem::take(&mut i.external_ids), &mut errs);
        errs.into_result().map(|_| i)
    }
}

impl Lead {
    fn display_name(&self) -> String {
        let n =
            [self.first_name.as_deref(), self.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        if n.is_empty() { self.email.clone().unwrap_or_default() } else { n }
    }
}

crm_records::impl_located!(Lead, LeadInput);

impl Record for Lead {
    type Input = LeadInput;
    type Patch = LeadPatch;

    const READ: Scope = Scope::SalesRead;
    const WRITE: Scope = Scope::SalesWrite;

    fn owner(&self) -> Option<uuid::Uuid> {
        self.owner_id.map(|u| u.0)
    }

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: LeadId,
        mut input: LeadInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let entity = Self::ENTITY;
        let custom = input.custom_fields.take();
        let (mut i, custom) =
            validated(conn, CustomResource::Leads, input.normalize_over(prev), custom, prev.map(|p| &p.custom_fields))?;
        crm_records::location::relocate(conn, entity, &mut i, prev)?;
        let mut l = prev.cloned().unwrap_or_else(Lead::blank);
        l.custom_fields = custom;
        l.id = id;
        l.first_name = i.first_name;
        l.last_name = i.last_name;
        l.email = i.email;
        l.phone = i.phone;
        l.company = i.company;
        l.title = i.title;
        l.website = i.website;
        l.industry = i.industry;
        l.source = i.source.unwrap_or(LeadSource::Other);
        l.country = i.country;
        l.region = i.region;
        l.street = i.street;
        l.city = i.city;
        l.postal_code = i.postal_code;
        l.latitude = i.latitude;
        l.longitude = i.longitude;
        l.location_source = i.location_source;
        l.location_accuracy = i.location_accuracy;
        l.description = i.description;
        l.disqualify_reason = i.disqualify_reason;
        if prev.is_none_or(|p| p.campaign_id != i.campaign_id) {
            crm_records::check_ref(conn, entity, "campaign_id", i.campaign_id)?;
        }
        l.campaign_id = i.campaign_id;
        l.tags = i.tags;
        l.external_ids = i.external_ids;

        // Workflow: conversion happens only through `convert`.
        let status = i.status.unwrap_or(LeadStatus::New);
        let from = prev.map(|p| p.status);
        let legal = match from {
            None => matches!(status, LeadStatus::New | LeadStatus::Contacted | LeadStatus::Qualified),
            Some(f) => f == status || f.allowed_next().contains(&status),
        };
        if !legal {
            let allowed: Vec<String> = match from {
                None => vec!["new".into(), "contacted".into(), "qualified".into()],
                Some(f) => f.allowed_next().iter().map(|s| s.as_str().to_string()).collect(),
            };
            return Err(RecordError::InvalidTransition {
                field: "status",
                from: from.map(|f| f.as_str()).unwrap_or("(none)").into(),
                to: status.as_str().into(),
                allowed,
            });
        }
        if status == LeadStatus::Disqualified && l.disqualify_reason.is_none() {
            return Err(RecordError::invalid(
                entity,
                "disqualify_reason",
                "required",
                "say why the lead is disqualified",
            ));
        }
        l.status = status;

        // Owner: given, kept, or from the assignment rules on create.
        l.owner_id = match (i.owner_id, prev) {
            (Some(u), _) => Some(u),
            (None, None) => assign(conn, &l)?,
            (None, Some(_)) => None,
        };
        if prev.is_none_or(|p| p.owner_id != l.owner_id) {
            crm_users::check_user(conn, entity, "owner_id", l.owner_id, true)?;
        }
        l.score = score(conn, &l)?;
        Ok(l)
    }

    /// The email: one live lead per address.
    fn unique(&self) -> Vec<(&'static str, &str)> {
        self.email.as_deref().map(|e| ("email", e)).into_iter().collect()
    }

    const UNIQUE_FIELDS: &'static [&'static str] = &["email"];

    fn unique_key(_field: &str, raw: &str) -> Option<String> {
        crm_core::values::parse_email("email", raw).ok()
    }
}

/// How many live leads came in through each of `campaigns` (the campaigns domain counts them
/// in its figures): `(campaign, leads)` for those with any.
pub fn count_by_campaign(
    conn: &mut AnyConnection,
    campaigns: &[CampaignId],
) -> diesel::QueryResult<Vec<(CampaignId, i64)>> {
    use crm_db::schema::leads;
    use diesel::dsl::count_star;
    use diesel::prelude::*;
    let keys: Vec<crm_db::types::DbUuid> = campaigns.iter().map(|c| crm_db::types::DbUuid(c.0)).collect();
    let rows: Vec<(Option<crm_db::types::DbUuid>, i64)> = leads::table
        .filter(leads::campaign_id.eq_any(keys))
        .filter(leads::archived_at.is_null())
        .group_by(leads::campaign_id)
        .select((leads::campaign_id, count_star()))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(c, n)| c.map(|c| (CampaignId(c.0), n))).collect())
}
