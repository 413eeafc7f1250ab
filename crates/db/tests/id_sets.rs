//! Sets of ids read with one statement shape (`sql::in_ids`), on the backend the environment
//! selects (SQLite by default, PostgreSQL with `CRM_TEST_DATABASE_URL`).

use crm_core::ExternalId;
use crm_db::DbError;
use crm_db::external_ids;
use crm_db::sql::in_ids;
use crm_db::testing::TestDatabase;

fn ext(source: &str, id: usize) -> ExternalId {
    ExternalId { source: source.into(), id: format!("{source}-{id}") }
}

#[test]
fn id_sets_of_any_size_read_the_same_rows_with_one_statement_text() {
    let (_db_guard, db) = TestDatabase::migrated().unwrap();
    let records: Vec<uuid::Uuid> = (0..700).map(|_| uuid::Uuid::now_v7()).collect();
    // Two ids for even records, none for odd ones.
    let ids: Vec<Vec<ExternalId>> =
        (0..700).map(|i| if i % 2 == 0 { vec![ext("erp", i), ext("crm", i)] } else { vec![] }).collect();
    db.run_sync(|c| {
        let rows: Vec<(uuid::Uuid, &[ExternalId])> =
            records.iter().zip(&ids).map(|(r, x)| (*r, x.as_slice())).collect();
        assert!(external_ids::insert_many_new(c, "contact", &rows)?);
        // Same ids under another entity: not returned for "contact".
        assert!(external_ids::insert_many_new(c, "account", &rows[..2])?);
        Ok::<_, DbError>(())
    })
    .unwrap();

    // 0, 1, a few, and more than the 500 a chunked IN list used to take per statement.
    for n in [0usize, 1, 3, 700] {
        let found = db.run_sync(|c| Ok::<_, DbError>(external_ids::of_records(c, "contact", &records[..n])?)).unwrap();
        let expected = (0..n).filter(|i| i % 2 == 0).count();
        assert_eq!(found.len(), expected, "records with external ids among the first {n}");
        for (i, r) in records[..n].iter().enumerate() {
            let got = found.get(r).cloned().unwrap_or_default();
            let want = if i % 2 == 0 { vec![ext("crm", i), ext("erp", i)] } else { vec![] };
            assert_eq!(got, want, "record {i} of {n}");
        }
    }

    // An id that matches nothing, and duplicates, change nothing.
    let mut probe = vec![uuid::Uuid::now_v7(), records[0], records[0]];
    probe.push(records[2]);
    let found = db.run_sync(|c| Ok::<_, DbError>(external_ids::of_records(c, "contact", &probe)?)).unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[&records[0]].len(), 2, "duplicates in the set do not duplicate rows");

    // The statement text does not depend on how many ids there are, so it is prepared once.
    let backend = db.backend();
    let one = in_ids("x", records[..1].iter().copied(), backend).debug_text();
    let many = in_ids("x", records.iter().copied(), backend).debug_text();
    assert_eq!(one, many);
    assert_eq!(one.matches('?').count(), 1, "{one}");
}

/// On PostgreSQL a large set is planned for each call, so a generic plan made from statistics
/// that no longer hold (a table analyzed while empty) cannot be reused for it; small sets stay
/// prepared.
#[test]
fn large_id_sets_are_not_kept_prepared_on_postgres() {
    use diesel::RunQueryDsl;
    let (_db_guard, db) = TestDatabase::migrated().unwrap();
    if db.backend() != crm_db::Backend::Postgres {
        return;
    }
    let mut conn = db.get().unwrap();
    let prepared = |c: &mut crm_db::AnyConnection| -> i64 {
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%unnest%')",
        ))
        .get_result(c)
        .unwrap()
    };
    let large: Vec<uuid::Uuid> = (0..=crm_db::sql::GENERIC_PLAN_MAX_IDS).map(|_| uuid::Uuid::now_v7()).collect();
    external_ids::of_records(&mut conn, "contact", &large).unwrap();
    assert_eq!(prepared(&mut conn), 0, "a set of {} ids was kept prepared", large.len());
    external_ids::of_records(&mut conn, "contact", &large[..crm_db::sql::GENERIC_PLAN_MAX_IDS]).unwrap();
    assert_eq!(prepared(&mut conn), 1, "a set of {} ids was not kept prepared", crm_db::sql::GENERIC_PLAN_MAX_IDS);
}
