//! Recording what happened to members: delivery outcomes and answers, each a history entry
//! and a `campaign_member.updated` event; an unsubscribe withdraws the channel's consent.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use crm_core::ids::{CampaignId, ContactId};
use crm_core::{Actor, FieldErrors, Scope, Timestamp};
use crm_db::schema::{campaign_member_history, campaign_members};
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, to_utc};
use crm_events::Action;
use crm_records::{Record, RecordError};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::{BounceKind, CHUNK, Member, MemberRow, MemberStatus, ResponseType};
use crate::campaigns::{Campaign, CampaignStatus, Channel};

/// A response or delivery outcome to record for one member.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ResponseInput {
    /// The member's contact.
    pub contact_id: ContactId,
    /// What happened: `sent`, `delivered`, `bounced`, `opened`, `clicked`, `responded`,
    /// `converted` or `unsubscribed` (a member is never set back to `targeted` or `excluded`).
    pub status: MemberStatus,
    /// For `responded`: what kind of answer (defaults to `replied`).
    #[serde(default)]
    pub response_type: Option<ResponseType>,
    /// For `bounced`: hard (permanent; later email campaigns exclude the contact) or soft
    /// (defaults to `hard`).
    #[serde(default)]
    pub bounce_kind: Option<BounceKind>,
    /// When it happened (defaults to now; not in the future).
    #[serde(default)]
    pub at: Option<Timestamp>,
    /// Free text kept in the member's history.
    #[serde(default)]
    pub note: Option<String>,
}

/// What recording responses changed.
#[derive(Clone, Debug, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Responses {
    /// Members whose state changed.
    pub changed: i64,
    /// Responses that changed nothing (already recorded).
    pub unchanged: i64,
}

/// Most responses recorded in one call.
pub const MAX_RESPONSES: usize = 10_000;

/// Records responses and delivery outcomes of a running or completed campaign, all or none:
/// every response must name a member that can take it. A funnel step also records the steps
/// before it that are missing (an open implies delivery); an unsubscribe also withdraws the
/// contact's consent for the channel (email consent `opted_out`, `do_not_call`, `do_not_mail`).
pub fn record_responses(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: CampaignId,
    responses: Vec<ResponseInput>,
) -> Result<Responses, RecordError> {
    actor.require(Scope::CampaignsWrite)?;
    record_for(conn, actor, id, responses)
}

/// `record_responses` for a use case that already decided the caller may record them (a rep
/// completing a campaign's call, who reads campaigns but does not run them), attributed to
/// the caller in the members' history.
pub(crate) fn record_for(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: CampaignId,
    responses: Vec<ResponseInput>,
) -> Result<Responses, RecordError> {
    let entity = "campaign_member";
    let c = crm_records::get::<Campaign>(conn, actor, id)?;
    if !matches!(c.status, CampaignStatus::Running | CampaignStatus::Completed) {
        return Err(RecordError::Conflict {
            entity: Campaign::ENTITY,
            code: "CAMPAIGN_NOT_RUNNING",
            reason: format!("responses are recorded once a campaign runs; it is {}", c.status.as_str()),
        });
    }
    if responses.is_empty() || responses.len() > MAX_RESPONSES {
        return Err(RecordError::invalid(
            entity,
            "responses",
            "out_of_range",
            format!("1 to {MAX_RESPONSES} responses"),
        ));
    }
    let key = DbUuid(id.0);
    let contact_keys: Vec<DbUuid> = responses.iter().map(|r| DbUuid(r.contact_id.0)).collect();
    let mut members: HashMap<ContactId, Member> = HashMap::new();
    for chunk in contact_keys.chunks(CHUNK) {
        let rows: Vec<MemberRow> = campaign_members::table
            .filter(campaign_members::campaign_id.eq(key))
            .filter(campaign_members::contact_id.eq_any(chunk))
            .select(member_columns!())
            .load(conn)?;
        members.extend(rows.into_iter().map(|r| {
            let m = Member::from(r);
            (m.contact_id, m)
        }));
    }
    let now = to_utc(crm_db::now());
    let mut errs = FieldErrors::new();
    for (n, r) in responses.iter().enumerate() {
        let f = |x: &str| format!("responses[{n}].{x}");
        match members.get(&r.contact_id) {
            None => errs.add(&f("contact_id"), "not_found", format!("contact {} is not a member", r.contact_id)),
            Some(m) if m.status == MemberStatus::Excluded => errs.add(
                &f("contact_id"),
                "member_excluded",
                format!(
                    "the member is excluded ({}) and is never contacted",
                    m.exclusion_reason.map_or("", |x| x.as_str())
                ),
            ),
            Some(_) => {}
        }
        if matches!(r.status, MemberStatus::Targeted | MemberStatus::Excluded) {
            errs.add(
                &f("status"),
                "invalid_value",
                "a response is a delivery outcome or an answer, not targeted or excluded",
            );
        }
        if r.at.is_some_and(|t| t.0 > now.0 + chrono::Duration::minutes(5)) {
            errs.add(&f("at"), "in_future", "a response happened already");
        }
        if r.note.as_ref().is_some_and(|s| s.chars().count() > 1000) {
            errs.add(&f("note"), "too_long", "at most 1000 characters");
        }
    }
    if !errs.0.is_empty() {
        return Err(RecordError::Invalid { entity, errors: errs });
    }
    let mut out = Responses::default();
    for r in responses {
        let Some(before) = members.get(&r.contact_id).cloned() else { continue };
        let at = r.at.unwrap_or(now);
        let mut m = before.clone();
        apply(&mut m, &r, at);
        if m == before {
            out.unchanged += 1;
            continue;
        }
        m.version += 1;
        m.updated_at = now;
        write_member(conn, actor, &before, &m, r.note.as_deref())?;
        if r.status == MemberStatus::Unsubscribed && before.unsubscribed_at.is_none() {
            withdraw_consent(conn, actor, m.contact_id, m.channel)?;
        }
        members.insert(m.contact_id, m);
        out.changed += 1;
    }
    Ok(out)
}

