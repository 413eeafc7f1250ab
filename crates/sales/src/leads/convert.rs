//! Conversion: a qualified lead becomes an account, a contact and optionally an opportunity.

use crm_core::ids::{AccountId, ContactId, EntityId, LeadId, OpportunityId, PipelineId, StageId};
use crm_core::values;
use crm_core::{Actor, Money, Scope};
use crm_db::AnyConnection;
use crm_records::{Record, RecordError, Stored};
use serde::{Deserialize, Serialize};

use super::{Lead, LeadStatus};
use crate::opportunities::{Opportunity, OpportunityInput};

/// The optional opportunity of a conversion.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ConvertOpportunity {
    /// The name people see.
    pub name: Option<String>,
    #[serde(default)]
    pub amount: Option<Money>,
    /// The pipeline it moves through.
    #[serde(default)]
    pub pipeline_id: Option<PipelineId>,
    /// The stage it is in.
    #[serde(default)]
    pub stage_id: Option<StageId>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub expected_close_date: Option<chrono::NaiveDate>,
}

/// `POST /leads/{id}/convert`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ConvertInput {
    /// Merge into this account instead of matching by domain.
    #[serde(default)]
    pub account_id: Option<AccountId>,
    /// Merge into this contact instead of matching by email.
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    #[serde(default)]
    pub opportunity: Option<ConvertOpportunity>,
}

/// What a conversion made or matched.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct ConvertResult {
    /// The account it belongs to.
    pub account_id: AccountId,
    /// The contact it concerns.
    pub contact_id: ContactId,
    /// The opportunity it concerns.
    pub opportunity_id: Option<OpportunityId>,
    /// False when an existing account (same domain) was used.
    pub account_created: bool,
    /// False when an existing contact (same email) was used.
    pub contact_created: bool,
}

/// Public mail providers: their domain says nothing about the lead's company.
const PUBLIC_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.jp",
    "yahoo.co.uk",
    "ymail.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.de",
    "gmx.net",
    "web.de",
    "t-online.de",
    "mail.ru",
    "yandex.ru",
    "naver.com",
    "daum.net",
    "hanmail.net",
    "kakao.com",
    "qq.com",
    "163.com",
    "126.com",
    "zoho.com",
    "fastmail.com",
];

fn is_public_mail(domain: &str) -> bool {
    PUBLIC_MAIL.contains(&domain.to_ascii_lowercase().as_str())
}

/// A conversion writes a lead, an account and a contact: `sales:write`, `accounts:write` and
/// `contacts:write`.
pub fn authorize_convert(actor: &Actor) -> Result<(), crm_core::actor::Forbidden> {
    actor.require(Scope::SalesWrite)?;
    actor.require(Scope::AccountsWrite)?;
    actor.require(Scope::ContactsWrite)
}

