//! Campaign members: one row per (campaign, contact), materialized from the campaign's
//! segments when it is scheduled or launched (or added by hand before it runs), with consent
//! enforced for the campaign's channel: a contact who may not be reached on it is a member
//! with status `excluded` and the reason, and is never contacted. Responses move a member
//! along its funnel (sent → delivered → opened → clicked → responded → converted, or bounced,
//! or unsubscribed); each change is kept in the member's history and is a
//! `campaign_member.updated` event. [`stats`] is the review.

pub use responses::{MAX_RESPONSES, MemberChange, ResponseInput, Responses, member_history, record_responses};
pub(crate) use responses::{record_for, withdraw_consent as withdraw};
pub use stats::{CampaignStats, ChannelFigures, ExclusionCount, PlanVsActual, Roi, ratio_bp, stats};
pub(crate) use stats::{figures, programme};

use std::collections::HashSet;

use chrono::NaiveDateTime;
use crm_core::ids::{CampaignId, ContactId};
use crm_core::list::Page;
use crm_core::{Actor, Scope, Timestamp, wire_enum};
use crm_db::schema::{campaign_member_history, campaign_members, contacts};
use crm_db::sql::Sql;
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, to_utc};
use crm_records::{Record, RecordError, Stored};
use diesel::prelude::*;
use serde::Serialize;

use crate::campaigns::{Campaign, Channel};
use crate::segments;

wire_enum!(
    /// Where a member stands.
    MemberStatus {
        /// To be contacted.
        Targeted = "targeted",
        /// Never contacted on this campaign's channel (see `exclusion_reason`).
        Excluded = "excluded",
        Sent = "sent",
        Delivered = "delivered",
        /// Returned undelivered (`bounce_kind`: hard or soft).
        Bounced = "bounced",
        Opened = "opened",
        Clicked = "clicked",
        /// Answered (see `response_type`).
        Responded = "responded",
        /// Bought or won a deal.
        Converted = "converted",
        /// Asked to receive nothing more on this channel.
        Unsubscribed = "unsubscribed",
    }
);

wire_enum!(
    /// Why a member is never contacted.
    ExclusionReason {
        /// Opted out of all marketing, or of this channel (email consent `opted_out`).
        OptedOut = "opted_out",
        DoNotCall = "do_not_call",
        DoNotMail = "do_not_mail",
        /// No email, phone or complete postal address for the channel.
        NoAddress = "no_address",
        /// The contact is archived.
        Archived = "archived",
        /// Post only: another member at the same postal address gets the mailing.
        DuplicateHousehold = "duplicate_household",
        /// Email only: an earlier email to the contact bounced hard.
        BouncedBefore = "bounced_before",
        /// The processing of the contact's data is restricted (a privacy request).
        Restricted = "restricted",
    }
);

wire_enum!(
    /// What kind of answer a response was.
    ResponseType {
        Replied = "replied",
        Registered = "registered",
        RequestedCall = "requested_call",
        Complaint = "complaint",
    }
);

wire_enum!(
    /// Whether a bounce is permanent.
    BounceKind {
        Hard = "hard",
        Soft = "soft",
    }
);

/// A contact's membership of a campaign.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Member {
    /// The membership's id (its events in the change feed carry it).
    pub id: uuid::Uuid,
    /// The campaign.
    pub campaign_id: CampaignId,
    /// The contact.
    pub contact_id: ContactId,
    /// The campaign's channel.
    pub channel: Channel,
    /// Where the member stands.
    pub status: MemberStatus,
    /// Why an excluded member is never contacted.
    pub exclusion_reason: Option<ExclusionReason>,
    /// What kind of answer the response was.
    pub response_type: Option<ResponseType>,
    /// Whether a bounce was permanent.
    pub bounce_kind: Option<BounceKind>,
    /// Incremented by every change.
    pub version: i64,
    /// When the contact became a member (UTC).
    pub added_at: Timestamp,
    /// When the membership last changed (UTC).
    pub updated_at: Timestamp,
    /// First time the campaign's material went out to the member.
    pub sent_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub opened_at: Option<Timestamp>,
    pub clicked_at: Option<Timestamp>,
    pub responded_at: Option<Timestamp>,
    pub converted_at: Option<Timestamp>,
    pub unsubscribed_at: Option<Timestamp>,
}

