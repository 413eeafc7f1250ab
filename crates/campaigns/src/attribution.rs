//! Conversions attributed to campaigns: a won opportunity or a purchase of a member within the
//! campaign's attribution window after the member was reached.
//!
//! The candidates are the members reached (`sent_at` set, not excluded) whose contact is the
//! conversion's contact or a contact of its account, with `sent_at ≤ converted_at ≤ sent_at +
//! attribution_days × 24 h`. **First touch** credits the candidate reached first, **last touch**
//! the one reached last (same-time ties: the campaign created first, or last); each model alone credits the whole
//! amount once, so its revenue adds up across campaigns. The credited members become
//! `converted`. The rows are rewritten whenever the conversion changes (a deal reopened, a
//! purchase cancelled, returned or archived: its rows go; the member stays converted, which
//! its history shows).

use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use crm_core::ids::{CampaignId, ContactId, OpportunityId, PurchaseId};
use crm_core::{Actor, Money};
use crm_db::schema::{campaign_attributions, campaign_members, campaigns, contacts};
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, Backend, to_utc};
use crm_products::{Purchase, PurchaseStatus};
use crm_records::{RecordError, Stored};
use crm_sales::Opportunity;
use diesel::prelude::*;

use crate::campaigns::CampaignStatus;
use crate::members::{MemberStatus, ResponseInput};

/// The attribution models; each credits a conversion to one campaign.
pub const FIRST_TOUCH: &str = "first_touch";
pub const LAST_TOUCH: &str = "last_touch";

/// What converted, as attribution sees it.
struct Conversion {
    source: &'static str,
    id: uuid::Uuid,
    contact: Option<ContactId>,
    account: Option<uuid::Uuid>,
    at: NaiveDateTime,
    amount: Option<Money>,
    label: String,
    live: bool,
}

/// A member reached by a campaign: (campaign, contact, sent_at, converted_at).
type Touch = (DbUuid, DbUuid, NaiveDateTime, Option<NaiveDateTime>);

/// The hook run when an opportunity that is or was won changed.
pub fn on_opportunity(conn: &mut AnyConnection, _actor: &Actor, id: uuid::Uuid) -> Result<(), RecordError> {
    let Some(o) = Opportunity::find(conn, OpportunityId(id))? else { return Ok(()) };
    let at = o.closed_at.unwrap_or(o.updated_at).naive_utc();
    attribute(
        conn,
        Conversion {
            source: "opportunity",
            id,
            contact: o.contact_id,
            account: o.account_id.map(|a| a.0),
            at,
            amount: o.amount.clone(),
            label: format!("opportunity won: {}", o.name),
            live: o.won == Some(true) && o.archived_at.is_none(),
        },
    )
}

/// The hook run when a purchase was written in a way that counts (its customer, date, total,
/// status or archiving changed).
pub fn on_purchase(conn: &mut AnyConnection, _actor: &Actor, id: uuid::Uuid) -> Result<(), RecordError> {
    let Some(p) = Purchase::find(conn, PurchaseId(id))? else { return Ok(()) };
    attribute(
        conn,
        Conversion {
            source: "purchase",
            id,
            contact: p.contact_id,
            account: p.account_id.map(|a| a.0),
            at: p.ordered_at.naive_utc(),
            amount: Some(p.total.clone()),
            label: format!("purchase {}", p.reference.as_deref().unwrap_or("without a reference")),
            live: p.archived_at.is_none() && !matches!(p.status, PurchaseStatus::Cancelled | PurchaseStatus::Returned),
        },
    )
}

