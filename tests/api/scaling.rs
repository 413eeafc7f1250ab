//! Several stateless instances on one PostgreSQL: writes, idempotency keys and the change feed
//! stay correct. (SQLite is single-instance by design; the test says so and checks nothing there.)

use std::collections::HashSet;

use actix_web::http::Method;
use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn two_instances_share_one_postgresql() {
    if crm_db::testing::TestDatabase::backend_url().is_none() {
        eprintln!(
            "two_instances_share_one_postgresql: PostgreSQL only (set CRM_TEST_DATABASE_URL); SQLite is one instance"
        );
        return;
    }
    let a = spawn().await;
    let b = spawn_on(&a.database_url).await;
    // Tokens signed with the shared secret work on both instances.
    let token = a.admin.clone();

    // Concurrent writes through both instances.
    let (x, y, z, w) =
        futures_util::join!(write(&a, &token, 0), write(&b, &token, 1), write(&a, &token, 2), write(&b, &token, 3));
    assert_eq!(x + y + z + w, 40);

    // One Idempotency-Key sent to both instances at once writes once.
    let body = json!({"name": "Shared Key Inc", "domain": "shared-key.example.com"});
    let key = [("Idempotency-Key", "two-instances")];
    let (r1, r2, r3, r4) = futures_util::join!(
        a.call(Method::POST, "/api/v1/accounts", Some(&token), Some(body.clone()), &key),
        b.call(Method::POST, "/api/v1/accounts", Some(&token), Some(body.clone()), &key),
        a.call(Method::POST, "/api/v1/accounts", Some(&token), Some(body.clone()), &key),
        b.call(Method::POST, "/api/v1/accounts", Some(&token), Some(body.clone()), &key),
    );
    let ids: HashSet<String> = [&r1, &r2, &r3, &r4]
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.body["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 1, "{} {} {} {}", r1.body, r2.body, r3.body, r4.body);
    for r in [&r1, &r2, &r3, &r4] {
        assert!(r.status == 201 || r.body["code"] == "IDEMPOTENCY_KEY_IN_USE", "{}", r.body);
    }
    let replay = b.call(Method::POST, "/api/v1/accounts", Some(&token), Some(body), &key).await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.header("idempotent-replayed").as_deref(), Some("true"));

    // The feed read through one instance has every write from both, in order, once.
    let feed = b.get("/api/v1/changes?after=0&limit=1000").await.expect(200);
    let seqs: Vec<i64> = feed["data"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=41).collect::<Vec<i64>>());
}

async fn write(app: &TestApp, token: &str, w: usize) -> usize {
    let mut ok = 0;
    for i in 0..10 {
        let body = json!({"first_name": format!("I{w}"), "last_name": format!("N{i}")});
        if app.call(Method::POST, "/api/v1/contacts", Some(token), Some(body), &[]).await.status == 201 {
            ok += 1;
        }
    }
    ok
}