type MemberRow = (
    DbUuid,
    DbUuid,
    DbUuid,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    NaiveDateTime,
    NaiveDateTime,
    (
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
    ),
);

macro_rules! member_columns {
    () => {
        (
            campaign_members::id,
            campaign_members::campaign_id,
            campaign_members::contact_id,
            campaign_members::channel,
            campaign_members::status,
            campaign_members::exclusion_reason,
            campaign_members::response_type,
            campaign_members::bounce_kind,
            campaign_members::version,
            campaign_members::added_at,
            campaign_members::updated_at,
            (
                campaign_members::sent_at,
                campaign_members::delivered_at,
                campaign_members::opened_at,
                campaign_members::clicked_at,
                campaign_members::responded_at,
                campaign_members::converted_at,
                campaign_members::unsubscribed_at,
            ),
        )
    };
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Member {
        let t = |x: Option<NaiveDateTime>| x.map(to_utc);
        let (sent, delivered, opened, clicked, responded, converted, unsubscribed) = r.11;
        Member {
            id: r.0.0,
            campaign_id: CampaignId(r.1.0),
            contact_id: ContactId(r.2.0),
            channel: Channel::parse(&r.3).unwrap_or(Channel::Email),
            status: MemberStatus::parse(&r.4).unwrap_or(MemberStatus::Targeted),
            exclusion_reason: r.5.as_deref().and_then(ExclusionReason::parse),
            response_type: r.6.as_deref().and_then(ResponseType::parse),
            bounce_kind: r.7.as_deref().and_then(BounceKind::parse),
            version: r.8,
            added_at: to_utc(r.9),
            updated_at: to_utc(r.10),
            sent_at: t(sent),
            delivered_at: t(delivered),
            opened_at: t(opened),
            clicked_at: t(clicked),
            responded_at: t(responded),
            converted_at: t(converted),
            unsubscribed_at: t(unsubscribed),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Materializing

/// What consent checks read of a contact.
type Reach = (
    DbUuid,
    Option<NaiveDateTime>,
    Option<String>,
    Option<String>,
    (Option<String>, Option<String>, Option<String>, Option<String>),
    String,
    bool,
    bool,
    bool,
);

/// The contacts kept out of a channel whatever the campaign, read once per pass over members.
#[derive(Default)]
struct Barred {
    /// An email to them bounced hard (email campaigns).
    bounced_before: HashSet<uuid::Uuid>,
    /// Their processing is restricted (a data-subject request).
    restricted: HashSet<uuid::Uuid>,
}

impl Barred {
    fn read(conn: &mut AnyConnection, channel: Channel) -> QueryResult<Barred> {
        Ok(Barred {
            bounced_before: hard_bounces(conn, channel)?,
            restricted: crm_contacts::restrictions::restricted_contacts(conn)?,
        })
    }
}

/// Why a contact may not be contacted on `channel`, if it may not. `households` holds the
/// postal addresses already taken by a member (post: one mailing per address).
fn exclusion(
    channel: Channel,
    r: &Reach,
    barred: &Barred,
    households: &mut HashSet<(String, String, String)>,
) -> Option<ExclusionReason> {
    let (id, archived_at, email, phone, (street, postal_code, city, country), consent, no_call, no_mail, opt_out) = r;
    if barred.restricted.contains(&id.0) {
        return Some(ExclusionReason::Restricted);
    }
    if archived_at.is_some() {
        return Some(ExclusionReason::Archived);
    }
    if *opt_out {
        return Some(ExclusionReason::OptedOut);
    }
    match channel {
        Channel::Email => {
            if consent == "opted_out" {
                return Some(ExclusionReason::OptedOut);
            }
            if email.is_none() {
                return Some(ExclusionReason::NoAddress);
            }
            if barred.bounced_before.contains(&id.0) {
                return Some(ExclusionReason::BouncedBefore);
            }
        }
        Channel::Phone => {
            if *no_call {
                return Some(ExclusionReason::DoNotCall);
            }
            if phone.is_none() {
                return Some(ExclusionReason::NoAddress);
            }
        }
        Channel::Post => {
            if *no_mail {
                return Some(ExclusionReason::DoNotMail);
            }
            let (Some(street), Some(postal_code), Some(_), Some(country)) = (street, postal_code, city, country) else {
                return Some(ExclusionReason::NoAddress);
            };
            let key = (
                street.to_lowercase().split_whitespace().collect::<Vec<_>>().join(" "),
                postal_code.to_uppercase().replace(' ', ""),
                country.clone(),
            );
            if !households.insert(key) {
                return Some(ExclusionReason::DuplicateHousehold);
            }
        }
    }
    None
}

fn reach_of(conn: &mut AnyConnection, cond: Sql) -> QueryResult<Vec<Reach>> {
    contacts::table
        .filter(cond)
        .select((
            contacts::id,
            contacts::archived_at,
            contacts::email,
            contacts::phone,
            (contacts::street, contacts::postal_code, contacts::city, contacts::country),
            contacts::email_consent,
            contacts::do_not_call,
            contacts::do_not_mail,
            contacts::marketing_opt_out,
        ))
        .order(contacts::id)
        .load(conn)
}

/// Rows per multi-row insert (9 binds each: within both databases' limits).
const CHUNK: usize = 1000;

/// Adds the contacts `cond` selects to the campaign (those already members are left as they
/// are), each `targeted` or `excluded` with its reason; returns how many were added.
fn add_members(conn: &mut AnyConnection, actor: &Actor, c: &Campaign, cond: Sql) -> Result<usize, RecordError> {
    let key = DbUuid(c.id.0);
    let existing: HashSet<uuid::Uuid> = campaign_members::table
        .filter(campaign_members::campaign_id.eq(key))
        .select(campaign_members::contact_id)
        .load::<DbUuid>(conn)?
        .into_iter()
        .map(|u| u.0)
        .collect();
    let barred = Barred::read(conn, c.channel)?;
    let mut households = HashSet::new();
    if c.channel == Channel::Post && !existing.is_empty() {
        // Addresses the members already present (added by hand) take.
        let mut mine = Sql::new(conn.backend());
        mine.push("id IN (SELECT contact_id FROM campaign_members WHERE campaign_id = ")
            .bind(c.id.0)
            .push(" AND status <> 'excluded')");
        for r in reach_of(conn, mine)? {
            let _ = exclusion(Channel::Post, &r, &Barred::default(), &mut households);
        }
    }
    let now = crm_db::now();
    let rows: Vec<(uuid::Uuid, uuid::Uuid, Option<ExclusionReason>)> = reach_of(conn, cond)?
        .into_iter()
        .filter(|r| !existing.contains(&r.0.0))
        .map(|r| (uuid::Uuid::now_v7(), r.0.0, exclusion(c.channel, &r, &barred, &mut households)))
        .collect();
    let channel = c.channel.as_str();
    for chunk in rows.chunks(CHUNK) {
        let members: Vec<_> = chunk
            .iter()
            .map(|(id, contact, reason)| {
                let status = if reason.is_some() { MemberStatus::Excluded } else { MemberStatus::Targeted };
                (
                    campaign_members::id.eq(DbUuid(*id)),
                    campaign_members::campaign_id.eq(key),
                    campaign_members::contact_id.eq(DbUuid(*contact)),
                    campaign_members::channel.eq(channel),
                    campaign_members::status.eq(status.as_str()),
                    campaign_members::exclusion_reason.eq(reason.map(|r| r.as_str())),
                    campaign_members::version.eq(1i64),
                    campaign_members::added_at.eq(now),
                    campaign_members::updated_at.eq(now),
                )
            })
            .collect();
        let history: Vec<_> = chunk
            .iter()
            .map(|(_, contact, reason)| {
                let status = if reason.is_some() { MemberStatus::Excluded } else { MemberStatus::Targeted };
                (
                    campaign_member_history::campaign_id.eq(key),
                    campaign_member_history::contact_id.eq(DbUuid(*contact)),
                    campaign_member_history::seq.eq(1i64),
                    campaign_member_history::status.eq(status.as_str()),
                    campaign_member_history::detail.eq(reason.map(|r| r.as_str())),
                    campaign_member_history::at.eq(now),
                    campaign_member_history::actor.eq(actor.sub.as_str()),
                )
            })
            .collect();
        match conn {
            AnyConnection::Postgresql(pg) => {
                diesel::insert_into(campaign_members::table).values(&members).execute(pg)?;
                diesel::insert_into(campaign_member_history::table).values(&history).execute(pg)?;
            }
            AnyConnection::Sqlite(lite) => {
                diesel::insert_into(campaign_members::table).values(&members).execute(lite)?;
                diesel::insert_into(campaign_member_history::table).values(&history).execute(lite)?;
            }
        }
    }
    Ok(rows.len())
}

/// Whether a campaign has members.
pub(crate) fn any(conn: &mut AnyConnection, id: CampaignId) -> QueryResult<bool> {
    use diesel::dsl::exists;
    diesel::select(exists(campaign_members::table.filter(campaign_members::campaign_id.eq(DbUuid(id.0)))))
        .get_result(conn)
}

/// Checks the consent of the targeted members again (a contact may have opted out since it was
/// added): those who may no longer be reached become `excluded` with the reason. Returns how many.
fn recheck(conn: &mut AnyConnection, actor: &Actor, c: &Campaign) -> Result<usize, RecordError> {
    let key = DbUuid(c.id.0);
    let mut targeted = Sql::new(conn.backend());
    targeted
        .push("id IN (SELECT contact_id FROM campaign_members WHERE campaign_id = ")
        .bind(c.id.0)
        .push(" AND status = 'targeted')");
    let barred = Barred::read(conn, c.channel)?;
    let mut households = HashSet::new();
    let now = crm_db::now();
    let mut n = 0;
    for r in reach_of(conn, targeted)? {
        let Some(reason) = exclusion(c.channel, &r, &barred, &mut households) else { continue };
        let contact = r.0;
        let member: DbUuid = campaign_members::table
            .filter(campaign_members::campaign_id.eq(key))
            .filter(campaign_members::contact_id.eq(contact))
            .select(campaign_members::id)
            .first(conn)?;
        diesel::update(
            campaign_members::table
                .filter(campaign_members::campaign_id.eq(key))
                .filter(campaign_members::contact_id.eq(contact)),
        )
        .set((
            campaign_members::status.eq(MemberStatus::Excluded.as_str()),
            campaign_members::exclusion_reason.eq(reason.as_str()),
            campaign_members::version.eq(campaign_members::version + 1),
            campaign_members::updated_at.eq(now),
        ))
        .execute(conn)?;
        append_history(conn, actor, c.id, contact, MemberStatus::Excluded, Some(reason.as_str()), now)?;
        let before = serde_json::json!({"campaign_id": c.id, "contact_id": contact.0, "status": "targeted"});
        let after = serde_json::json!({"campaign_id": c.id, "contact_id": contact.0, "status": "excluded",
            "exclusion_reason": reason.as_str()});
        crm_events::record(
            conn,
            actor,
            "campaign_member",
            member.0,
            crm_events::Action::Updated,
            Some(before),
            Some(after),
        )?;
        n += 1;
    }
    Ok(n)
}

/// Appends an entry to a member's history (the next `seq`).
fn append_history(
    conn: &mut AnyConnection,
    actor: &Actor,
    campaign: CampaignId,
    contact: DbUuid,
    status: MemberStatus,
    detail: Option<&str>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let key = DbUuid(campaign.0);
    let seq: Option<i64> = campaign_member_history::table
        .filter(campaign_member_history::campaign_id.eq(key))
        .filter(campaign_member_history::contact_id.eq(contact))
        .select(diesel::dsl::max(campaign_member_history::seq))
        .first(conn)?;
    diesel::insert_into(campaign_member_history::table)
        .values((
            campaign_member_history::campaign_id.eq(key),
            campaign_member_history::contact_id.eq(contact),
            campaign_member_history::seq.eq(seq.unwrap_or(0) + 1),
            campaign_member_history::status.eq(status.as_str()),
            campaign_member_history::detail.eq(detail),
            campaign_member_history::at.eq(at),
            campaign_member_history::actor.eq(actor.sub.as_str()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The contacts an email to whom bounced hard (for email campaigns).
fn hard_bounces(conn: &mut AnyConnection, channel: Channel) -> QueryResult<HashSet<uuid::Uuid>> {
    if channel != Channel::Email {
        return Ok(HashSet::new());
    }
    Ok(campaign_members::table
        .filter(campaign_members::channel.eq("email"))
        .filter(campaign_members::bounce_kind.eq("hard"))
        .select(campaign_members::contact_id)
        .distinct()
        .load::<DbUuid>(conn)?
        .into_iter()
        .map(|u| u.0)
        .collect())
}

/// Materializes a campaign's members from its segments (the union of their members now),
/// after checking again the consent of those already targeted. Runs in the transaction that
/// schedules or launches it.
pub(crate) fn materialize(conn: &mut AnyConnection, actor: &Actor, c: &Campaign) -> Result<usize, RecordError> {
    let rechecked = recheck(conn, actor, c)?;
    let segs = crate::campaigns::segments_of(conn, c)?;
    let mut cond = Sql::new(conn.backend());
    cond.push("(");
    for (n, s) in segs.iter().enumerate() {
        if n > 0 {
            cond.push(" OR ");
        }
        cond.push("(").append(segments::member_condition(conn, actor, s)?).push(")");
    }
    if segs.is_empty() {
        cond.push("1=0");
    }
    cond.push(")");
    let added = add_members(conn, actor, c, cond)?;
    tracing::info!(campaign = %c.id, added, rechecked, "campaign members materialized");
    Ok(added)
}

fn campaign_for_members(conn: &mut AnyConnection, actor: &Actor, id: CampaignId) -> Result<Campaign, RecordError> {
    actor.require(Scope::CampaignsWrite)?;
    actor.require(Scope::ContactsRead)?;
    let c = crm_records::get::<Campaign>(conn, actor, id)?;
    if !c.status.before_launch() || c.archived_at.is_some() {
        return Err(RecordError::Conflict {
            entity: Campaign::ENTITY,
            code: "CAMPAIGN_ALREADY_LAUNCHED",
            reason: format!(
                "members are added and removed by hand only before a campaign runs; it is {}",
                c.status.as_str()
            ),
        });
    }
    Ok(c)
}

/// Adds contacts to a campaign by hand before it runs (consent is checked as for segment
/// members); returns how many were added (those already members are left as they are).
pub fn add(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: CampaignId,
    contact_ids: &[ContactId],
) -> Result<usize, RecordError> {
    let c = campaign_for_members(conn, actor, id)?;
    if contact_ids.is_empty() || contact_ids.len() > 10_000 {
        return Err(RecordError::invalid(Campaign::ENTITY, "contact_ids", "out_of_range", "1 to 10000 contacts"));
    }
    let ids: Vec<ContactId> = contact_ids.to_vec();
    let found: HashSet<ContactId> =
        crm_contacts::Contact::find_many(conn, &ids, false)?.into_iter().map(|c| c.id).collect();
    if let Some((n, missing)) = ids.iter().enumerate().find(|(_, i)| !found.contains(i)) {
        return Err(RecordError::missing_reference(Campaign::ENTITY, &format!("contact_ids[{n}]"), "contact", missing));
    }
    let cond = crm_db::sql::in_ids("id", ids.iter().map(|i| i.0), conn.backend());
    add_members(conn, actor, &c, cond)
}

/// Removes a member by hand before the campaign runs.
pub fn remove(conn: &mut AnyConnection, actor: &Actor, id: CampaignId, contact: ContactId) -> Result<(), RecordError> {
    campaign_for_members(conn, actor, id)?;
    let (cid, ct) = (DbUuid(id.0), DbUuid(contact.0));
    diesel::delete(
        campaign_member_history::table
            .filter(campaign_member_history::campaign_id.eq(cid))
            .filter(campaign_member_history::contact_id.eq(ct)),
    )
    .execute(conn)?;
    let n = diesel::delete(
        campaign_members::table
            .filter(campaign_members::campaign_id.eq(cid))
            .filter(campaign_members::contact_id.eq(ct)),
    )
    .execute(conn)?;
    if n == 0 {
        return Err(RecordError::NotFound { entity: "campaign_member" });
    }
    Ok(())
}

/// One page of a campaign's members in contact id order after `after`, optionally of one
/// status; `total` counts the members of that status (all when none is given).
pub fn list(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: CampaignId,
    status: Option<MemberStatus>,
    after: Option<ContactId>,
    limit: u32,
) -> Result<Page<Member>, RecordError> {
    crm_records::get::<Campaign>(conn, actor, id)?;
    let key = DbUuid(id.0);
    let limit = crate::check_limit(limit)?;
    let mut q = campaign_members::table.filter(campaign_members::campaign_id.eq(key)).into_boxed();
    let mut count = campaign_members::table.filter(campaign_members::campaign_id.eq(key)).into_boxed();
    if let Some(s) = status {
        q = q.filter(campaign_members::status.eq(s.as_str()));
        count = count.filter(campaign_members::status.eq(s.as_str()));
    }
    if let Some(a) = after {
        q = q.filter(campaign_members::contact_id.gt(DbUuid(a.0)));
    }
    let mut rows: Vec<MemberRow> =
        q.select(member_columns!()).order(campaign_members::contact_id).limit(i64::from(limit) + 1).load(conn)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let data: Vec<Member> = rows.into_iter().map(Member::from).collect();
    let next_cursor = if more { data.last().map(|m| m.contact_id.to_string()) } else { None };
    let total: i64 = count.count().get_result(conn)?;
    Ok(Page { data, next_cursor, total: Some(total) })
}

// After `member_columns!`, which they use.
mod responses;
mod stats;

#[cfg(test)]
mod tests {
    use super::*;

    fn reach(street: Option<&str>, postal: Option<&str>) -> Reach {
        (
            DbUuid(uuid::Uuid::now_v7()),
            None,
            Some("a@b.example".into()),
            Some("+821012345678".into()),
            (street.map(String::from), postal.map(String::from), Some("Seoul".into()), Some("KR".into())),
            "unknown".into(),
            false,
            false,
            false,
        )
    }

    #[test]
    fn one_mailing_per_household_whatever_the_spelling() {
        let none = Barred::default();
        let mut homes = HashSet::new();
        let first = reach(Some("1 Main  St"), Some("04 524"));
        let same = reach(Some("1 main st"), Some("04524"));
        let other = reach(Some("2 Main St"), Some("04524"));
        assert_eq!(exclusion(Channel::Post, &first, &none, &mut homes), None);
        assert_eq!(exclusion(Channel::Post, &same, &none, &mut homes), Some(ExclusionReason::DuplicateHousehold));
        assert_eq!(exclusion(Channel::Post, &other, &none, &mut homes), None);
        // Email and phone do not care about households; an incomplete address is no address.
        assert_eq!(exclusion(Channel::Email, &same, &none, &mut homes), None);
        let partial = reach(Some("3 Main St"), None);
        assert_eq!(exclusion(Channel::Post, &partial, &none, &mut homes), Some(ExclusionReason::NoAddress));
    }
}
