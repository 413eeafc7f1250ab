//! What other domains read of the staff: who may be given work, and names for reports.

use std::collections::BTreeMap;

use crm_core::ids::UserId;
use crm_db::schema::users;
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, MultiBackend};
use diesel::prelude::*;

/// Active users (live, not deactivated), in id order: of `team` when given; with
/// `territories`, only users whose territory is one of them (none when the list is empty).
pub fn active_ids(
    conn: &mut AnyConnection,
    team: Option<&str>,
    territories: Option<&[String]>,
) -> QueryResult<Vec<UserId>> {
    let mut q = users::table
        .filter(users::active.eq(true))
        .filter(users::archived_at.is_null())
        .select(users::id)
        .order(users::id.asc())
        .into_boxed::<MultiBackend>();
    if let Some(t) = team {
        q = q.filter(users::team.eq(t.to_string()));
    }
    if let Some(places) = territories {
        if places.is_empty() {
            return Ok(Vec::new());
        }
        q = q.filter(users::territory.eq_any(places.to_vec()));
    }
    Ok(q.load::<DbUuid>(conn)?.into_iter().map(|u| UserId(u.0)).collect())
}

/// Every user's name and team (archived ones included: reports name past owners).
pub fn names_and_teams(conn: &mut AnyConnection) -> QueryResult<BTreeMap<UserId, (String, Option<String>)>> {
    let rows: Vec<(DbUuid, String, Option<String>)> =
        users::table.select((users::id, users::name, users::team)).load(conn)?;
    Ok(rows.into_iter().map(|(id, n, t)| (UserId(id.0), (n, t))).collect())
}

/// The names of these users.
pub fn names(conn: &mut AnyConnection, ids: &[UserId]) -> QueryResult<BTreeMap<UserId, String>> {
    let keys: Vec<DbUuid> = ids.iter().map(|u| DbUuid(u.0)).collect();
    let rows: Vec<(DbUuid, String)> =
        users::table.filter(users::id.eq_any(keys)).select((users::id, users::name)).load(conn)?;
    Ok(rows.into_iter().map(|(i, n)| (UserId(i.0), n)).collect())
}
