//! SLA targets: how long a case of each priority may take to resolve. Kept in the database
//! (`sla_policies`), so every instance applies the same policy; edited through the API.

use crm_core::{Actor, FieldErrors, Scope, Timestamp};
use crm_db::AnyConnection;
use crm_db::schema::sla_policies;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::Priority;
use crm_records::RecordError;

/// Minutes to resolve, by priority.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "SlaPolicyInput")
)]
pub struct SlaPolicy {
    /// Minutes to resolve an urgent case, 1 to 527,040 (366 days).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 527_040))]
    pub urgent_minutes: i64,
    /// Minutes to resolve a high-priority case.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 527_040))]
    pub high_minutes: i64,
    /// Minutes to resolve a normal case.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 527_040))]
    pub normal_minutes: i64,
    /// Minutes to resolve a low-priority case.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 527_040))]
    pub low_minutes: i64,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy { urgent_minutes: 240, high_minutes: 480, normal_minutes: 1440, low_minutes: 4320 }
    }
}

/// Longest target: a year.
const MAX_MINUTES: i64 = 366 * 24 * 60;

impl SlaPolicy {
    fn minutes(&self, p: Priority) -> i64 {
        match p {
            Priority::Urgent => self.urgent_minutes,
            Priority::High => self.high_minutes,
            Priority::Normal => self.normal_minutes,
            Priority::Low => self.low_minutes,
        }
    }

    /// When a case of `priority` opened at `start` is due.
    pub fn due(&self, priority: Priority, start: Timestamp) -> Option<Timestamp> {
        start.0.checked_add_signed(chrono::Duration::minutes(self.minutes(priority))).map(Timestamp)
    }

    fn check(&self) -> Result<(), FieldErrors> {
        let mut errs = FieldErrors::new();
        for p in [Priority::Urgent, Priority::High, Priority::Normal, Priority::Low] {
            if !(1..=MAX_MINUTES).contains(&self.minutes(p)) {
                errs.add(&format!("{}_minutes", p.as_str()), "out_of_range", format!("1 to {MAX_MINUTES} minutes"));
            }
        }
        errs.into_result()
    }
}

/// The policy in force.
pub fn sla_policy(conn: &mut AnyConnection) -> QueryResult<SlaPolicy> {
    let rows: Vec<(String, i64)> = sla_policies::table.load(conn)?;
    let mut p = SlaPolicy::default();
    for (name, minutes) in rows {
        match Priority::parse(&name) {
            Some(Priority::Urgent) => p.urgent_minutes = minutes,
            Some(Priority::High) => p.high_minutes = minutes,
            Some(Priority::Normal) => p.normal_minutes = minutes,
            Some(Priority::Low) => p.low_minutes = minutes,
            None => {}
        }
    }
    Ok(p)
}

/// Reads the policy (anyone who reads cases).
pub fn get_sla_policy(conn: &mut AnyConnection, actor: &Actor) -> Result<SlaPolicy, RecordError> {
    actor.require(Scope::CasesRead)?;
    Ok(sla_policy(conn)?)
}

/// Replaces the policy (`cases:write`). Applies to cases created or re-prioritized from now on.
pub fn set_sla_policy(conn: &mut AnyConnection, actor: &Actor, p: SlaPolicy) -> Result<SlaPolicy, RecordError> {
    actor.require(Scope::CasesWrite)?;
    p.check().map_err(|errors| RecordError::Invalid { entity: "sla_policy", errors })?;
    diesel::delete(sla_policies::table).execute(conn)?;
    let rows: Vec<_> = [Priority::Urgent, Priority::High, Priority::Normal, Priority::Low]
        .into_iter()
        .map(|pr| (sla_policies::priority.eq(pr.as_str()), sla_policies::resolve_minutes.eq(p.minutes(pr))))
        .collect();
    match conn {
        AnyConnection::Postgresql(c) => diesel::insert_into(sla_policies::table).values(&rows).execute(c)?,
        AnyConnection::Sqlite(c) => diesel::insert_into(sla_policies::table).values(&rows).execute(c)?,
    };
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_due_times_and_checks_ranges() {
        let p = SlaPolicy { urgent_minutes: 90, ..SlaPolicy::default() };
        let start = Timestamp(chrono::DateTime::UNIX_EPOCH);
        assert_eq!(p.due(Priority::Urgent, start).unwrap().0.timestamp(), 5400);
        assert_eq!(p.due(Priority::Low, start).unwrap().0.timestamp(), 72 * 3600);
        assert!(p.check().is_ok());
        let bad = SlaPolicy { high_minutes: 0, low_minutes: MAX_MINUTES + 1, ..p };
        let fields: Vec<String> = bad.check().unwrap_err().0.into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["high_minutes", "low_minutes"]);
    }
}
