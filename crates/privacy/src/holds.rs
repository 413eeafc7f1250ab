//! Legal holds: a person's data kept whatever asks to erase it (a lawsuit, a tax audit, a
//! regulator's inquiry). While a hold on a contact or lead is live, an erasure request for that
//! person is refused with the holds' ids and reasons; archiving the hold releases it (its
//! history keeps who placed and who released it).

use crm_core::external::parse_external_ids;
use crm_core::ids::{ContactId, LeadId, LegalHoldId};
use crm_core::values::clean;
use crm_core::{Actor, ExternalId, FieldErrors, Scope, Timestamp};
use crm_db::AnyConnection;
use crm_records::{Record, RecordError, Stored};

use crate::people::Person;
use serde::{Deserialize, Serialize};

/// A person's data kept for a legal reason: erasing it is refused while the hold is live.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = legal_holds)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject),
    graphql(name = "LegalHoldFields", visible = false)
)]
pub struct LegalHold {
    /// The record's id (UUIDv7: time-ordered).
    pub id: LegalHoldId,
    /// The person, when a contact (else `lead_id`).
    #[filter]
    pub contact_id: Option<ContactId>,
    /// The person, when a lead (else `contact_id`).
    #[filter]
    pub lead_id: Option<LeadId>,
    /// Why the data must be kept (`litigation: ACME v. Kim`, `tax audit 2026`).
    #[filter(sort)]
    pub reason: String,
    /// The legal matter's reference, for whoever releases the hold.
    #[filter(sort)]
    pub matter: Option<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the hold was placed (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the hold was released (archived); null while it holds.
    pub archived_at: Option<Timestamp>,
}

/// A new legal hold, or the whole writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = LegalHoldPatch, record = LegalHold)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct LegalHoldInput {
    /// The person, when a contact; it cannot change.
    #[serde(default)]
    pub contact_id: Option<ContactId>,
    /// The person, when a lead; it cannot change.
    #[serde(default)]
    pub lead_id: Option<LeadId>,
    /// Why the data must be kept, 1 to 500 characters.
    #[serde(default)]
    pub reason: Option<String>,
    /// The legal matter's reference, at most 200 characters.
    #[serde(default)]
    pub matter: Option<String>,
    /// Ids in other systems, each unique among legal holds.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

const NEW_INSTEAD: &str = "place a new hold instead";

impl Record for LegalHold {
    type Input = LegalHoldInput;
    type Patch = LegalHoldPatch;

    const READ: Scope = Scope::PrivacyRead;
    const WRITE: Scope = Scope::PrivacyWrite;

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: LegalHoldId,
        input: LegalHoldInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let mut errs = FieldErrors::new();
        let subject = crm_contacts::consents::person_of(input.contact_id, input.lead_id, &mut errs);
        errs.immutable("contact_id", prev.map(|p| p.contact_id), input.contact_id, NEW_INSTEAD);
        errs.immutable("lead_id", prev.map(|p| p.lead_id), input.lead_id, NEW_INSTEAD);
        let reason = input.reason.as_deref().and_then(clean);
        match &reason {
            None => errs.add("reason", "required", "why the data must be kept"),
            Some(r) if r.chars().count() > 500 => errs.add("reason", "too_long", "at most 500 characters"),
            Some(_) => {}
        }
        let matter = input.matter.as_deref().and_then(clean);
        if matter.as_ref().is_some_and(|m| m.chars().count() > 200) {
            errs.add("matter", "too_long", "at most 200 characters");
        }
        let external_ids = parse_external_ids("external_ids", input.external_ids, &mut errs);
        errs.into_result().map_err(|errors| RecordError::Invalid { entity: Self::ENTITY, errors })?;
        let Some(subject) = subject else {
            return Err(RecordError::Invalid { entity: Self::ENTITY, errors: FieldErrors::new() });
        };
        // A hold is placed on a person that exists, archived or not (an archived contact's data
        // is still kept, and may be what the hold is for).
        if prev.is_none()
            && !crm_db::sql::id_exists(conn, if subject.0 == "contact" { "contacts" } else { "leads" }, subject.1)?
        {
            let field = if subject.0 == "contact" { "contact_id" } else { "lead_id" };
            return Err(RecordError::missing_reference(Self::ENTITY, field, subject.0, subject.1));
        }
        let mut h = prev.cloned().unwrap_or_else(<LegalHold as Stored>::blank);
        h.id = id;
        h.contact_id = input.contact_id;
        h.lead_id = input.lead_id;
        h.reason = reason.unwrap_or_default();
        h.matter = matter;
        h.external_ids = external_ids;
        Ok(h)
    }
}

/// The live holds on any of these people (`("contact", id)`, `("lead", id)`).
pub fn live_on(conn: &mut AnyConnection, people: &[Person]) -> Result<Vec<LegalHold>, RecordError> {
    let (contacts, leads): (Vec<&Person>, Vec<&Person>) = people.iter().partition(|p| p.0 == "contact");
    if people.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.backend();
    let mut cond = crm_db::sql::Sql::new(backend);
    cond.push("archived_at IS NULL AND (");
    cond.append(crm_db::sql::in_ids("contact_id", contacts.iter().map(|p| p.1), backend));
    cond.push(" OR ");
    cond.append(crm_db::sql::in_ids("lead_id", leads.iter().map(|p| p.1), backend));
    cond.push(")");
    let ids: Vec<LegalHoldId> =
        crm_db::sql::ids_where(conn, LegalHold::catalog().table, cond)?.into_iter().map(LegalHoldId).collect();
    Ok(LegalHold::find_many(conn, &ids, false)?)
}
