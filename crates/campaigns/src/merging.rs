//! The campaigns domain's side of a contact merge: segment memberships, campaign memberships
//! with their history, sends and attributions of the losers move to the survivor. Where both
//! were in the same segment or campaign, the survivor's membership stays; the loser's history
//! joins it (numbered after the survivor's own).

use chrono::NaiveDateTime;
use crm_core::Actor;
use crm_db::AnyConnection;
use crm_db::schema::{
    campaign_attributions, campaign_member_history, campaign_members, campaign_sends, segment_members,
};
use crm_db::types::DbUuid;
use crm_events::Action;
use crm_records::RecordError;
use crm_records::hooks::Moved;
use diesel::dsl::max;
use diesel::prelude::*;
use uuid::Uuid;

pub fn contacts_merged(
    conn: &mut AnyConnection,
    actor: &Actor,
    losers: &[Uuid],
    survivor: Uuid,
) -> Result<Vec<Moved>, RecordError> {
    let to = DbUuid(survivor);
    let gone: Vec<DbUuid> = losers.iter().copied().map(DbUuid).collect();

    // Segments: the survivor joins the segments it was not in; the losers' rows go.
    let theirs: Vec<DbUuid> = segment_members::table
        .filter(segment_members::contact_id.eq_any(&gone))
        .select(segment_members::segment_id)
        .distinct()
        .load(conn)?;
    let mine: Vec<DbUuid> = segment_members::table
        .filter(segment_members::contact_id.eq(to))
        .select(segment_members::segment_id)
        .load(conn)?;
    let joined: Vec<DbUuid> = theirs.iter().filter(|s| !mine.contains(s)).copied().collect();
    for segment in &joined {
        diesel::insert_into(segment_members::table)
            .values((segment_members::segment_id.eq(*segment), segment_members::contact_id.eq(to)))
            .execute(conn)?;
    }
    diesel::delete(segment_members::table.filter(segment_members::contact_id.eq_any(&gone))).execute(conn)?;

    // Campaigns, one membership at a time (a contact is a member of a campaign once).
    let memberships: Vec<(DbUuid, DbUuid, DbUuid)> = campaign_members::table
        .filter(campaign_members::contact_id.eq_any(&gone))
        .select((campaign_members::campaign_id, campaign_members::contact_id, campaign_members::id))
        .order((campaign_members::campaign_id, campaign_members::contact_id))
        .load(conn)?;
    for (campaign, loser, member) in &memberships {
        let survivor_is_member = campaign_members::table
            .filter(campaign_members::campaign_id.eq(*campaign))
            .filter(campaign_members::contact_id.eq(to))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        let last: Option<i64> = campaign_member_history::table
            .filter(campaign_member_history::campaign_id.eq(*campaign))
            .filter(campaign_member_history::contact_id.eq(to))
            .select(max(campaign_member_history::seq))
            .first(conn)?;
        // The history points at its membership: it leaves with the loser's row and comes back
        // on the survivor's, numbered after the survivor's own.
        let of_loser = campaign_member_history::table
            .filter(campaign_member_history::campaign_id.eq(*campaign))
            .filter(campaign_member_history::contact_id.eq(*loser));
        let history: Vec<(i64, String, Option<String>, NaiveDateTime, String)> = of_loser
            .select((
                campaign_member_history::seq,
                campaign_member_history::status,
                campaign_member_history::detail,
                campaign_member_history::at,
                campaign_member_history::actor,
            ))
            .order(campaign_member_history::seq)
            .load(conn)?;
        diesel::delete(of_loser).execute(conn)?;
        let row = campaign_members::table
            .filter(campaign_members::campaign_id.eq(*campaign))
            .filter(campaign_members::contact_id.eq(*loser));
        // Integrators mirroring members see the membership move (or go, where the survivor's
        // stays), as the change feed tells every other member change.
        let before = serde_json::json!({"campaign_id": campaign.0, "contact_id": loser.0});
        if survivor_is_member {
            diesel::delete(row).execute(conn)?;
            let after = serde_json::json!({"campaign_id": campaign.0, "contact_id": loser.0, "merged_into": survivor});
            crm_events::record(conn, actor, "campaign_member", member.0, Action::Deleted, Some(before), Some(after))?;
        } else {
            diesel::update(row)
                .set((
                    campaign_members::contact_id.eq(to),
                    campaign_members::version.eq(campaign_members::version + 1),
                    campaign_members::updated_at.eq(crm_db::now()),
                ))
                .execute(conn)?;
            let after = serde_json::json!({"campaign_id": campaign.0, "contact_id": survivor});
            crm_events::record(conn, actor, "campaign_member", member.0, Action::Updated, Some(before), Some(after))?;
        }
        let offset = last.unwrap_or(0);
        for (seq, status, detail, at, actor) in history {
            diesel::insert_into(campaign_member_history::table)
                .values((
                    campaign_member_history::campaign_id.eq(*campaign),
                    campaign_member_history::contact_id.eq(to),
                    campaign_member_history::seq.eq(seq + offset),
                    campaign_member_history::status.eq(status),
                    campaign_member_history::detail.eq(detail),
                    campaign_member_history::at.eq(at),
                    campaign_member_history::actor.eq(actor),
                ))
                .execute(conn)?;
        }
    }
    let sends = diesel::update(campaign_sends::table.filter(campaign_sends::contact_id.eq_any(&gone)))
        .set(campaign_sends::contact_id.eq(to))
        .execute(conn)?;
    let attributions =
        diesel::update(campaign_attributions::table.filter(campaign_attributions::contact_id.eq_any(&gone)))
            .set(campaign_attributions::contact_id.eq(to))
            .execute(conn)?;
    Ok(vec![
        Moved { resource: "segment_members", field: "contact_id", count: theirs.len() },
        Moved { resource: "campaign_members", field: "contact_id", count: memberships.len() },
        Moved { resource: "campaign_sends", field: "contact_id", count: sends },
        Moved { resource: "campaign_attributions", field: "contact_id", count: attributions },
    ])
}
