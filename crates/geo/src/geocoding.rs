//! Bulk geocoding: every located record whose address has no coordinates yet (or, with
//! `refresh`, also the ones geocoded before, after a larger gazetteer was loaded) is looked up
//! again, as a background job with progress (`POST /geo/geocode`, `crm geo geocode`): in the
//! gazetteer, then, for what it cannot place, in the HTTP geocoder when one is configured
//! (`crate::remote`; outside any transaction, at its rate).
//! Coordinates given by clients or placed by people are never touched. Each record changed
//! is written with a new version and an `updated` event, so integrators see it in the change
//! feed. Running it again is harmless: what was located is skipped.

use crm_core::ids::{AccountId, ContactId, EntityId, LeadId};
use crm_core::{Actor, Scope, wire_enum};
use crm_db::sql::Sql;
use crm_db::{AnyConnection, Db};
use crm_records::jobs::Job;
use crm_records::location::{Located, Relocated, lookup, settle};
use crm_records::{Record, RecordError};

use crate::remote::RemoteGeocoder;
use serde::{Deserialize, Serialize};

wire_enum!(
    /// The resources that carry a location.
    LocatedResource {
        Accounts = "accounts",
        Contacts = "contacts",
        Leads = "leads",
    }
);

/// The job kind in `jobs`.
pub const KIND: &str = "geocode";

/// What to geocode.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "GeocodeInput"))]
pub struct GeocodeInput {
    /// Default: all three.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub resources: Vec<LocatedResource>,
    /// Also look up again the records geocoded before (after loading a larger gazetteer).
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub refresh: bool,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GeocodeOutcome {
    /// Records that got coordinates (or new ones).
    pub geocoded: i64,
    /// Records whose address matched no place.
    pub unresolved: i64,
    /// Records left as they were: the same answer as before (an address that still matches
    /// nothing), or changed by someone in between.
    pub unchanged: i64,
    /// Records the HTTP geocoder could not answer for (left as they were; a later run tries
    /// again).
    pub failed: i64,
    /// The last of those errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl GeocodeInput {
    /// Each resource once, in their declaration order.
    fn resources(&self) -> Vec<LocatedResource> {
        LocatedResource::ALL
            .iter()
            .copied()
            .filter(|r| self.resources.is_empty() || self.resources.contains(r))
            .collect()
    }

    /// The scopes the job's writes need.
    fn scopes(&self) -> Vec<Scope> {
        self.resources()
            .into_iter()
            .map(|r| match r {
                LocatedResource::Accounts => Scope::AccountsWrite,
                LocatedResource::Contacts => Scope::ContactsWrite,
                LocatedResource::Leads => Scope::SalesWrite,
            })
            .collect()
    }

    /// The actor the job writes as: the subject that started it, with those scopes only.
    pub fn actor(&self, created_by: &str) -> Actor {
        let scopes: Vec<&str> = self.scopes().into_iter().map(Scope::as_str).collect();
        Actor::new(created_by, [], scopes)
    }
}

/// Checks the caller may write what the job will write.
pub fn authorize(actor: &Actor, input: &GeocodeInput) -> Result<(), crm_core::actor::Forbidden> {
    input.scopes().into_iter().try_for_each(|s| actor.require(s))
}

/// Queues a bulk geocoding.
pub fn start(conn: &mut AnyConnection, actor: &Actor, input: &GeocodeInput) -> Result<Job, RecordError> {
    authorize(actor, input)?;
    let params = serde_json::to_value(input).unwrap_or_default();
    crm_records::jobs::enqueue(conn, actor, KIND, &params)
}

/// The records of `table` to look up, after `after` in id order.
fn candidates(backend: crm_db::Backend, refresh: bool, after: Option<uuid::Uuid>) -> Sql {
    let mut cond = Sql::new(backend);
    cond.push(
        "archived_at IS NULL AND country IS NOT NULL AND (city IS NOT NULL OR postal_code IS NOT NULL) \
         AND ((location_source IS NULL AND latitude IS NULL) OR location_source = 'unresolved'",
    );
    cond.push(if refresh { " OR location_source = 'geocoded')" } else { ")" });
    if let Some(a) = after {
        cond.push(" AND id > ").bind(a);
    }
    cond
}

fn table(r: LocatedResource) -> &'static str {
    match r {
        LocatedResource::Accounts => AccountId::TABLE,
        LocatedResource::Contacts => ContactId::TABLE,
        LocatedResource::Leads => LeadId::TABLE,
    }
}

