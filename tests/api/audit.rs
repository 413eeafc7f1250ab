//! The audit log: permission changes with their fields before and after, API key use and
//! refusals, bulk reads (exports), archives; ordinary writes stay in the change feed; no
//! personal data; administrators only, in REST and GraphQL alike.

use std::time::Duration;

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::support::*;

/// The admin's view of the log with `query` (newest first).
async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/audit?{query}")).await.expect(200)["data"].as_array().cloned().unwrap_or_default()
}

/// The entries of `action`, waiting for the ones written after the answer (key use).
async fn eventually(app: &TestApp, action: &str, n: usize) -> Vec<Value> {
    for _ in 0..50 {
        let found = audit(app, &format!("action={action}")).await;
        if found.len() >= n {
            return found;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} `{action}` entries");
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|e| s(&e["action"])).collect()
}

#[actix_web::test]
async fn the_audit_log_says_who_changed_permissions_used_keys_exported_and_deleted() {
    let app = spawn().await;

    // A permission change: the role before and after, and nothing personal.
    let user = app.user("Kim Min-jun", json!({"email": "minjun@acme.kr", "role": "sales", "team": "Seoul"})).await;
    let uid = s(&user["id"]).to_string();
    app.patch(&format!("/api/v1/users/{uid}"), json!({"role": "support", "phone": "+82 10 1234 5678"}))
        .await
        .expect(200);
    let users = audit(&app, "entity=user").await;
    assert_eq!(actions(&users), ["user.updated", "user.created"]);
    let (updated, created) = (&users[0], &users[1]);
    assert_eq!((s(&updated["actor"]), s(&updated["ip"])), ("admin-user", "127.0.0.1"));
    assert_eq!(updated["record_id"], user["id"]);
    assert!(updated["request_id"].is_string(), "{updated}");
    assert_eq!(updated["details"]["before"]["role"], "sales");
    assert_eq!(updated["details"]["after"]["role"], "support");
    assert_eq!(updated["details"]["changed_fields"], json!(["phone", "role"]));
    assert_eq!(
        (created["details"]["before"].clone(), &created["details"]["after"]["team"]),
        (Value::Null, &json!("Seoul"))
    );
    let text = serde_json::to_string(&users).unwrap();
    assert!(!text.contains("Min-jun") && !text.contains("minjun@") && !text.contains("1234"), "{text}");

    // A sharing rule is audited; an ordinary contact's creation and update are not (the change
    // feed has them), its archive is.
    app.post("/api/v1/sharing-rules", json!({"entity": "opportunity", "level": "private"})).await.expect(201);
    let rule = audit(&app, "action=sharing_rule.*").await;
    assert_eq!(rule[0]["details"]["after"], json!({"entity": "opportunity", "level": "private"}));
    let kept = app.contact("Ji-woo", "Park", json!({"city": "Seoul"})).await;
    let gone = app.contact("Seo-yeon", "Lee", json!({"city": "Seoul"})).await;
    app.contact("Do-yun", "Choi", json!({"city": "Busan"})).await;
    app.patch(&format!("/api/v1/contacts/{}", s(&kept["id"])), json!({"city": "Incheon"})).await.expect(200);
    assert_eq!(app.delete(&format!("/api/v1/contacts/{}", s(&gone["id"]))).await.status, 204);
    let contacts = audit(&app, "entity=contact").await;
    assert_eq!(actions(&contacts), ["contact.archived"]);
    assert_eq!(contacts[0]["record_id"], gone["id"]);
    assert_eq!(contacts[0]["details"]["changed_fields"], json!(["archived_at"]));
    assert_eq!(audit(&app, "action=*.archived").await.len(), 1);

    // A bulk read: a sales rep's streamed export, with the list asked for and the rows sent
    // (two live contacts: three made, one archived).
    let rep = token(&app.keys, "rep-7", &["sales"], &[]);
    let r =
        app.call(Method::GET, "/api/v1/exports/stream?resource=contacts&fields=last_name", Some(&rep), None, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let exports = audit(&app, "actor=rep-7").await;
    assert_eq!(actions(&exports), ["export.streamed"]);
    assert_eq!(exports[0]["entity"], "job");
    assert_eq!(
        (exports[0]["details"]["resource"].as_str(), exports[0]["details"]["rows"].as_i64()),
        (Some("contacts"), Some(2))
    );
    assert_eq!(exports[0]["details"]["fields"], "last_name");

    // A bulk write: an import, with what it loads and how much.
    let import = json!({"resource": "contacts", "mode": "create", "dry_run": true}).to_string();
    let file: &[u8] = b"last_name,email\nKang,kang@example.com\nYoon,yoon@example.com\n";
    post_form(&app, &app.admin, "/api/v1/imports", &[("import", import.as_bytes()), ("file", file)]).await.expect(202);
    let imports = audit(&app, "action=import.queued").await;
    assert_eq!(imports.len(), 1);
    assert_eq!(imports[0]["details"]["rows"], 2);
    assert_eq!(
        (imports[0]["details"]["resource"].as_str(), imports[0]["details"]["dry_run"].as_bool()),
        (Some("contacts"), Some(true))
    );

    // API keys: created (with their scopes), used (as the key, from where), revoked, and the
    // revoked key tried again.
    let made = app.post("/api/v1/api-keys", json!({"name": "ERP sync", "scopes": ["contacts:read"]})).await.expect(201);
    let (key, kid) = (s(&made["key"]).to_string(), s(&made["id"]).to_string());
    app.call(Method::GET, "/api/v1/contacts", None, None, &[("X-Api-Key", &key)]).await.expect(200);
    let used = eventually(&app, "api_key.used", 1).await;
    assert_eq!((s(&used[0]["actor"]), s(&used[0]["ip"])), (format!("api_key:{kid}").as_str(), "127.0.0.1"));
    assert_eq!(
        (used[0]["record_id"].as_str(), used[0]["details"]["previous_use_at"].clone()),
        (Some(kid.as_str()), Value::Null)
    );
    assert_eq!(app.delete(&format!("/api/v1/api-keys/{kid}")).await.status, 204);
    let r = app.call(Method::GET, "/api/v1/contacts", None, None, &[("X-Api-Key", &key)]).await;
    assert_eq!(r.status, 401);
    let refused = eventually(&app, "api_key.refused", 1).await;
    assert_eq!(refused[0]["details"]["reason"], "revoked");
    let keys = audit(&app, &format!("record_id={kid}")).await;
    assert_eq!(actions(&keys), ["api_key.refused", "api_key.archived", "api_key.used", "api_key.created"]);
    assert_eq!(keys[3]["details"]["after"]["scopes"], json!(["contacts:read"]));
    assert!(!serde_json::to_string(&keys).unwrap().contains(&key[9..]), "the key itself is never logged");

    // Pages go newest first by `seq`, and the next one starts where the last stopped.
    let all = audit(&app, "limit=1000").await;
    let first = app.get("/api/v1/audit?limit=3").await.expect(200);
    let before = first["next_before"].as_i64().expect("more pages");
    let second = audit(&app, &format!("limit=3&before={before}")).await;
    let seqs: Vec<i64> =
        first["data"].as_array().unwrap().iter().chain(&second).map(|e| e["seq"].as_i64().unwrap()).collect();
    let expected: Vec<i64> = all.iter().take(6).map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, expected);
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    // `since` keeps the entries at or after the instant, `until` those before it.
    let since = s(&all[2]["occurred_at"]).to_string();
    let at_or_after = all.iter().filter(|e| s(&e["occurred_at"]) >= since.as_str()).count();
    assert!(at_or_after < all.len(), "the log spans more than one instant");
    assert_eq!(audit(&app, &format!("since={}", enc(&since))).await.len(), at_or_after);
    assert_eq!(audit(&app, &format!("until={}&limit=1000", enc(&since))).await.len(), all.len() - at_or_after);

    // Administrators only; bad parameters are 400.
    let r = app.call(Method::GET, "/api/v1/audit", Some(&rep), None, &[]).await;
    assert_eq!((r.status.as_u16(), r.body["code"].as_str()), (403, Some("FORBIDDEN")), "{}", r.body);
    let r = app.get("/api/v1/audit?action=api%25").await;
    assert_eq!((r.status.as_u16(), r.body["code"].as_str()), (400, Some("INVALID_PARAMETER")), "{}", r.body);
    let r = app.get("/api/v1/audit?limit=0").await;
    assert_eq!(r.status, 400, "{}", r.body);

    // GraphQL reads the same log through the same use case.
    let q = "query($a: String) { auditLog(action: $a, first: 10) { data { seq action actor recordId details } nextBefore } }";
    let g = app.gql(&app.admin, q, json!({"a": "api_key.*"})).await;
    let data = g["data"]["auditLog"]["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(data.iter().map(|e| s(&e["action"])).collect::<Vec<_>>(), actions(&keys), "{g}");
    assert_eq!(data[0]["seq"], keys[0]["seq"]);
    let g = app.gql(&rep, q, json!({"a": null})).await;
    assert_eq!(g["errors"][0]["extensions"]["code"], "FORBIDDEN", "{g}");
}