/// The member after a response. Only the first time of each step counts. A step implies
/// those it needs: delivered, opened, clicked, responded, converted and unsubscribed imply the
/// material went out and arrived; a click implies an open. A reply or a purchase does not
/// imply an open, nor a purchase a reply.
fn apply(m: &mut Member, r: &ResponseInput, at: Timestamp) {
    let set = |slot: &mut Option<Timestamp>| {
        if slot.is_none() {
            *slot = Some(at);
        }
    };
    set(&mut m.sent_at);
    use MemberStatus::*;
    if matches!(r.status, Delivered | Opened | Clicked | Responded | Converted | Unsubscribed) {
        set(&mut m.delivered_at);
        // A delivery recorded after a bounce (a retry that went through) undoes the bounce.
        m.bounce_kind = None;
    }
    match r.status {
        Opened => set(&mut m.opened_at),
        Clicked => {
            set(&mut m.opened_at);
            set(&mut m.clicked_at);
        }
        Responded => {
            set(&mut m.responded_at);
            if m.response_type.is_none() {
                m.response_type = Some(r.response_type.unwrap_or(ResponseType::Replied));
            }
        }
        Converted => set(&mut m.converted_at),
        Unsubscribed => set(&mut m.unsubscribed_at),
        Bounced if m.delivered_at.is_none() && m.bounce_kind.is_none() => {
            m.bounce_kind = Some(r.bounce_kind.unwrap_or(BounceKind::Hard));
        }
        _ => {}
    }
    m.status = status_of(m);
}

/// A member's status: unsubscribed, else bounced (when nothing was delivered), else the
/// furthest funnel step reached.
fn status_of(m: &Member) -> MemberStatus {
    if m.unsubscribed_at.is_some() {
        return MemberStatus::Unsubscribed;
    }
    let steps = [
        (m.converted_at, MemberStatus::Converted),
        (m.responded_at, MemberStatus::Responded),
        (m.clicked_at, MemberStatus::Clicked),
        (m.opened_at, MemberStatus::Opened),
        (m.delivered_at, MemberStatus::Delivered),
    ];
    if let Some((_, s)) = steps.iter().find(|(t, _)| t.is_some()) {
        return *s;
    }
    if m.bounce_kind.is_some() {
        return MemberStatus::Bounced;
    }
    if m.sent_at.is_some() { MemberStatus::Sent } else { m.status }
}

