//! The access bundle: everything held about a person, as one JSON document kept with the job
//! (`GET /privacy/requests/{id}/bundle`). Records appear as the API shows them; what has no
//! resource of its own (campaign memberships and messages, web activity, analyses, history) as
//! its stored columns.

use chrono::NaiveDateTime;
use crm_cases::Case;
use crm_contacts::{Consent, Contact};
use crm_core::Actor;
use crm_core::ids::{EntityId, JobId};
use crm_db::AnyConnection;
use crm_db::schema::{
    campaign_members, campaign_sends, case_comments, customer_analytics, events, web_events, web_visitors,
};
use crm_db::sql::Sql;
use crm_db::types::{DbJson, DbUuid};
use crm_interactions::Interaction;
use crm_products::Purchase;
use crm_records::{Record, RecordError};
use crm_sales::{Activity, Lead, Opportunity};
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::holds::LegalHold;
use crate::people::{self, Person};

/// Bytes per stored piece of the bundle.
const PIECE: usize = 1 << 20;

fn ids_where(conn: &mut AnyConnection, table: &'static str, cond: Sql) -> Result<Vec<uuid::Uuid>, RecordError> {
    Ok(crm_db::sql::ids_where(conn, table, cond)?)
}

/// Records of `R` (as the API shows them, external ids included) whose ids `cond` selects.
fn records<R: Record>(conn: &mut AnyConnection, cond: Sql) -> Result<Value, RecordError> {
    let ids: Vec<R::Id> = ids_where(conn, R::catalog().table, cond)?.into_iter().map(R::Id::from_uuid).collect();
    let found = crm_records::get_many::<R>(conn, &Actor::system(), &ids, true)?;
    Ok(serde_json::to_value(found).unwrap_or_default())
}

/// `column IN (ids)`.
fn any(conn: &AnyConnection, column: &str, ids: &[uuid::Uuid]) -> Sql {
    crm_db::sql::in_ids(column, ids.iter().copied(), conn.backend())
}

/// `a IN (xs) OR b IN (ys)`.
fn either(conn: &AnyConnection, a: (&str, &[uuid::Uuid]), b: (&str, &[uuid::Uuid])) -> Sql {
    let mut cond = any(conn, a.0, a.1);
    cond.push(" OR ");
    cond.append(any(conn, b.0, b.1));
    cond
}

fn time(t: NaiveDateTime) -> Value {
    json!(t.and_utc())
}

type CommentRow = (DbUuid, DbUuid, String, String, String, NaiveDateTime);
type MemberRow =
    (DbUuid, DbUuid, String, String, Option<String>, NaiveDateTime, Option<NaiveDateTime>, Option<NaiveDateTime>);
type SendRow = (DbUuid, DbUuid, String, String, NaiveDateTime, Option<NaiveDateTime>);
type WebRow = (String, String, String, Option<String>, Option<String>, NaiveDateTime);
type AnalysisRow = (DbUuid, DbUuid, String, String, i64, i64, Option<i64>, Option<f64>, bool);

