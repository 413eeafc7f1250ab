//! The shared record life cycle, driven directly (no HTTP) through accounts and contacts, on a
//! real database: SQLite, or PostgreSQL when `CRM_TEST_DATABASE_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crm_accounts::{Account, AccountInput, AccountPatch};
use crm_contacts::{Contact, ContactInput};
use crm_core::Actor;
use crm_core::external::{BatchOp, BatchOutcome, ExternalId};
use crm_core::list::{Archived, ListParams};
use crm_db::Db;
use crm_db::testing::TestDatabase;
use crm_records::RecordError;
use serde_json::json;

fn db() -> (TestDatabase, Db) {
    let (t, db) = TestDatabase::migrated().expect("a test database");
    (t, db.with_context(crm_records::hooks::Hooks::new()))
}

fn input(v: serde_json::Value) -> AccountInput {
    serde_json::from_value(v).unwrap()
}

fn patch(v: serde_json::Value) -> AccountPatch {
    serde_json::from_value(v).unwrap()
}

fn create(db: &Db, v: serde_json::Value) -> Result<Account, RecordError> {
    db.transaction_sync(|c| crm_records::create::<Account>(c, &Actor::system(), input(v)))
}

#[test]
fn a_record_is_normalized_versioned_and_unchanged_by_an_empty_patch() {
    let (_t, db) = db();
    let a =
        create(&db, json!({"name": "  Acme  ", "domain": "https://WWW.Acme.com/x", "tags": ["B", "b", "a"]})).unwrap();
    assert_eq!(
        (a.name.as_str(), a.domain.as_deref(), a.tags.clone()),
        ("Acme", Some("acme.com"), vec!["b".to_string(), "a".to_string()])
    );
    let m = crm_records::Stored::meta(&a);
    assert_eq!(m.version, 1);
    assert_eq!(m.created_at, m.updated_at);
    let sys = Actor::system();
    let same = db
        .transaction_sync(|c| crm_records::update::<Account>(c, &sys, a.id, patch(json!({"name": "Acme"})), None))
        .unwrap();
    assert_eq!(crm_records::Stored::meta(&same).version, 1, "a patch that changes nothing keeps the version");
    let moved = db
        .transaction_sync(|c| crm_records::update::<Account>(c, &sys, a.id, patch(json!({"city": "Seoul"})), Some(1)))
        .unwrap();
    assert_eq!((crm_records::Stored::meta(&moved).version, moved.city.as_deref()), (2, Some("Seoul")));
    let stale = db
        .transaction_sync(|c| crm_records::update::<Account>(c, &sys, a.id, patch(json!({"city": "Busan"})), Some(1)));
    assert!(matches!(stale, Err(RecordError::VersionConflict { expected: 1, current: 2 })), "{stale:?}");
    let history = db.run_sync(|c| crm_records::history::<Account>(c, &sys, a.id, None, 10)).unwrap();
    let newest = &history[0];
    assert_eq!(newest.kind, "account.updated");
    let fields: Vec<(&str, &serde_json::Value, &serde_json::Value)> =
        newest.changes.iter().map(|c| (c.field.as_str(), &c.from, &c.to)).collect();
    // A city without a country places nothing, and the record says so.
    assert_eq!(
        fields,
        [("city", &json!(null), &json!("Seoul")), ("location_source", &json!(null), &json!("unresolved"))],
        "newest first"
    );
    assert_eq!(history.len(), 2, "created, then one change (the empty patch made none)");
}

#[test]
fn unique_values_are_unique_among_live_records_only() {
    let (_t, db) = db();
    let sys = Actor::system();
    let a = create(&db, json!({"name": "One", "domain": "one.example"})).unwrap();
    let dup = create(&db, json!({"name": "Two", "domain": "ONE.example"}));
    match dup {
        Err(RecordError::Duplicate { field: "domain", existing_id, .. }) => assert_eq!(existing_id, Some(a.id.0)),
        other => panic!("expected a duplicate: {other:?}"),
    }
    db.transaction_sync(|c| crm_records::archive::<Account>(c, &sys, a.id, None)).unwrap();
    let b = create(&db, json!({"name": "Two", "domain": "one.example"})).expect("an archived record frees its values");
    let back = db.transaction_sync(|c| crm_records::restore::<Account>(c, &sys, a.id, None));
    assert!(matches!(back, Err(RecordError::Duplicate { existing_id: Some(id), .. }) if id == b.id.0), "{back:?}");
}

#[test]
fn an_upsert_creates_once_then_merges() {
    let (_t, db) = db();
    let sys = Actor::system();
    let ext = ExternalId::new("erp", "A-1");
    let (first, created) = db
        .transaction_sync(|c| {
            crm_records::upsert::<Account>(c, &sys, ext.clone(), patch(json!({"name": "Erp Co", "city": "Seoul"})))
        })
        .unwrap();
    assert!(created);
    let (second, created) = db
        .transaction_sync(|c| crm_records::upsert::<Account>(c, &sys, ext.clone(), patch(json!({"industry": "media"}))))
        .unwrap();
    assert!(!created);
    assert_eq!(second.id, first.id);
    assert_eq!((second.city.as_deref(), second.industry.as_deref()), (Some("Seoul"), Some("media")));
    let found = db.run_sync(|c| crm_records::get_by_external_id::<Account>(c, &sys, ext)).unwrap();
    assert_eq!(found.id, first.id);
}

