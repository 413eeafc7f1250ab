//! Sequences: a rule on leads or contacts whose actions are a cadence (an email today, a call
//! task in three days, another email in a week) stops by itself when the person answers. A
//! rule's `stop_when` names what ends its runs; the executor checks it before each segment of a
//! run (when it starts, and after each wait or approval), so a run stops at its next step at the
//! latest. An archived record stops every run, sequence or not.

use chrono::NaiveDateTime;
use crm_core::wire_enum;
use crm_db::AnyConnection;
use crm_db::sql::Sql;
use crm_records::RecordError;

wire_enum!(
    /// What stops the runs of a sequence (a rule on leads or contacts).
    SequenceExit {
        /// The person replied: an inbound interaction (an email, a call) about them was logged
        /// after the run started.
        Replied = "replied",
        /// The person converted: a lead was converted; a contact bought (a purchase or a won
        /// deal naming them) after the run started.
        Converted = "converted",
        /// The person opted out: a contact's email consent is `opted_out`, or the person
        /// withdrew their marketing consent.
        OptedOut = "opted_out",
    }
);

/// The resources a sequence can be about.
pub const PEOPLE: &[&str] = &["contact", "lead"];

/// Whether the first row of `q` exists.
fn exists(conn: &mut AnyConnection, mut q: Sql) -> Result<bool, RecordError> {
    q.push(" LIMIT 1");
    Ok(!crm_db::sql::ids(conn, q)?.is_empty())
}

/// Why a run of a sequence about `entity` `id`, started at `since`, stops now; `None` while it
/// goes on.
pub fn exit_reason(
    conn: &mut AnyConnection,
    entity: &str,
    id: uuid::Uuid,
    since: NaiveDateTime,
    stop_when: &[SequenceExit],
) -> Result<Option<String>, RecordError> {
    let b = conn.backend();
    for exit in stop_when {
        let mut q = Sql::new(b);
        let hit = match (*exit, entity) {
            (SequenceExit::Replied, "contact") => {
                q.push(
                    "SELECT i.id FROM interactions i JOIN interaction_contacts ic ON ic.interaction_id = i.id \
                     WHERE i.direction = 'inbound' AND i.archived_at IS NULL AND ic.contact_id = ",
                )
                .bind(id)
                .push(" AND i.created_at > ")
                .bind(since);
                exists(conn, q)?
            }
            (SequenceExit::Replied, _) => {
                q.push(
                    "SELECT id FROM interactions WHERE direction = 'inbound' AND archived_at IS NULL AND lead_id = ",
                )
                .bind(id)
                .push(" AND created_at > ")
                .bind(since);
                exists(conn, q)?
            }
            (SequenceExit::Converted, "contact") => {
                q.push("SELECT id FROM purchases WHERE archived_at IS NULL AND contact_id = ")
                    .bind(id)
                    .push(" AND created_at > ")
                    .bind(since)
                    .push(" UNION ALL SELECT id FROM opportunities WHERE archived_at IS NULL AND status = 'won' AND contact_id = ")
                    .bind(id)
                    .push(" AND closed_at > ")
                    .bind(since);
                exists(conn, q)?
            }
            (SequenceExit::Converted, _) => {
                q.push("SELECT id FROM leads WHERE status = 'converted' AND id = ").bind(id);
                exists(conn, q)?
            }
            (SequenceExit::OptedOut, _) => {
                let column = if entity == "contact" { "contact_id" } else { "lead_id" };
                q.push("SELECT id FROM consents WHERE archived_at IS NULL AND status = 'withdrawn' AND purpose = 'marketing' AND (channel IS NULL OR channel = 'email') AND ")
                    .push(column)
                    .push(" = ")
                    .bind(id);
                if entity == "contact" {
                    q.push(" UNION ALL SELECT id FROM contacts WHERE email_consent = 'opted_out' AND id = ").bind(id);
                }
                exists(conn, q)?
            }
        };
        if hit {
            return Ok(Some(format!("the sequence stopped: the {entity} {}", describe(*exit))));
        }
    }
    Ok(None)
}

fn describe(exit: SequenceExit) -> &'static str {
    match exit {
        SequenceExit::Replied => "replied",
        SequenceExit::Converted => "converted",
        SequenceExit::OptedOut => "opted out",
    }
}