/// The bundle's document.
pub fn bundle(conn: &mut AnyConnection, request: JobId, found: &[Person]) -> Result<Value, RecordError> {
    let contacts = people::of(found, "contact");
    let leads = people::of(found, "lead");
    let cs: Vec<DbUuid> = contacts.iter().copied().map(DbUuid).collect();
    let mut doc = json!({
        "request_id": request,
        "generated_at": chrono::Utc::now(),
        "contacts": records::<Contact>(conn, any(conn, "id", &contacts))?,
        "leads": records::<Lead>(conn, any(conn, "id", &leads))?,
        "consents": records::<Consent>(conn, either(conn, ("contact_id", &contacts), ("lead_id", &leads)))?,
        "legal_holds": records::<LegalHold>(conn, either(conn, ("contact_id", &contacts), ("lead_id", &leads)))?,
        "cases": records::<Case>(conn, any(conn, "contact_id", &contacts))?,
        "activities": records::<Activity>(conn, either(conn, ("contact_id", &contacts), ("lead_id", &leads)))?,
        "opportunities": records::<Opportunity>(conn, any(conn, "contact_id", &contacts))?,
        "purchases": records::<Purchase>(conn, any(conn, "contact_id", &contacts))?,
    });
    let mut by_participant = any(conn, "lead_id", &leads);
    by_participant.push(" OR id IN (SELECT interaction_id FROM interaction_contacts WHERE ");
    by_participant.append(any(conn, "contact_id", &contacts));
    by_participant.push(")");
    doc["interactions"] = records::<Interaction>(conn, by_participant)?;
    let cases: Vec<DbUuid> = doc["cases"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["id"].as_str()?.parse().ok()).map(DbUuid).collect())
        .unwrap_or_default();
    let comments: Vec<CommentRow> = case_comments::table
        .filter(case_comments::case_id.eq_any(cases))
        .select((
            case_comments::id,
            case_comments::case_id,
            case_comments::author_sub,
            case_comments::body,
            case_comments::visibility,
            case_comments::created_at,
        ))
        .order(case_comments::created_at)
        .load(conn)?;
    doc["case_comments"] = comments
        .into_iter()
        .map(|c| json!({ "id": c.0.0, "case_id": c.1.0, "author": c.2, "body": c.3, "visibility": c.4, "created_at": time(c.5) }))
        .collect();
    let members: Vec<MemberRow> = campaign_members::table
        .filter(campaign_members::contact_id.eq_any(&cs))
        .select((
            campaign_members::campaign_id,
            campaign_members::contact_id,
            campaign_members::channel,
            campaign_members::status,
            campaign_members::response_type,
            campaign_members::added_at,
            campaign_members::responded_at,
            campaign_members::unsubscribed_at,
        ))
        .load(conn)?;
    doc["campaign_memberships"] = members
        .into_iter()
        .map(|m| {
            json!({ "campaign_id": m.0.0, "contact_id": m.1.0, "channel": m.2, "status": m.3, "response_type": m.4,
                    "added_at": time(m.5), "responded_at": m.6.map(time), "unsubscribed_at": m.7.map(time) })
        })
        .collect();
    let sends: Vec<SendRow> = campaign_sends::table
        .filter(campaign_sends::contact_id.eq_any(&cs))
        .select((
            campaign_sends::campaign_id,
            campaign_sends::contact_id,
            campaign_sends::to_address,
            campaign_sends::status,
            campaign_sends::created_at,
            campaign_sends::sent_at,
        ))
        .load(conn)?;
    doc["campaign_messages"] = sends
        .into_iter()
        .map(|s| json!({ "campaign_id": s.0.0, "contact_id": s.1.0, "to_address": s.2, "status": s.3, "created_at": time(s.4), "sent_at": s.5.map(time) }))
        .collect();
    let visitors: Vec<String> =
        web_visitors::table.filter(web_visitors::contact_id.eq_any(&cs)).select(web_visitors::visitor_id).load(conn)?;
    let web: Vec<WebRow> = web_events::table
        .filter(web_events::visitor_id.eq_any(&visitors))
        .select((
            web_events::visitor_id,
            web_events::kind,
            web_events::url,
            web_events::title,
            web_events::referrer,
            web_events::occurred_at,
        ))
        .order(web_events::occurred_at)
        .load(conn)?;
    doc["web_activity"] = web
        .into_iter()
        .map(|w| json!({ "visitor_id": w.0, "kind": w.1, "url": w.2, "title": w.3, "referrer": w.4, "occurred_at": time(w.5) }))
        .collect();
    let analyses: Vec<AnalysisRow> = customer_analytics::table
        .filter(customer_analytics::customer_type.eq("contact"))
        .filter(customer_analytics::customer_id.eq_any(&cs))
        .select((
            customer_analytics::run_id,
            customer_analytics::customer_id,
            customer_analytics::segment,
            customer_analytics::rfm_cell,
            customer_analytics::recency_days,
            customer_analytics::revenue_minor,
            customer_analytics::predicted_clv_minor,
            customer_analytics::probability_alive,
            customer_analytics::drifting,
        ))
        .load(conn)?;
    doc["analyses"] = analyses
        .into_iter()
        .map(|a| {
            json!({ "run_id": a.0.0, "contact_id": a.1.0, "segment": a.2, "rfm_cell": a.3, "recency_days": a.4,
                    "revenue_minor": a.5, "predicted_clv_minor": a.6, "probability_alive": a.7, "drifting": a.8 })
        })
        .collect();
    doc["restrictions"] = serde_json::to_value(
        crm_contacts::restrictions::list(conn, i64::MAX)?
            .into_iter()
            .filter(|r| found.iter().any(|p| p.0 == r.person && p.1 == r.person_id))
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    doc["history"] = history(conn, &doc)?;
    Ok(doc)
}

