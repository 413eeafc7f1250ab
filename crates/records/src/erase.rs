//! Erasing a person's data (a privacy request): the record's identifying fields are cleared in
//! place, so that what refers to it and the figures counted from it stay, and the values are
//! removed from everything that kept a copy of the record: its earlier events (the change feed
//! and the field history), the payloads of its webhook deliveries, and its external ids. The
//! write is an `erased` event that names the fields cleared and never their values before.

use crm_core::Actor;
use crm_core::ids::EntityId;
use crm_db::AnyConnection;
use crm_db::schema::{events, webhook_deliveries};
use crm_db::types::{DbJson, DbUuid};
use diesel::prelude::*;
use serde_json::Value;

use crate::write::{event_json, fresh_meta, write_time};
use crate::{Record, RecordError};

/// What erasing records did, summed.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Erased {
    /// Records whose fields were cleared.
    pub records: usize,
    /// Earlier events whose documents were scrubbed.
    pub events: usize,
    /// Webhook deliveries whose payloads were scrubbed.
    pub deliveries: usize,
    /// External ids dropped.
    pub external_ids: usize,
}

impl Erased {
    pub fn add(&mut self, other: &Erased) {
        self.records += other.records;
        self.events += other.events;
        self.deliveries += other.deliveries;
        self.external_ids += other.external_ids;
    }
}

/// Erases the person's data from one record: `clear` empties the fields that identify or
/// describe the person and names them; the record is written with a new version (archived
/// too when `archive`), its external ids are dropped, and its earlier events and webhook
/// payloads are scrubbed of those fields. Erasing a record already erased writes nothing new
/// and scrubs again. None when the record does not exist.
pub fn erase<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: R::Id,
    archive: bool,
    mut clear: impl FnMut(&mut R) -> Vec<&'static str>,
) -> Result<Option<Erased>, RecordError> {
    for _ in 0..3 {
        let Some(cur) = R::find(conn, id)? else { return Ok(None) };
        let mut next = cur.clone();
        let fields = clear(&mut next);
        next.external_ids_mut().clear();
        let mut meta = cur.meta();
        if archive && meta.archived_at.is_none() {
            meta.archived_at = Some(write_time());
        }
        next.set_meta(meta);
        let mut out = Erased::default();
        if next != cur {
            let mut meta = fresh_meta(Some(&cur.meta()), write_time());
            meta.archived_at = next.meta().archived_at;
            next.set_meta(meta);
            if !R::update_if_version(conn, &next, cur.meta().version).map_err(|e| R::write_error(e, &next))? {
                continue;
            }
            crm_events::record_erased(conn, actor, R::ENTITY, id.uuid(), &fields, event_json(&next))?;
            out.records = 1;
        }
        let (events, deliveries) = scrub(conn, R::ENTITY, id.uuid(), &fields, &event_json(&next))?;
        out.events = events;
        out.deliveries = deliveries;
        out.external_ids = crm_db::external_ids::remove_all(conn, R::ENTITY, &[id.uuid()])?;
        return Ok(Some(out));
    }
    Err(RecordError::Contended { entity: R::ENTITY })
}

/// Sets `fields` of a record's document (an event's before or after) to their values in `now`
/// (the erased record); true when one changed.
fn clear_fields(doc: Option<&mut Value>, fields: &[&str], now: &Value) -> bool {
    let Some(Value::Object(map)) = doc else { return false };
    let mut changed = false;
    for f in fields {
        if let Some(v) = map.get_mut(*f) {
            let to = now.get(*f).cloned().unwrap_or(Value::Null);
            if *v != to {
                *v = to;
                changed = true;
            }
        }
    }
    changed
}

/// Scrubs `fields` from every stored event of the record `(entity, id)` and from the payloads
/// of its webhook deliveries (delivered or not): their values become those of `now`. Returns
/// how many events and deliveries changed.
pub fn scrub(
    conn: &mut AnyConnection,
    entity: &str,
    id: uuid::Uuid,
    fields: &[&str],
    now: &Value,
) -> Result<(usize, usize), RecordError> {
    let rows: Vec<(i64, Option<DbJson>, Option<DbJson>)> = events::table
        .filter(events::entity.eq(entity))
        .filter(events::entity_id.eq(DbUuid(id)))
        .select((events::seq, events::before_state, events::after_state))
        .load(conn)?;
    let mut scrubbed = 0;
    for (seq, before, after) in rows {
        let (mut b, mut a) = (before.map(|j| j.0), after.map(|j| j.0));
        let changed = clear_fields(b.as_mut(), fields, now) | clear_fields(a.as_mut(), fields, now);
        if changed {
            diesel::update(events::table.filter(events::seq.eq(seq)))
                .set((events::before_state.eq(b.map(DbJson)), events::after_state.eq(a.map(DbJson))))
                .execute(conn)?;
            scrubbed += 1;
        }
    }
    let payloads: Vec<(DbUuid, String)> = webhook_deliveries::table
        .filter(webhook_deliveries::entity_id.eq(DbUuid(id)))
        .filter(webhook_deliveries::event_type.like(format!("{entity}.%")))
        .select((webhook_deliveries::id, webhook_deliveries::payload))
        .load(conn)?;
    let mut deliveries = 0;
    for (delivery, payload) in payloads {
        let Ok(mut doc) = serde_json::from_str::<Value>(&payload) else { continue };
        let Some(data) = doc.get_mut("data") else { continue };
        let changed =
            clear_fields(data.get_mut("before"), fields, now) | clear_fields(data.get_mut("after"), fields, now);
        if changed {
            diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq(delivery)))
                .set(webhook_deliveries::payload.eq(doc.to_string()))
                .execute(conn)?;
            deliveries += 1;
        }
    }
    Ok((scrubbed, deliveries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_take_their_erased_values() {
        let now = serde_json::json!({ "email": null, "tags": [], "city": "Seoul" });
        let mut doc = serde_json::json!({ "email": "kim@example.com", "tags": ["vip"], "city": "Seoul", "id": 1 });
        assert!(clear_fields(Some(&mut doc), &["email", "tags", "city", "absent"], &now));
        assert_eq!(doc, serde_json::json!({ "email": null, "tags": [], "city": "Seoul", "id": 1 }));
        assert!(!clear_fields(Some(&mut doc), &["email", "tags"], &now), "a second pass changes nothing");
        assert!(!clear_fields(None, &["email"], &now));
    }
}
