//! Phone waves: launching a phone campaign creates one call activity (`crm_sales`) per member
//! still targeted, with the campaign's script, for the rep who owns the contact's account (or
//! the contact), else for the campaign's callers in turn, else for its owner. Completing such a
//! call records the member's response from the call's logged outcome (the hook
//! `campaign_call`, run by `crm_sales::activities::complete`); cancelling the campaign cancels
//! the calls not made yet.

use std::collections::{HashMap, HashSet};

use chrono::NaiveTime;
use crm_accounts::Account;
use crm_contacts::Contact;
use crm_core::ids::{ActivityId, ContactId, UserId};
use crm_core::{Actor, Patch, Timestamp};
use crm_db::AnyConnection;
use crm_db::schema::{activities, campaign_members};
use crm_db::types::DbUuid;
use crm_interactions::{Interaction, Outcome};
use crm_records::{RecordError, Stored};
use crm_sales::{Activity, ActivityInput, ActivityPatch, ActivityStatus, ActivityType};
use crm_users::User;
use diesel::prelude::*;

use crate::campaigns::{Campaign, CampaignStatus};
use crate::members::{BounceKind, MemberStatus, ResponseInput, ResponseType};

/// Members handled per round (reads of their contacts, accounts and owners).
const CHUNK: usize = 500;

/// Who takes the call of a contact: the active owner of its account, else of the contact,
/// else the next caller in turn (`None`: the launcher, as any new activity).
fn caller_of(
    contact: &Contact,
    accounts: &HashMap<crm_core::ids::AccountId, Account>,
    active: &HashSet<UserId>,
    callers: &[UserId],
    turn: &mut usize,
) -> Option<UserId> {
    let account_owner = contact.account_id.and_then(|a| accounts.get(&a)).and_then(|a| a.owner_id);
    if let Some(owner) = account_owner.filter(|o| active.contains(o)) {
        return Some(owner);
    }
    if let Some(owner) = contact.owner_id.filter(|o| active.contains(o)) {
        return Some(owner);
    }
    let next = callers.get(*turn % callers.len().max(1)).copied();
    *turn += 1;
    next
}

/// The active users among `ids`.
fn active_users(conn: &mut AnyConnection, ids: Vec<UserId>) -> Result<HashSet<UserId>, RecordError> {
    let mut ids = ids;
    ids.sort_by_key(|u| u.0);
    ids.dedup();
    let users = crm_records::get_many::<User>(conn, &Actor::system(), &ids, false)?;
    Ok(users.into_iter().filter(|u| u.active && u.archived_at.is_none()).map(|u| u.id).collect())
}

/// Creates the call activities of a phone wave entering `running`. Returns how many.
pub(crate) fn launch(conn: &mut AnyConnection, actor: &Actor, c: &Campaign) -> Result<usize, RecordError> {
    let targeted: Vec<DbUuid> = campaign_members::table
        .filter(campaign_members::campaign_id.eq(DbUuid(c.id.0)))
        .filter(campaign_members::status.eq(MemberStatus::Targeted.as_str()))
        .select(campaign_members::contact_id)
        .order(campaign_members::contact_id)
        .load(conn)?;
    let callers: Vec<UserId> = c.caller_ids.iter().copied().chain(c.owner_id).collect();
    let active = active_users(conn, callers)?;
    let mut callers: Vec<UserId> = c.caller_ids.iter().copied().filter(|u| active.contains(u)).collect();
    if callers.is_empty() {
        callers.extend(c.owner_id.filter(|o| active.contains(o)));
    }
    let due_at =
        c.ends_on.map(|d| Timestamp(d.and_time(NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default()).and_utc()));
    let subject: String = format!("Call: {}", c.name).chars().take(300).collect();
    let system = Actor::system();
    let (mut turn, mut made) = (0, 0);
    for chunk in targeted.chunks(CHUNK) {
        let ids: Vec<ContactId> = chunk.iter().map(|k| ContactId(k.0)).collect();
        let people: HashMap<ContactId, Contact> =
            crm_records::get_many::<Contact>(conn, &system, &ids, false)?.into_iter().map(|p| (p.id, p)).collect();
        let account_ids: Vec<_> = people.values().filter_map(|p| p.account_id).collect();
        let accounts: HashMap<_, _> = crm_records::get_many::<Account>(conn, &system, &account_ids, false)?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let owners: Vec<UserId> = people
            .values()
            .flat_map(|p| [p.owner_id, p.account_id.and_then(|a| accounts.get(&a)).and_then(|a| a.owner_id)])
            .flatten()
            .collect();
        let mut owners_active = active_users(conn, owners)?;
        owners_active.extend(active.iter().copied());
        for id in ids {
            let Some(person) = people.get(&id) else { continue };
            let assignee = caller_of(person, &accounts, &owners_active, &callers, &mut turn);
            crm_records::create::<Activity>(
                conn,
                actor,
                ActivityInput {
                    activity_type: Some(ActivityType::Call),
                    subject: Some(subject.clone()),
                    description: c.call_script.clone(),
                    due_at,
                    assignee_id: assignee,
                    contact_id: Some(id),
                    campaign_id: Some(c.id),
                    tags: vec!["campaign".into()],
                    ..Default::default()
                },
            )
            .map_err(|e| e.prefixed("calls."))?;
            made += 1;
        }
    }
    Ok(made)
}

