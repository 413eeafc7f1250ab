//! Web capture: a form submission becomes a lead, or is merged into the live lead with its email.

use crm_core::ids::{CampaignId, LeadId};
use crm_core::{Actor, Patch, Scope, wire_enum};
use crm_db::AnyConnection;
use crm_records::{Record, RecordError, Stored};
use serde::{Deserialize, Serialize};

use super::{Lead, LeadInput, LeadPatch, LeadSource, LeadStatus};

/// What a web form sends.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaptureInput {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    /// Web address (an absolute http(s) URL).
    pub website: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// The region (a name).
    pub region: Option<String>,
    /// The message from the form.
    pub description: Option<String>,
    /// Defaults to `web_form`.
    pub source: Option<LeadSource>,
    /// The campaign whose form or landing page this is: the lead counts for it, and a member
    /// of it who fills the form in has responded (`registered`).
    pub campaign_id: Option<CampaignId>,
}

/// What the capture endpoint answers: no lead data, so a capture token cannot read leads.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaptureReceipt {
    /// The lead the submission went to.
    pub lead_id: LeadId,
    /// `created` (a new lead), `merged` (an open lead with this email got the new details),
    /// `reopened` (a disqualified lead came back), or `logged` (a converted lead: the message is
    /// an inbound web interaction on its contact).
    pub outcome: CaptureOutcome,
}

wire_enum!(
    /// What a submission did.
    CaptureOutcome {
        Created = "created",
        Merged = "merged",
        Reopened = "reopened",
        Logged = "logged",
    }
);

/// Who may post a form: `leads:capture` (the web form's token; no role carries it) or
/// `sales:write` (staff who may create leads anyway, posting a form by hand).
pub fn authorize_capture(actor: &Actor) -> Result<(), crm_core::actor::Forbidden> {
    if actor.has(Scope::LeadsCapture) { Ok(()) } else { actor.require(Scope::SalesWrite) }
}

/// Takes a web-form submission (`leads:capture` or `sales:write`). A submission whose email
/// belongs to a lead never makes a duplicate: an open lead gets the details it lacked, a
/// disqualified one is reopened (`new`), a converted one gets the message logged on its contact.
pub fn capture(conn: &mut AnyConnection, actor: &Actor, form: CaptureInput) -> Result<CaptureReceipt, RecordError> {
    authorize_capture(actor)?;
    // The form acts through the system on the visitor's behalf.
    // It finds the lead a submission belongs to whoever owns it.
    let mut system = actor.beyond_visibility();
    system.scopes.extend([Scope::SalesWrite, Scope::InteractionsWrite]);
    let campaign = form.campaign_id;
    crm_records::check_ref(conn, Lead::ENTITY, "campaign_id", campaign)?;
    let receipt = merge_capture(conn, &system, form)?;
    // The campaign learns of it: its lead, and a member's registration.
    if campaign.is_some() {
        crm_records::hooks::touched(conn, &system, "lead_capture", receipt.lead_id.0)?;
    }
    Ok(receipt)
}

/// Creates or merges the lead of a capture (see `capture`).
fn merge_capture(conn: &mut AnyConnection, system: &Actor, form: CaptureInput) -> Result<CaptureReceipt, RecordError> {
    let campaign = form.campaign_id;
    let input = LeadInput {
        campaign_id: campaign,
        first_name: form.first_name,
        last_name: form.last_name,
        email: form.email,
        phone: form.phone,
        company: form.company,
        title: form.title,
        website: form.website,
        country: form.country,
        region: form.region,
        description: form.description,
        source: Some(form.source.unwrap_or(LeadSource::WebForm)),
        ..Default::default()
    };
    let normalized =
        input.clone().normalize().map_err(|errors| RecordError::Invalid { entity: Lead::ENTITY, errors })?;
    let existing = match &normalized.email {
        Some(e) => match crm_records::write::live_with::<Lead>(conn, "email", e, None)? {
            Some(id) => {
                Lead::lock(conn, id)?;
                Lead::find(conn, id)?
            }
            None => None,
        },
        None => None,
    };
    let Some(existing) = existing else {
        let lead = crm_records::create::<Lead>(conn, system, input)?;
        return Ok(CaptureReceipt { lead_id: lead.id, outcome: CaptureOutcome::Created });
    };
    let fill = |cur: &Option<String>, new: Option<String>| match (cur, new) {
        (None, Some(v)) => Patch::Value(v),
        _ => Patch::Absent,
    };
    match existing.status {
        LeadStatus::Converted => {
            if let Some(contact) = existing.converted_contact_id {
                crm_records::create::<crm_interactions::Interaction>(
                    conn,
                    system,
                    crm_interactions::InteractionInput {
                        interaction_type: Some(crm_interactions::InteractionType::Web),
                        direction: Some(crm_interactions::Direction::Inbound),
                        channel: Some("web_form".into()),
                        subject: Some("Web form submission".into()),
                        body: input.description,
                        contact_ids: vec![contact],
                        ..Default::default()
                    },
                )?;
            }
            if let Some(c) = campaign.filter(|c| existing.campaign_id != Some(*c)) {
                crm_records::modify::<Lead>(conn, system, existing.id, |l| {
                    l.campaign_id = Some(c);
                    true
                })?;
            }
            Ok(CaptureReceipt { lead_id: existing.id, outcome: CaptureOutcome::Logged })
        }
        status => {
            let reopen = status == LeadStatus::Disqualified;
            let patch = LeadPatch {
                first_name: fill(&existing.first_name, input.first_name),
                last_name: fill(&existing.last_name, input.last_name),
                phone: fill(&existing.phone, input.phone),
                company: fill(&existing.company, input.company),
                title: fill(&existing.title, input.title),
                website: fill(&existing.website, input.website),
                country: fill(&existing.country, input.country),
                region: fill(&existing.region, input.region),
                description: fill(&existing.description, input.description),
                status: if reopen { Patch::Value(LeadStatus::New) } else { Patch::Absent },
                campaign_id: campaign.map_or(Patch::Absent, Patch::Value),
                ..Default::default()
            };
            crm_records::update::<Lead>(conn, system, existing.id, patch, None)?;
            let outcome = if reopen { CaptureOutcome::Reopened } else { CaptureOutcome::Merged };
            Ok(CaptureReceipt { lead_id: existing.id, outcome })
        }
    }
}