/// The stored events of every record in the bundle (the person's and those about them), oldest
/// first.
fn history(conn: &mut AnyConnection, doc: &Value) -> Result<Value, RecordError> {
    let sections = [
        ("contacts", "contact"),
        ("leads", "lead"),
        ("consents", "consent"),
        ("legal_holds", "legal_hold"),
        ("cases", "case"),
        ("activities", "activity"),
        ("interactions", "interaction"),
        ("case_comments", "case_comment"),
    ];
    let mut out = Vec::new();
    for (section, entity) in sections {
        let ids: Vec<DbUuid> = doc[section]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["id"].as_str()?.parse().ok()).map(DbUuid).collect())
            .unwrap_or_default();
        for chunk in ids.chunks(500) {
            type Row = (i64, String, DbUuid, NaiveDateTime, String, DbJson, Option<DbJson>, Option<DbJson>);
            let rows: Vec<Row> = events::table
                .filter(events::entity.eq(entity))
                .filter(events::entity_id.eq_any(chunk))
                .select((
                    events::seq,
                    events::kind,
                    events::entity_id,
                    events::occurred_at,
                    events::actor,
                    events::changed_fields,
                    events::before_state,
                    events::after_state,
                ))
                .load(conn)?;
            out.extend(rows.into_iter().map(|r| {
                json!({ "seq": r.0, "type": r.1, "entity": entity, "entity_id": r.2.0, "occurred_at": time(r.3),
                        "actor": r.4, "changed_fields": r.5.0, "before": r.6.map(|j| j.0), "after": r.7.map(|j| j.0) })
            }));
        }
    }
    out.sort_by_key(|e| e["seq"].as_i64());
    Ok(Value::Array(out))
}

/// Runs an access request: the bundle is built in one read and stored with the job in pieces.
pub fn run(
    db: &crm_db::Db,
    job: JobId,
    found: &[Person],
    report: &mut dyn FnMut(i64, i64, i64) -> bool,
) -> Result<Option<Value>, String> {
    if !report(2, 0, 0) {
        return Ok(None);
    }
    let doc = db.run_sync(|c| bundle(c, job, found)).map_err(|e| e.to_string())?;
    let text = serde_json::to_vec_pretty(&doc).map_err(|e| e.to_string())?;
    if !report(2, 1, 0) {
        return Ok(None);
    }
    db.transaction_sync(|c| -> Result<(), crm_db::DbError> {
        crm_records::jobs::files::delete(c, job)?;
        for (seq, piece) in text.chunks(PIECE).enumerate() {
            crm_records::jobs::files::append(c, job, seq as i32, piece)?;
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    report(2, 2, 0);
    let count = |k: &str| doc[k].as_array().map_or(0, Vec::len);
    let sections = [
        "contacts",
        "leads",
        "consents",
        "legal_holds",
        "cases",
        "case_comments",
        "activities",
        "opportunities",
        "purchases",
        "interactions",
        "campaign_memberships",
        "campaign_messages",
        "web_activity",
        "analyses",
        "history",
    ];
    let counts: serde_json::Map<String, Value> = sections.iter().map(|s| ((*s).to_string(), json!(count(s)))).collect();
    Ok(Some(json!({ "bundle_bytes": text.len(), "counts": counts })))
}