#[test]
fn a_batch_answers_per_operation_or_rolls_back_whole() {
    let (_t, db) = db();
    let sys = Actor::system();
    let ops = |bad: &str| -> Vec<crm_records::Op<Account>> {
        vec![
            BatchOp::Create { data: input(json!({"name": "B1", "domain": "b1.example"})) },
            BatchOp::Create { data: input(json!({"name": "B2", "domain": bad})) },
            BatchOp::Upsert { external_id: ExternalId::new("erp", "B-3"), data: patch(json!({"name": "B3"})) },
        ]
    };
    let atomic =
        db.transaction_sync(|c| Ok::<_, RecordError>(crm_records::batch::<Account>(c, &sys, ops("b1.example"), true)));
    let Err((index, RecordError::Duplicate { .. })) = atomic.unwrap() else {
        panic!("the atomic batch fails at its duplicate")
    };
    assert_eq!(index, 1);
    let none = db.run_sync(|c| crm_records::list::<Account>(c, &sys, &ListParams::default())).unwrap();
    assert!(none.data.is_empty(), "nothing of the atomic batch stays");
    let each = db
        .transaction_sync(|c| Ok::<_, RecordError>(crm_records::batch::<Account>(c, &sys, ops("b1.example"), false)))
        .unwrap()
        .unwrap();
    assert!(matches!(each[0], Ok(BatchOutcome::Created(_))));
    assert!(matches!(each[1], Err(RecordError::Duplicate { .. })));
    assert!(matches!(each[2], Ok(BatchOutcome::Created(_))));
    let two = db.run_sync(|c| crm_records::list::<Account>(c, &sys, &ListParams::default())).unwrap();
    assert_eq!(two.data.len(), 2);
}

#[test]
fn keyset_pages_visit_every_record_once_whatever_the_ties() {
    let (_t, db) = db();
    let sys = Actor::system();
    // Seven accounts over three cities and one without: ties on the sort key, and NULLs.
    for (i, city) in ["Seoul", "Busan", "Seoul", "Daegu", "Seoul", "Busan"].iter().enumerate() {
        create(&db, json!({"name": format!("T{i}"), "city": city})).unwrap();
    }
    create(&db, json!({"name": "T6"})).unwrap();
    for sort in ["city", "-city", "city,-name", "-created_at"] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let params =
                ListParams { limit: Some(2), cursor: cursor.clone(), sort: Some(sort.into()), ..Default::default() };
            let page = db.run_sync(|c| crm_records::list::<Account>(c, &sys, &params)).unwrap();
            seen.extend(page.data.iter().map(|a| a.name.clone()));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 7, "{sort}: {seen:?}");
        assert_eq!(seen.len(), 7, "{sort}: {seen:?}");
    }
    // NULLs last in both directions.
    let desc = ListParams { sort: Some("-city".into()), ..Default::default() };
    let page = db.run_sync(|c| crm_records::list::<Account>(c, &sys, &desc)).unwrap();
    assert_eq!(page.data.last().unwrap().city, None);
    let only_archived = ListParams { archived: Archived::Only, ..Default::default() };
    assert!(db.run_sync(|c| crm_records::list::<Account>(c, &sys, &only_archived)).unwrap().data.is_empty());
}

#[test]
fn references_and_relation_filters_go_through_the_catalog() {
    let (_t, db) = db();
    let sys = Actor::system();
    let gold = create(&db, json!({"name": "Gold", "tier": "gold"})).unwrap();
    let contact = |v: serde_json::Value| {
        let i: ContactInput = serde_json::from_value(v).unwrap();
        db.transaction_sync(|c| crm_records::create::<Contact>(c, &sys, i))
    };
    contact(json!({"first_name": "In", "last_name": "Gold", "account_id": gold.id})).unwrap();
    contact(json!({"first_name": "No", "last_name": "Account"})).unwrap();
    let missing = contact(json!({"last_name": "Ghost", "account_id": "01a20352-0000-7000-8000-000000000000"}));
    assert!(
        matches!(&missing, Err(RecordError::Invalid { errors, .. }) if errors.0[0].field == "account_id"),
        "{missing:?}"
    );
    let by_tier = ListParams { filter: Some("account.tier[eq]:gold".into()), ..Default::default() };
    let page = db.run_sync(|c| crm_records::list::<Contact>(c, &sys, &by_tier)).unwrap();
    let names: Vec<_> = page.data.iter().map(|c| c.last_name.clone().unwrap_or_default()).collect();
    assert_eq!(names, ["Gold"]);
    // A reader without the related resource's scope may not filter through it.
    let contacts_only = Actor::new("reader", [], ["contacts:read"]);
    let denied = db.run_sync(|c| crm_records::list::<Contact>(c, &contacts_only, &by_tier));
    assert!(matches!(denied, Err(RecordError::Forbidden(_))), "{denied:?}");
}

#[test]
fn a_handle_without_domain_hooks_fails_instead_of_skipping_them() {
    let (_t, db) = TestDatabase::migrated().unwrap();
    let r = db.transaction_sync(|c| crm_records::hooks::touched(c, &Actor::system(), "lead", uuid::Uuid::nil()));
    assert!(matches!(r, Err(RecordError::Db(_))), "{r:?}");
}