const BATCH: i64 = 200;

/// Locates one record: the gazetteer, else the HTTP geocoder (its cache first), then the write.
fn step<R: Record + Located>(
    db: &Db,
    actor: &Actor,
    id: R::Id,
    remote: Option<&RemoteGeocoder>,
) -> Result<Result<Relocated, String>, RecordError> {
    let Some(pending) = db.run_sync(|c| lookup::<R>(c, id))? else { return Ok(Ok(Relocated::Unchanged)) };
    let found = match (pending.found, remote) {
        (Some(f), _) => Some(f),
        (None, Some(geocoder)) => {
            let a = pending.address.as_address();
            match db.run_sync(|c| RemoteGeocoder::cached(c, &a).map_err(RecordError::from))? {
                Some(f) => f,
                None => match geocoder.search(&a) {
                    Ok(f) => {
                        // A lost cache write (another run kept the same answer first) costs a
                        // later request, not the job.
                        if let Err(e) =
                            db.transaction_sync(|c| RemoteGeocoder::remember(c, &a, f).map_err(RecordError::from))
                        {
                            tracing::warn!(error = %e, "keeping the geocoder's answer failed");
                        }
                        f
                    }
                    Err(e) => return Ok(Err(e)),
                },
            }
        }
        (None, None) => None,
    };
    Ok(Ok(db.transaction_sync(|c| settle::<R>(c, actor, id, &pending, found))?))
}

/// Runs a bulk geocoding over `db`: each record read, looked up and written in its own short
/// units of work. `progress` hears (total, done, failed) after each batch and stops the run by
/// answering false (its job was taken over), which ends it with `Ok(None)`.
pub fn run(
    db: &Db,
    actor: &Actor,
    input: &GeocodeInput,
    remote: Option<&RemoteGeocoder>,
    progress: &mut dyn FnMut(i64, i64, i64) -> bool,
) -> Result<Option<GeocodeOutcome>, RecordError> {
    let resources = input.resources();
    let total: i64 = db.run_sync(|c| -> Result<i64, RecordError> {
        let mut n = 0;
        for r in &resources {
            n += crm_db::sql::count_where(c, table(*r), candidates(c.backend(), input.refresh, None))?;
        }
        Ok(n)
    })?;
    let mut out = GeocodeOutcome::default();
    let mut done = 0;
    if !progress(total, 0, 0) {
        return Ok(None);
    }
    for r in resources {
        let mut after = None;
        loop {
            let ids = db.run_sync(|c| -> Result<Vec<uuid::Uuid>, RecordError> {
                let mut cond = candidates(c.backend(), input.refresh, after);
                cond.push(" ORDER BY id LIMIT ").bind(BATCH);
                Ok(crm_db::sql::ids_where(c, table(r), cond)?)
            })?;
            for id in &ids {
                let relocated = match r {
                    LocatedResource::Accounts => step::<crm_accounts::Account>(db, actor, AccountId(*id), remote)?,
                    LocatedResource::Contacts => step::<crm_contacts::Contact>(db, actor, ContactId(*id), remote)?,
                    LocatedResource::Leads => step::<crm_sales::Lead>(db, actor, LeadId(*id), remote)?,
                };
                match relocated {
                    Ok(Relocated::Geocoded) => out.geocoded += 1,
                    Ok(Relocated::Unresolved) => out.unresolved += 1,
                    Ok(Relocated::Unchanged) => out.unchanged += 1,
                    Err(e) => {
                        tracing::warn!(error = %e, record = %id, "the HTTP geocoder failed");
                        out.failed += 1;
                        out.last_error = Some(e);
                    }
                }
                // After every record: a record may wait on the HTTP geocoder's rate, and the
                // report keeps the job's lease (the runner writes at most once a second).
                done += 1;
                if !progress(total.max(done), done, out.failed) {
                    return Ok(None);
                }
            }
            // Records left unresolved stay candidates: the next batch starts after this one.
            after = ids.last().copied();
            if (ids.len() as i64) < BATCH {
                break;
            }
        }
    }
    Ok(Some(out))
}