/// Converts a lead in one transaction: matches or creates the account (by domain, from the
/// website or the email) and the contact (by email), optionally creates an opportunity, and
/// marks the lead converted. Converting twice is `409 LEAD_ALREADY_CONVERTED`.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, %id))]
pub fn convert(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: LeadId,
    input: ConvertInput,
) -> Result<ConvertResult, RecordError> {
    authorize_convert(actor)?;
    // One conversion at a time: a concurrent one waits here, then sees `converted`.
    if !Lead::lock(conn, id)? {
        return Err(RecordError::NotFound { entity: Lead::ENTITY });
    }
    let lead = Lead::find(conn, id)?.ok_or(RecordError::NotFound { entity: Lead::ENTITY })?;
    crm_records::visibility::require(conn, actor, &lead)?;
    if lead.status == LeadStatus::Converted {
        return Err(RecordError::Conflict {
            entity: Lead::ENTITY,
            code: "LEAD_ALREADY_CONVERTED",
            reason: format!("converted on {}", lead.converted_at.map(|t| t.to_rfc3339()).unwrap_or_default()),
        });
    }
    if lead.status == LeadStatus::Disqualified || lead.archived_at.is_some() {
        return Err(RecordError::Conflict {
            entity: Lead::ENTITY,
            code: "LEAD_NOT_CONVERTIBLE",
            reason: "reopen a disqualified or archived lead before converting it".into(),
        });
    }

    // The contact: given, or the live contact with the lead's email. Its account is used
    // unless an account is given.
    let known_contact = match input.contact_id {
        Some(c) => Some(c),
        None => match &lead.email {
            Some(e) => crm_contacts::read::live_by_email(conn, e)?,
            None => None,
        },
    };
    let contact_account = match known_contact {
        Some(c) => crm_contacts::read::accounts_of_contacts(conn, Lead::ENTITY, &[c], |_| "contact_id".into())?
            .first()
            .copied()
            .flatten(),
        None => None,
    };

    // The account: given, the contact's, matched by domain (the website's, or the email's
    // unless it is a public mail provider), or new.
    let domain = lead.website.as_deref().and_then(|w| values::parse_domain("website", w).ok()).or_else(|| {
        lead.email
            .as_deref()
            .and_then(|e| e.split_once('@'))
            .map(|(_, d)| d)
            .filter(|d| !is_public_mail(d))
            .and_then(|d| values::parse_domain("email", d).ok())
    });
    let (account_id, account_created) = match input.account_id.or(contact_account) {
        Some(a) => {
            crm_records::check_ref(conn, Lead::ENTITY, "account_id", Some(a))?;
            (a, false)
        }
        None => {
            let found = match &domain {
                Some(d) => crm_accounts::read::live_by_domain(conn, d)?,
                None => None,
            };
            match found {
                Some(a) => (a, false),
                None => {
                    let name = lead.company.clone().unwrap_or_else(|| lead.display_name());
                    let a = crm_records::create::<crm_accounts::Account>(
                        conn,
                        actor,
                        crm_accounts::AccountInput {
                            name,
                            domain: domain.clone(),
                            industry: lead.industry.clone(),
                            country: lead.country.clone(),
                            region: lead.region.clone(),
                            street: lead.street.clone(),
                            city: lead.city.clone(),
                            postal_code: lead.postal_code.clone(),
                            latitude: lead.latitude,
                            longitude: lead.longitude,
                            // Where the lead's coordinates came from (an unresolved address is looked up again).
                            location_source: lead.latitude.and(lead.location_source),
                            location_accuracy: lead.latitude.and(lead.location_accuracy),
                            owner_id: lead.owner_id,
                            ..Default::default()
                        },
                    )?;
                    (a.id, true)
                }
            }
        }
    };

    let (contact_id, contact_created) = match known_contact {
        Some(c) => {
            // A contact without an account joins the chosen one.
            if contact_account.is_none() {
                let patch =
                    crm_contacts::ContactPatch { account_id: crm_core::Patch::Value(account_id), ..Default::default() };
                crm_records::update::<crm_contacts::Contact>(conn, actor, c, patch, None)?;
            }
            (c, false)
        }
        None => {
            let c = crm_records::create::<crm_contacts::Contact>(
                conn,
                actor,
                crm_contacts::ContactInput {
                    first_name: lead.first_name.clone(),
                    last_name: lead.last_name.clone().or_else(|| lead.company.clone()),
                    email: lead.email.clone(),
                    phone: lead.phone.clone(),
                    title: lead.title.clone(),
                    account_id: Some(account_id),
                    owner_id: lead.owner_id,
                    country: lead.country.clone(),
                    region: lead.region.clone(),
                    street: lead.street.clone(),
                    city: lead.city.clone(),
                    postal_code: lead.postal_code.clone(),
                    latitude: lead.latitude,
                    longitude: lead.longitude,
                    // Where the lead's coordinates came from (an unresolved address is looked up again).
                    location_source: lead.latitude.and(lead.location_source),
                    location_accuracy: lead.latitude.and(lead.location_accuracy),
                    ..Default::default()
                },
            )?;
            (c.id, true)
        }
    };

    let opportunity_id = match input.opportunity {
        Some(o) => {
            let created = crm_records::create::<Opportunity>(
                conn,
                actor,
                OpportunityInput {
                    name: o.name.or_else(|| {
                        Some(format!("{} deal", lead.company.clone().unwrap_or_else(|| lead.display_name())))
                    }),
                    account_id: Some(account_id),
                    contact_id: Some(contact_id),
                    pipeline_id: o.pipeline_id,
                    stage_id: o.stage_id,
                    amount: o.amount,
                    expected_close_date: o.expected_close_date,
                    owner_id: lead.owner_id,
                    lead_id: Some(lead.id),
                    ..Default::default()
                },
            )
            .map_err(|e| e.prefixed("opportunity."))?;
            Some(created.id)
        }
        None => None,
    };

    let now = crm_db::to_utc(crm_db::now());
    crm_records::modify::<Lead>(conn, actor, id, |l| {
        if l.status == LeadStatus::Converted {
            return false;
        }
        l.status = LeadStatus::Converted;
        l.converted_at = Some(now);
        l.converted_account_id = Some(account_id);
        l.converted_contact_id = Some(contact_id);
        l.converted_opportunity_id = opportunity_id;
        true
    })?;
    // What the person agreed to as a lead holds for the contact it became.
    crm_contacts::consents::reassign(conn, actor, ("lead_id", id.uuid()), contact_id)?;
    crm_contacts::restrictions::reassign(conn, ("lead", id.uuid()), contact_id.uuid())?;
    Ok(ConvertResult { account_id, contact_id, opportunity_id, account_created, contact_created })
}