fn write_member(
    conn: &mut AnyConnection,
    actor: &Actor,
    before: &Member,
    m: &Member,
    note: Option<&str>,
) -> Result<(), RecordError> {
    let n = |t: Option<Timestamp>| t.map(|t| t.naive_utc());
    let updated = diesel::update(
        campaign_members::table
            .filter(campaign_members::id.eq(DbUuid(m.id)))
            .filter(campaign_members::version.eq(before.version)),
    )
    .set((
        campaign_members::status.eq(m.status.as_str()),
        campaign_members::response_type.eq(m.response_type.map(|x| x.as_str())),
        campaign_members::bounce_kind.eq(m.bounce_kind.map(|x| x.as_str())),
        campaign_members::version.eq(m.version),
        campaign_members::updated_at.eq(m.updated_at.naive_utc()),
        campaign_members::sent_at.eq(n(m.sent_at)),
        campaign_members::delivered_at.eq(n(m.delivered_at)),
        campaign_members::opened_at.eq(n(m.opened_at)),
        campaign_members::clicked_at.eq(n(m.clicked_at)),
        campaign_members::responded_at.eq(n(m.responded_at)),
        campaign_members::converted_at.eq(n(m.converted_at)),
        campaign_members::unsubscribed_at.eq(n(m.unsubscribed_at)),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Err(RecordError::Contended { entity: "campaign_member" });
    }
    super::append_history(
        conn,
        actor,
        m.campaign_id,
        DbUuid(m.contact_id.0),
        m.status,
        note,
        m.updated_at.naive_utc(),
    )?;
    let json = |x: &Member| serde_json::to_value(x).ok();
    crm_events::record(conn, actor, "campaign_member", m.id, Action::Updated, json(before), json(m))?;
    Ok(())
}

/// An unsubscribe withdraws the contact's marketing consent for the channel: a consent record
/// (`crm_contacts::consents`), which sets the contact's flag for it.
pub(crate) fn withdraw_consent(
    conn: &mut AnyConnection,
    actor: &Actor,
    contact: ContactId,
    channel: Channel,
) -> Result<(), RecordError> {
    let channel = match channel {
        Channel::Email => crm_contacts::ConsentChannel::Email,
        Channel::Phone => crm_contacts::ConsentChannel::Phone,
        Channel::Post => crm_contacts::ConsentChannel::Post,
    };
    crm_contacts::consents::withdraw(conn, actor, contact, channel, "campaign_unsubscribe")?;
    Ok(())
}

/// One entry of a member's history, oldest first.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct MemberChange {
    /// The status it had from then on.
    pub status: MemberStatus,
    /// The exclusion reason or the note given with the response.
    pub detail: Option<String>,
    /// When (UTC).
    pub at: Timestamp,
    /// Who recorded it (the JWT subject).
    pub actor: String,
}

/// A member's status history, oldest first.
pub fn member_history(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: CampaignId,
    contact: ContactId,
) -> Result<Vec<MemberChange>, RecordError> {
    crm_records::get::<Campaign>(conn, actor, id)?;
    let rows: Vec<(String, Option<String>, NaiveDateTime, String)> = campaign_member_history::table
        .filter(campaign_member_history::campaign_id.eq(DbUuid(id.0)))
        .filter(campaign_member_history::contact_id.eq(DbUuid(contact.0)))
        .order(campaign_member_history::seq)
        .select((
            campaign_member_history::status,
            campaign_member_history::detail,
            campaign_member_history::at,
            campaign_member_history::actor,
        ))
        .load(conn)?;
    if rows.is_empty() {
        return Err(RecordError::NotFound { entity: "campaign_member" });
    }
    Ok(rows
        .into_iter()
        .map(|(s, detail, at, actor)| MemberChange {
            status: MemberStatus::parse(&s).unwrap_or(MemberStatus::Targeted),
            detail,
            at: to_utc(at),
            actor,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member() -> Member {
        let t = to_utc(crm_db::now());
        Member {
            id: uuid::Uuid::nil(),
            campaign_id: CampaignId(uuid::Uuid::nil()),
            contact_id: ContactId(uuid::Uuid::nil()),
            channel: Channel::Email,
            status: MemberStatus::Targeted,
            exclusion_reason: None,
            response_type: None,
            bounce_kind: None,
            version: 1,
            added_at: t,
            updated_at: t,
            sent_at: None,
            delivered_at: None,
            opened_at: None,
            clicked_at: None,
            responded_at: None,
            converted_at: None,
            unsubscribed_at: None,
        }
    }

    fn response(status: MemberStatus) -> ResponseInput {
        ResponseInput {
            contact_id: ContactId(uuid::Uuid::nil()),
            status,
            response_type: None,
            bounce_kind: None,
            at: None,
            note: None,
        }
    }

    #[test]
    fn a_step_records_what_it_implies_and_nothing_more() {
        let at = to_utc(crm_db::now());
        let mut m = member();
        apply(&mut m, &response(MemberStatus::Clicked), at);
        assert!(m.sent_at.is_some() && m.delivered_at.is_some() && m.opened_at.is_some() && m.clicked_at.is_some());
        assert_eq!(m.status, MemberStatus::Clicked);
        let mut m = member();
        apply(&mut m, &response(MemberStatus::Responded), at);
        assert!(m.opened_at.is_none(), "a reply does not prove an open");
        assert_eq!((m.status, m.response_type), (MemberStatus::Responded, Some(ResponseType::Replied)));
        let mut m = member();
        apply(&mut m, &response(MemberStatus::Bounced), at);
        assert_eq!((m.status, m.bounce_kind), (MemberStatus::Bounced, Some(BounceKind::Hard)));
        // A bounce after a delivery changes nothing; an unsubscribe wins over every step.
        let mut m = member();
        apply(&mut m, &response(MemberStatus::Delivered), at);
        let before = m.clone();
        apply(&mut m, &response(MemberStatus::Bounced), at);
        assert_eq!(m, before);
        apply(&mut m, &response(MemberStatus::Converted), at);
        apply(&mut m, &response(MemberStatus::Unsubscribed), at);
        assert_eq!(m.status, MemberStatus::Unsubscribed);
        assert!(m.converted_at.is_some());
    }
}
