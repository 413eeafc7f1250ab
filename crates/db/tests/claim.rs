//! Claims take at most their limit, whatever plan the database picks (on the backend the
//! environment selects: SQLite by default, PostgreSQL with `CRM_TEST_DATABASE_URL`).

use crm_db::claim::{Lease, claim};
use crm_db::sql::Sql;
use crm_db::testing::TestDatabase;
use crm_db::{Backend, DbError};
use diesel::RunQueryDsl;

#[test]
fn a_claim_takes_its_limit_and_the_next_claim_the_next_rows() {
    let (_guard, db) = TestDatabase::migrated().unwrap();
    let ids: Vec<uuid::Uuid> = (0..400).map(|_| uuid::Uuid::now_v7()).collect();
    let now = chrono::Utc::now().naive_utc();
    let lease = |owner| Lease { owner, now, until: now + chrono::Duration::minutes(5) };
    let (first, second) = db
        .run_sync(|c| {
            let id_type = match c.backend() {
                Backend::Postgres => "uuid",
                Backend::Sqlite => "TEXT",
            };
            diesel::sql_query(format!(
                "CREATE TABLE claim_test (id {id_type} PRIMARY KEY, due INTEGER NOT NULL, lease_owner TEXT, lease_until TIMESTAMP)"
            ))
            .execute(c)?;
            let values: Vec<String> = ids.iter().map(|i| format!("('{i}', 1)")).collect();
            diesel::sql_query(format!("INSERT INTO claim_test (id, due) VALUES {}", values.join(", "))).execute(c)?;
            if c.backend() == Backend::Postgres {
                // The plan under which `id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` ran its
                // subquery again per row and leased every eligible row.
                diesel::sql_query("ANALYZE claim_test").execute(c)?;
                for off in ["enable_hashjoin", "enable_mergejoin", "enable_material", "enable_hashagg"] {
                    diesel::sql_query(format!("SET {off} = off")).execute(c)?;
                }
            }
            let eligible = |c: &crm_db::AnyConnection| {
                let mut s = Sql::new(c.backend());
                s.push("c.due = 1");
                s
            };
            let first = claim(c, "claim_test", eligible(c), "c.id", 25, lease("a"))?;
            let second = claim(c, "claim_test", eligible(c), "c.id", 25, lease("b"))?;
            Ok::<_, DbError>((first, second))
        })
        .unwrap();
    let mut first = first;
    first.sort();
    assert_eq!(first, ids[..25].to_vec(), "the first 25 by id, and only they");
    let mut second = second;
    second.sort();
    assert_eq!(second, ids[25..50].to_vec(), "the next 25: the leased ones are passed by");
}