fn attribute(conn: &mut AnyConnection, c: Conversion) -> Result<(), RecordError> {
    diesel::delete(
        campaign_attributions::table
            .filter(campaign_attributions::source.eq(c.source))
            .filter(campaign_attributions::source_id.eq(DbUuid(c.id))),
    )
    .execute(conn)?;
    if !c.live || (c.contact.is_none() && c.account.is_none()) {
        return Ok(());
    }
    let reached = campaign_members::table
        .filter(campaign_members::sent_at.le(c.at))
        .filter(campaign_members::status.ne(MemberStatus::Excluded.as_str()))
        .select((
            campaign_members::campaign_id,
            campaign_members::contact_id,
            campaign_members::sent_at.assume_not_null(),
            campaign_members::converted_at,
        ));
    let contact = c.contact.map(|x| DbUuid(x.0));
    let touches: Vec<Touch> = match c.account {
        Some(account) => reached
            .filter(
                campaign_members::contact_id.nullable().eq(contact).or(campaign_members::contact_id
                    .eq_any(contacts::table.filter(contacts::account_id.eq(DbUuid(account))).select(contacts::id))),
            )
            .load(conn)?,
        None => reached.filter(campaign_members::contact_id.nullable().eq(contact)).load(conn)?,
    };
    if touches.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<DbUuid> = touches.iter().map(|t| t.0).collect();
    ids.sort_by_key(|k| k.0);
    ids.dedup();
    let windows: HashMap<uuid::Uuid, (i64, String, NaiveDateTime)> = campaigns::table
        .filter(campaigns::id.eq_any(&ids))
        .select((campaigns::id, campaigns::attribution_days, campaigns::status, campaigns::created_at))
        .load::<(DbUuid, i64, String, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(id, days, status, created)| (id.0, (days, status, created)))
        .collect();
    let mut eligible: Vec<(NaiveDateTime, NaiveDateTime, uuid::Uuid, &Touch)> = touches
        .iter()
        .filter_map(|t| {
            let (days, _, created) = windows.get(&t.0.0)?;
            (c.at <= t.2 + Duration::days(*days)).then_some((t.2, *created, t.0.0, t))
        })
        .collect();
    eligible.sort_by_key(|e| (e.0, e.1, e.2));
    let (Some(first), Some(last)) = (eligible.first().copied(), eligible.last().copied()) else { return Ok(()) };
    for (model, touch) in [(FIRST_TOUCH, first.3), (LAST_TOUCH, last.3)] {
        diesel::insert_into(campaign_attributions::table)
            .values((
                campaign_attributions::source.eq(c.source),
                campaign_attributions::source_id.eq(DbUuid(c.id)),
                campaign_attributions::model.eq(model),
                campaign_attributions::campaign_id.eq(touch.0),
                campaign_attributions::contact_id.eq(touch.1),
                campaign_attributions::touched_at.eq(touch.2),
                campaign_attributions::converted_at.eq(c.at),
                campaign_attributions::amount_minor.eq(c.amount.as_ref().map(|m| m.amount_minor.0)),
                campaign_attributions::currency.eq(c.amount.as_ref().map(|m| m.currency.clone())),
            ))
            .execute(conn)?;
    }
    // The credited members converted (once; a later conversion does not move the date).
    let now = crm_db::now();
    let mut credited = vec![first.3, last.3];
    credited.dedup_by_key(|t| (t.0.0, t.1.0));
    for t in credited {
        let running = windows.get(&t.0.0).is_some_and(|w| {
            CampaignStatus::parse(&w.1)
                .is_some_and(|s| matches!(s, CampaignStatus::Running | CampaignStatus::Completed))
        });
        if t.3.is_some() || !running || c.at > now {
            continue;
        }
        let r = ResponseInput {
            contact_id: ContactId(t.1.0),
            status: MemberStatus::Converted,
            response_type: None,
            bounce_kind: None,
            at: Some(to_utc(c.at)),
            note: Some(c.label.clone()),
        };
        match crate::members::record_for(conn, &Actor::system(), CampaignId(t.0.0), vec![r]) {
            Ok(_) | Err(RecordError::Invalid { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The SQL summing `amount_minor` of a group (0 when none), capped at the largest amount rather
/// than failing on an overflow, as purchase figures are.
pub(crate) fn sum_amounts(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "COALESCE(LEAST(SUM(amount_minor), 9223372036854775807), 0)::bigint",
        Backend::Sqlite => "CAST(TOTAL(amount_minor) AS INTEGER)",
    }
}

/// Revenue credited to campaigns, per (campaign, model, currency): the count of conversions
/// and the sum of their amounts (conversions without an amount count, with no currency).
pub(crate) fn revenue(conn: &mut AnyConnection, campaigns: &[DbUuid]) -> QueryResult<Vec<Credited>> {
    use diesel::dsl::{count_star, sql};
    use diesel::sql_types::BigInt;
    let total = sum_amounts(conn.backend());
    campaign_attributions::table
        .filter(campaign_attributions::campaign_id.eq_any(campaigns))
        .group_by((campaign_attributions::campaign_id, campaign_attributions::model, campaign_attributions::currency))
        .select((
            campaign_attributions::campaign_id,
            campaign_attributions::model,
            campaign_attributions::currency,
            count_star(),
            sql::<BigInt>(total),
        ))
        .load(conn)
}

/// Conversions credited to a campaign under one model in one currency: (campaign, model,
/// currency, conversions, amount in minor units).
pub(crate) type Credited = (DbUuid, String, Option<String>, i64, i64);

/// The hook run when a web capture named a campaign: a member of it who filled the form in
/// (the lead's converted contact, or the live contact with the lead's email) has responded
/// (`registered`). A person who is not a member, or an excluded one, is only the campaign's
/// lead.
pub fn on_capture(conn: &mut AnyConnection, _actor: &Actor, lead: uuid::Uuid) -> Result<(), RecordError> {
    let Some(l) = crm_sales::Lead::find(conn, crm_core::ids::LeadId(lead))? else { return Ok(()) };
    let Some(campaign) = l.campaign_id else { return Ok(()) };
    let contact = match (l.converted_contact_id, l.email.as_deref()) {
        (Some(c), _) => Some(c),
        (None, Some(email)) => crm_contacts::read::live_by_email(conn, email)?,
        (None, None) => None,
    };
    let Some(contact) = contact else { return Ok(()) };
    let Some(c) = crate::campaigns::Campaign::find(conn, campaign)? else { return Ok(()) };
    if !matches!(c.status, CampaignStatus::Running | CampaignStatus::Completed) {
        return Ok(());
    }
    let r = ResponseInput {
        contact_id: contact,
        status: MemberStatus::Responded,
        response_type: Some(crate::members::ResponseType::Registered),
        bounce_kind: None,
        at: None,
        note: Some("web form".into()),
    };
    match crate::members::record_for(conn, &Actor::system(), campaign, vec![r]) {
        Ok(_) | Err(RecordError::Invalid { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