/// Cancels the campaign's calls not made yet (it was cancelled). Returns how many.
pub(crate) fn cancel_open(conn: &mut AnyConnection, actor: &Actor, c: &Campaign) -> Result<usize, RecordError> {
    let open: Vec<DbUuid> = activities::table
        .filter(activities::campaign_id.eq(DbUuid(c.id.0)))
        .filter(activities::status.eq(ActivityStatus::Open.as_str()))
        .select(activities::id)
        .load(conn)?;
    // Every open call goes, whoever it is assigned to.
    let actor = actor.beyond_visibility();
    for id in &open {
        let patch = ActivityPatch { status: Patch::Value(ActivityStatus::Cancelled), ..Default::default() };
        crm_records::update::<Activity>(conn, &actor, ActivityId(id.0), patch, None)?;
    }
    Ok(open.len())
}

/// What a call's logged outcome says about the member: the funnel step, and for an answer its
/// type. Reached (connected, voicemail, not interested): delivered. Not reached (no answer,
/// busy) or not logged: sent (a call was made). A wrong number: a hard bounce. Interested or
/// a follow-up asked for: responded.
pub fn member_status_of(outcome: Option<Outcome>) -> (MemberStatus, Option<ResponseType>, Option<BounceKind>) {
    match outcome {
        Some(Outcome::Connected | Outcome::Completed | Outcome::Voicemail | Outcome::NotInterested) => {
            (MemberStatus::Delivered, None, None)
        }
        Some(Outcome::Interested | Outcome::Replied) => (MemberStatus::Responded, Some(ResponseType::Replied), None),
        Some(Outcome::FollowUp) => (MemberStatus::Responded, Some(ResponseType::RequestedCall), None),
        Some(Outcome::WrongNumber | Outcome::Bounced) => (MemberStatus::Bounced, None, Some(BounceKind::Hard)),
        Some(Outcome::NoAnswer | Outcome::Busy) | None => (MemberStatus::Sent, None, None),
    }
}

/// The hook run when a campaign's call is completed: records the contact's response as a
/// member of the campaign, in the same transaction, attributed to the rep. A call about a
/// contact that is not a member (or an excluded one), or of a campaign no longer taking
/// responses, records nothing.
pub fn record_call(conn: &mut AnyConnection, actor: &Actor, activity: uuid::Uuid) -> Result<(), RecordError> {
    let Some(a) = Activity::find(conn, ActivityId(activity))? else { return Ok(()) };
    let (Some(campaign), Some(contact)) = (a.campaign_id, a.contact_id) else { return Ok(()) };
    let outcome = match a.interaction_id {
        Some(x) => Interaction::find(conn, x)?.and_then(|i| i.outcome),
        None => None,
    };
    let Some(c) = Campaign::find(conn, campaign)? else { return Ok(()) };
    if !matches!(c.status, CampaignStatus::Running | CampaignStatus::Completed) {
        return Ok(());
    }
    let (status, response_type, bounce_kind) = member_status_of(outcome);
    let r = ResponseInput {
        contact_id: contact,
        status,
        response_type,
        bounce_kind,
        at: a.completed_at,
        note: Some(format!("call: {}", outcome.map_or("completed, no outcome logged", |o| o.as_str()))),
    };
    match crate::members::record_for(conn, actor, campaign, vec![r]) {
        Ok(_) | Err(RecordError::Invalid { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_to_funnel_steps() {
        assert_eq!(member_status_of(None).0, MemberStatus::Sent);
        assert_eq!(member_status_of(Some(Outcome::NoAnswer)).0, MemberStatus::Sent);
        assert_eq!(member_status_of(Some(Outcome::Voicemail)).0, MemberStatus::Delivered);
        assert_eq!(
            member_status_of(Some(Outcome::FollowUp)),
            (MemberStatus::Responded, Some(ResponseType::RequestedCall), None)
        );
        assert_eq!(member_status_of(Some(Outcome::WrongNumber)), (MemberStatus::Bounced, None, Some(BounceKind::Hard)));
    }
}
