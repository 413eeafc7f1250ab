//! Operational CRM end to end: users, the contact history, cases and comments, products and
//! purchases, the timeline and the summary, per role, in REST and GraphQL.

use std::collections::HashSet;

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::support::*;

async fn user(app: &TestApp, name: &str, subject: &str, extra: Value) -> Value {
    let mut body = json!({"subject": subject});
    merge(&mut body, extra);
    app.user(name, body).await
}

#[actix_web::test]
async fn users_are_unique_and_the_token_subject_resolves_to_one() {
    let app = spawn().await;
    let u = user(
        &app,
        "Seo-yeon Park",
        "sp",
        json!({"email": " SeoYeon@Example.com ", "role": "support",
        "department": "service", "team": "Tier 1", "territory": "KR-Seoul", "skills": ["Korean", "billing"]}),
    )
    .await;
    assert_eq!(u["email"], "seoyeon@example.com");
    assert_eq!(u["skills"], json!(["korean", "billing"]));
    assert_eq!(u["active"], true);
    let dup = app.post("/api/v1/users", json!({"name": "Other", "email": "seoyeon@example.com"})).await.expect(409);
    assert_eq!(dup["code"], "DUPLICATE_RECORD");
    assert_eq!(dup["existing_id"], u["id"]);
    let dup = app.post("/api/v1/users", json!({"name": "Other", "subject": "sp"})).await.expect(409);
    assert_eq!(error_fields(&dup), vec!["subject"]);
    let bad = app.post("/api/v1/users", json!({"email": "x"})).await.expect(422);
    assert_eq!(error_fields(&bad), vec!["name", "email"]);

    // Only admins write users; everyone reads them.
    let sales = app.token(&["sales"]);
    let r = app.call(Method::POST, "/api/v1/users", Some(&sales), Some(json!({"name": "X"})), &[]).await;
    assert_eq!(r.expect(403)["code"], "FORBIDDEN");
    let listed = app.call(Method::GET, "/api/v1/users?filter=department[eq]:service", Some(&sales), None, &[]).await;
    assert_eq!(listed.expect(200)["data"].as_array().unwrap().len(), 1);

    // `me`: the user whose subject is the token's sub.
    let me = token(&app.keys, "sp", &["support"], &[]);
    let r = app.call(Method::GET, "/api/v1/users/me", Some(&me), None, &[]).await.expect(200);
    assert_eq!(r["id"], u["id"]);
    // Record owners are users.
    let bad = app.post("/api/v1/accounts", json!({"name": "Acme", "owner_id": uuid::Uuid::now_v7()})).await.expect(422);
    assert_eq!(error_fields(&bad), vec!["owner_id"]);
    let acme = app.account("Acme", json!({"owner_id": u["id"]})).await;
    let ann = app.contact("Ann", "Lee", json!({"account_id": acme["id"]})).await;
    let bad =
        app.patch(&format!("/api/v1/contacts/{}", s(&ann["id"])), json!({"owner_id": uuid::Uuid::now_v7()})).await;
    assert_eq!(error_fields(&bad.expect(422)), vec!["owner_id"]);
    app.patch(&format!("/api/v1/contacts/{}", s(&ann["id"])), json!({"owner_id": u["id"]})).await.expect(200);
    let g = app
        .gql(
            &app.admin,
            "query($id: UUID!) { contact(id: $id) { owner { name } account { owner { email } } } }",
            json!({"id": ann["id"]}),
        )
        .await;
    assert_eq!(
        g["data"]["contact"],
        json!({"owner": {"name": "Seo-yeon Park"}, "account": {"owner": {"email": "seoyeon@example.com"}}})
    );

    let stranger = token(&app.keys, "nobody", &["sales"], &[]);
    app.call(Method::GET, "/api/v1/users/me", Some(&stranger), None, &[]).await.expect(404);
    let g = app.gql(&stranger, "{ me { id } }", json!({})).await;
    assert!(g["data"]["me"].is_null(), "{g}");
}

#[actix_web::test]
async fn a_new_subject_gets_a_user_when_provisioning_is_on() {
    let app = spawn_with(|s| s.provision_users = true).await;
    let t = token(&app.keys, "okta|123", &["sales"], &[]);
    let me = app.call(Method::GET, "/api/v1/users/me", Some(&t), None, &[]).await.expect(200);
    assert_eq!(me["subject"], "okta|123");
    assert_eq!(me["role"], "sales");
    let again = app.call(Method::GET, "/api/v1/users/me", Some(&t), None, &[]).await.expect(200);
    assert_eq!(again["id"], me["id"], "created once");
    // An archived user is not re-created: archiving revokes the subject as an author.
    let gone = token(&app.keys, "gone", &["sales"], &[]);
    let u = app.call(Method::GET, "/api/v1/users/me", Some(&gone), None, &[]).await.expect(200);
    app.delete(&format!("/api/v1/users/{}", s(&u["id"]))).await.expect(204);
    app.call(Method::GET, "/api/v1/users/me", Some(&gone), None, &[]).await.expect(404);
    // Invalid claims are left out instead of failing the caller.
    let claims = json!({"sub": "odd", "exp": chrono::Utc::now().timestamp() + 600, "iss": ISSUER, "aud": AUDIENCE,
        "roles": ["sales"], "email": "not-an-email", "name": "  "});
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    let odd = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap();
    let u = app.call(Method::GET, "/api/v1/users/me", Some(&odd), None, &[]).await.expect(200);
    assert_eq!((u["name"].as_str(), u["email"].is_null()), (Some("odd"), true));
    // The first interaction it logs is authored by that user.
    let c = app.contact("Ann", "Lee", json!({})).await;
    let x = app
        .call(
            Method::POST,
            "/api/v1/interactions",
            Some(&t),
            Some(json!({"type": "call", "contact_ids": [c["id"]]})),
            &[],
        )
        .await
        .expect(201);
    assert_eq!(x["author_id"], me["id"]);
    // Staff log as themselves.
    let other = user(&app, "Other", "other", json!({})).await;
    let r = app
        .call(
            Method::POST,
            "/api/v1/interactions",
            Some(&t),
            Some(json!({"type": "call", "contact_ids": [c["id"]], "author_id": other["id"]})),
            &[],
        )
        .await;
    assert_eq!(error_fields(&r.expect(422)), vec!["author_id"]);
    // An integration without a user of its own may attribute (a mail sync).
    let sync = token(&app.keys, "mail-sync", &[], &["interactions:write", "interactions:read"]);
    let sync_app = spawn_on(&app.database_url).await;
    let r = sync_app
        .call(
            Method::POST,
            "/api/v1/interactions",
            Some(&sync),
            Some(json!({"type": "email", "contact_ids": [c["id"]], "author_id": other["id"]})),
            &[],
        )
        .await;
    assert_eq!(r.expect(201)["author_id"], other["id"]);
}

#[actix_web::test]
async fn every_interaction_type_is_logged_with_its_participants() {
    let app = spawn().await;
    let acme = app.account("Acme", json!({"domain": "acme.example"})).await;
    let ann = app.contact("Ann", "Lee", json!({"account_id": acme["id"]})).await;
    let bob = app.contact("Bob", "Kim", json!({"account_id": acme["id"]})).await;
    let rep = user(&app, "Rep One", "rep-1", json!({"department": "sales"})).await;
    let rep_token = token(&app.keys, "rep-1", &["sales"], &[]);
    let types = ["call", "email", "meeting", "note", "visit", "sms", "chat", "web"];
    for (n, t) in types.iter().enumerate() {
        let body = json!({
            "type": t, "direction": if n % 2 == 0 { "outbound" } else { "inbound" },
            "subject": format!("{t} about the renewal"), "body": "Pricing for the Pro plan",
            "occurred_at": format!("2026-10-{:02}T09:00:00Z", n + 1), "duration_seconds": 60 * n,
            "outcome": "connected", "contact_ids": [ann["id"], bob["id"], ann["id"]], "tags": ["Renewal"],
        });
        let x = app.call(Method::POST, "/api/v1/interactions", Some(&rep_token), Some(body), &[]).await.expect(201);
        assert_eq!(x["type"], *t);
        assert_eq!(x["contact_ids"], json!([ann["id"], bob["id"]]), "participants de-duplicated, in order");
        assert_eq!(x["account_id"], acme["id"], "the account follows the first contact");
        assert_eq!(x["author_id"], rep["id"], "the author is the caller's user");
        assert_eq!(x["department"], "sales", "and the department the author's");
        assert_eq!(x["tags"], json!(["renewal"]));
    }
    // An account-only note.
    app.post("/api/v1/interactions", json!({"type": "note", "account_id": acme["id"], "body": "Budget frozen"}))
        .await
        .expect(201);

    let page = app.get(&format!("/api/v1/interactions?filter=contact_ids[eq]:{}&count=true", s(&bob["id"]))).await;
    let page = page.expect(200);
    assert_eq!(page["total"], 8);
    assert_eq!(page["data"][0]["type"], "web", "newest first by occurred_at");
    let found = app.get("/api/v1/interactions?q=pricing%20pro&filter=type[in]:[call,visit]").await.expect(200);
    assert_eq!(found["data"].as_array().unwrap().len(), 2);
    let by_author = app.get("/api/v1/interactions?filter=author.department[eq]:sales&count=true").await.expect(200);
    assert_eq!(by_author["total"], 8);

    // Bad input: clear field errors, nothing written.
    let bad = app
        .post(
            "/api/v1/interactions",
            json!({"type": "call", "contact_ids": [ann["id"], uuid::Uuid::now_v7()], "duration_seconds": -1}),
        )
        .await
        .expect(422);
    assert_eq!(error_fields(&bad), vec!["duration_seconds"]);
    let bad = app
        .post("/api/v1/interactions", json!({"type": "call", "contact_ids": [ann["id"], uuid::Uuid::now_v7()]}))
        .await
        .expect(422);
    assert_eq!(error_fields(&bad), vec!["contact_ids[1]"]);
    let bad = app.post("/api/v1/interactions", json!({"type": "fax", "contact_ids": [ann["id"]]})).await.expect(422);
    assert_eq!(bad["code"], "INVALID_BODY");
    assert!(bad["detail"].as_str().unwrap().contains("`fax`"), "{bad}");
    let bad = app
        .post(
            "/api/v1/interactions",
            json!({"type": "call", "contact_ids": [ann["id"]], "opportunity_id": uuid::Uuid::now_v7()}),
        )
        .await
        .expect(422);
    assert_eq!(error_fields(&bad), vec!["opportunity_id"]);
    let bad = app.post("/api/v1/interactions", json!({"type": "note"})).await.expect(422);
    assert_eq!(error_fields(&bad), vec!["contact_ids"]);

    // The same email from the mail system is stored once (upsert by external id).
    let path = "/api/v1/interactions/by-external-id/gmail/msg-42";
    let body = json!({"type": "email", "direction": "inbound", "subject": "Re: quote", "contact_ids": [ann["id"]]});
    let first = app.call(Method::PUT, path, Some(&app.admin), Some(body.clone()), &[]).await;
    assert_eq!(first.status, 201);
    let second = app.call(Method::PUT, path, Some(&app.admin), Some(body), &[]).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body["id"], first.body["id"]);
    assert_eq!(second.body["version"], 1, "an identical upsert changes nothing");
    let all = app.get("/api/v1/interactions?filter=type[eq]:email&count=true").await.expect(200);
    assert_eq!(all["total"], 2);
}

#[actix_web::test]
async fn cases_follow_their_workflow_and_sla() {
    let app = spawn().await;
    let policy = json!({"urgent_minutes": 120, "high_minutes": 480, "normal_minutes": 1440, "low_minutes": 4320});
    let support = token(&app.keys, "s", &["support"], &[]);
    let sales = token(&app.keys, "s", &["sales"], &[]);
    let r = app.call(Method::PUT, "/api/v1/case-sla-policy", Some(&sales), Some(policy.clone()), &[]).await;
    r.expect(403);
    let r = app
        .call(
            Method::PUT,
            "/api/v1/case-sla-policy",
            Some(&support),
            Some(json!({"urgent_minutes": 0,
        "high_minutes": 1, "normal_minutes": 1, "low_minutes": 1})),
            &[],
        )
        .await;
    assert_eq!(error_fields(&r.expect(422)), vec!["urgent_minutes"]);
    app.call(Method::PUT, "/api/v1/case-sla-policy", Some(&support), Some(policy.clone()), &[]).await.expect(200);
    let r = app.call(Method::GET, "/api/v1/case-sla-policy", Some(&sales), None, &[]).await;
    assert_eq!(r.expect(200), policy);
    let acme = app.account("Acme", json!({})).await;
    let ann = app.contact("Ann", "Lee", json!({"account_id": acme["id"]})).await;
    let agent = user(&app, "Agent", "agent-1", json!({"department": "service"})).await;
    let c = app
        .post(
            "/api/v1/cases",
            json!({"subject": "Invoice shows the wrong VAT", "type": "complaint", "contact_id": ann["id"],
                   "assignee_id": agent["id"], "origin": "email"}),
        )
        .await
        .expect(201);
    assert!(s(&c["number"]).starts_with("CS-"), "{c}");
    assert_eq!(c["status"], "new");
    assert_eq!(c["priority"], "normal");
    assert_eq!(c["account_id"], acme["id"], "the account follows the contact");
    let created = chrono::DateTime::parse_from_rfc3339(s(&c["created_at"])).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(s(&c["sla_due_at"])).unwrap();
    assert_eq!(due - created, chrono::TimeDelta::hours(24), "exactly: the SLA runs from creation");
    let c2 = app.post("/api/v1/cases", json!({"subject": "Second", "contact_id": ann["id"]})).await.expect(201);
    assert_ne!(c2["number"], c["number"], "numbers are unique");

    let id = s(&c["id"]).to_string();
    let path = format!("/api/v1/cases/{id}");
    // Priority drives the SLA, from creation.
    let up = app.patch(&path, json!({"priority": "urgent"})).await.expect(200);
    let due = chrono::DateTime::parse_from_rfc3339(s(&up["sla_due_at"])).unwrap();
    assert_eq!(due - created, chrono::TimeDelta::hours(2));
    // Overdue query with a time relative to now.
    let soon = app.get("/api/v1/cases?filter=and(sla_due_at[lt]:now%2B3h,status[in]:[new,open,pending])").await;
    assert_eq!(soon.expect(200)["data"].as_array().unwrap().len(), 1);

    // Illegal moves: 422 with what is allowed.
    let bad = app.patch(&path, json!({"status": "closed"})).await.expect(422);
    assert_eq!(bad["code"], "INVALID_TRANSITION");
    assert_eq!(bad["from"], "new");
    assert_eq!(bad["allowed"], json!(["open", "pending", "resolved"]));
    assert_eq!(app.get(&path).await.expect(200)["status"], "new", "nothing changed");
    let bad = app.post("/api/v1/cases", json!({"subject": "x", "status": "resolved"})).await.expect(422);
    assert_eq!(bad["code"], "INVALID_TRANSITION");

    app.patch(&path, json!({"status": "open"})).await.expect(200);
    let pending = app.patch(&path, json!({"status": "pending"})).await.expect(200);
    assert!(pending["first_response_at"].is_string(), "waiting on the customer means we answered");
    let resolved = app.patch(&path, json!({"status": "resolved", "satisfaction": 4})).await.expect(200);
    assert!(resolved["resolved_at"].is_string());
    let closed = app.patch(&path, json!({"status": "closed"})).await.expect(200);
    assert!(closed["closed_at"].is_string());
    let bad = app.patch(&path, json!({"status": "pending"})).await.expect(422);
    assert_eq!(bad["allowed"], json!(["open"]));
    let reopened = app.patch(&path, json!({"status": "open"})).await.expect(200);
    assert!(reopened["resolved_at"].is_null() && reopened["closed_at"].is_null());
    let due = chrono::DateTime::parse_from_rfc3339(s(&reopened["sla_due_at"])).unwrap();
    assert!(due > chrono::Utc::now() + chrono::Duration::minutes(100), "a reopened case gets a fresh SLA");
    // A priority change after a reopening keeps the reopened clock.
    let started = chrono::DateTime::parse_from_rfc3339(s(&reopened["sla_started_at"])).unwrap();
    let high = app.patch(&path, json!({"priority": "high"})).await.expect(200);
    let due = chrono::DateTime::parse_from_rfc3339(s(&high["sla_due_at"])).unwrap();
    assert_eq!(due - started, chrono::TimeDelta::hours(8));
    let bad = app.patch(&path, json!({"satisfaction": 9})).await.expect(422);
    assert_eq!(error_fields(&bad), vec!["satisfaction"]);

    // The history shows the workflow.
    let h = app.get(&format!("{path}/history?limit=100")).await.expect(200);
    let statuses: Vec<String> = h["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["changes"].as_array().unwrap().iter())
        .filter(|c| c["field"] == "status" && !c["from"].is_null())
        .map(|c| format!("{}>{}", s(&c["from"]), s(&c["to"])))
        .collect();
    assert_eq!(statuses, ["closed>open", "resolved>closed", "pending>resolved", "open>pending", "new>open"]);

    // Another contact brings its own account unless the patch names one.
    let globex = app.account("Globex", json!({})).await;
    let bo = app.contact("Bo", "Park", json!({"account_id": globex["id"]})).await;
    let moved = app.patch(&path, json!({"contact_id": bo["id"]})).await.expect(200);
    assert_eq!(moved["account_id"], globex["id"]);
    let kept = app.patch(&path, json!({"contact_id": ann["id"], "account_id": globex["id"]})).await.expect(200);
    assert_eq!(kept["account_id"], globex["id"]);
    app.get("/api/v1/cases?filter=sla_due_at[lt]:now--99999999999w").await.expect(400);

    // Assignees must be active users.
    let gone = user(&app, "Gone", "gone", json!({"active": false})).await;
    let bad = app.patch(&path, json!({"assignee_id": gone["id"]})).await.expect(422);
    assert_eq!(error_fields(&bad), vec!["assignee_id"]);
}

#[actix_web::test]
async fn comments_are_shared_across_departments() {
    let app = spawn().await;
    let ann = app.contact("Ann", "Lee", json!({})).await;
    user(&app, "Sam Sales", "sam", json!({"department": "sales"})).await;
    user(&app, "Sue Support", "sue", json!({"department": "service"})).await;
    let sales = token(&app.keys, "sam", &["sales"], &[]);
    let support = token(&app.keys, "sue", &["support"], &[]);
    let readonly = token(&app.keys, "rita", &["readonly"], &[]);
    let c = app
        .call(
            Method::POST,
            "/api/v1/cases",
            Some(&support),
            Some(json!({"subject": "Broken", "contact_id": ann["id"]})),
            &[],
        )
        .await
        .expect(201);
    let comments = format!("/api/v1/cases/{}/comments", s(&c["id"]));

    let note =
        app.call(Method::POST, &comments, Some(&sales), Some(json!({"body": "Key account, be kind"})), &[]).await;
    let note = note.expect(201);
    assert_eq!(note["visibility"], "internal");
    assert_eq!(note["department"], "sales");
    assert_eq!(note["author"], "sam");
    let r = app
        .call(Method::POST, &comments, Some(&sales), Some(json!({"body": "Hi!", "visibility": "public"})), &[])
        .await;
    assert_eq!(r.expect(403)["code"], "FORBIDDEN");
    let r = app.call(Method::POST, &comments, Some(&readonly), Some(json!({"body": "x"})), &[]).await;
    r.expect(403);
    let r = app.call(Method::POST, &comments, Some(&support), Some(json!({"body": "  "})), &[]).await;
    assert_eq!(error_fields(&r.expect(422)), vec!["body"]);
    let public = app
        .call(
            Method::POST,
            &comments,
            Some(&support),
            Some(json!({"body": "We are on it", "visibility": "public"})),
            &[],
        )
        .await
        .expect(201);
    assert_eq!(public["department"], "service");
    let case = app.get(&format!("/api/v1/cases/{}", s(&c["id"]))).await.expect(200);
    assert_eq!(case["first_response_at"], public["created_at"], "the first public answer is the first response");

    // Every department reads every comment.
    for t in [&sales, &support, &readonly] {
        let page = app.call(Method::GET, &comments, Some(t), None, &[]).await.expect(200);
        let bodies: Vec<&str> = page["data"].as_array().unwrap().iter().map(|c| s(&c["body"])).collect();
        assert_eq!(bodies, ["Key account, be kind", "We are on it"]);
    }
    let page = app.get(&format!("{comments}?limit=1")).await.expect(200);
    let next = s(&page["next_after"]).to_string();
    let rest = app.get(&format!("{comments}?after={next}")).await.expect(200);
    assert_eq!(rest["data"][0]["body"], "We are on it");
    // Comments are events in the change feed.
    let feed = app.get("/api/v1/changes?types=case_comment").await.expect(200);
    assert_eq!(feed["data"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn purchases_sync_by_external_id_with_exact_totals() {
    let app = spawn().await;
    let acme = app.account("Acme", json!({})).await;
    let ann = app.contact("Ann", "Lee", json!({"account_id": acme["id"]})).await;
    let pro = app
        .post("/api/v1/products", json!({"sku": "sub-pro-12m", "name": "Pro, 12 months", "family": "Subscriptions",
            "list_price": {"amount_minor": 1999, "currency": "eur"}, "unit_cost": {"amount_minor": 400, "currency": "EUR"}}))
        .await
        .expect(201);
    assert_eq!(pro["sku"], "SUB-PRO-12M");
    assert_eq!(pro["list_price"], json!({"amount_minor": 1999, "currency": "EUR"}));
    let dup = app.post("/api/v1/products", json!({"sku": "SUB-PRO-12M", "name": "Again"})).await.expect(409);
    assert_eq!(dup["existing_id"], pro["id"]);
    let old =
        app.post("/api/v1/products", json!({"sku": "OLD-1", "name": "Legacy", "active": false})).await.expect(201);

    let path = "/api/v1/purchases/by-external-id/erp/SO-1001";
    let body = json!({
        "reference": "SO-1001", "contact_id": ann["id"], "ordered_at": "2026-09-30T10:00:00Z",
        "lines": [
            {"product_id": pro["id"], "quantity": 3, "discount": {"amount_minor": 100, "currency": "EUR"}},
            {"sku": "sub-pro-12m", "quantity": 1, "unit_price": {"amount_minor": 1500, "currency": "EUR"}}
        ]
    });
    let first = app.call(Method::PUT, path, Some(&app.admin), Some(body.clone()), &[]).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let p = first.body;
    assert_eq!(p["account_id"], acme["id"], "the account follows the contact");
    assert_eq!(p["currency"], "EUR");
    assert_eq!(p["lines"][0]["total"], json!({"amount_minor": 5897, "currency": "EUR"}), "3 × 19.99 − 1.00");
    assert_eq!(p["lines"][1]["total"]["amount_minor"], 1500);
    assert_eq!(p["total"], json!({"amount_minor": 7397, "currency": "EUR"}));
    let again = app.call(Method::PUT, path, Some(&app.admin), Some(body), &[]).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["id"], p["id"]);
    assert_eq!(again.body["version"], 1);
    let changed = app
        .call(Method::PUT, path, Some(&app.admin), Some(json!({"lines": [{"sku": "SUB-PRO-12M", "quantity": 2}]})), &[])
        .await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.body["total"]["amount_minor"], 3998);
    assert_eq!(changed.body["version"], 2);
    let got = app.get(&format!("/api/v1/purchases/{}", s(&p["id"]))).await.expect(200);
    assert_eq!(got["lines"].as_array().unwrap().len(), 1, "lines are replaced, not appended");
    let n = app.get("/api/v1/purchases?count=true").await.expect(200)["total"].clone();
    assert_eq!(n, 1);

    // Bad lines: field errors per line, nothing written.
    let bad = app
        .post(
            "/api/v1/purchases",
            json!({"contact_id": ann["id"], "lines": [
            {"product_id": pro["id"], "quantity": 1, "unit_price": {"amount_minor": 100, "currency": "USD"}},
            {"product_id": old["id"], "quantity": 1, "unit_price": {"amount_minor": 100, "currency": "EUR"}},
            {"sku": "NOPE", "quantity": 1}
        ], "currency": "EUR"}),
        )
        .await
        .expect(422);
    assert_eq!(error_fields(&bad), vec!["lines[0].unit_price", "lines[1].product_id", "lines[2].product_id"]);
    let bad = app
        .post(
            "/api/v1/purchases",
            json!({"contact_id": ann["id"], "lines": [{"product_id": pro["id"], "quantity": 0}]}),
        )
        .await
        .expect(422);
    assert_eq!(error_fields(&bad), vec!["lines[0].quantity"]);
    let bad = app.post("/api/v1/purchases", json!({"lines": []})).await.expect(422);
    assert_eq!(error_fields(&bad), vec!["account_id", "lines"]);
    let overflow = app
        .post("/api/v1/purchases", json!({"account_id": acme["id"], "lines": [
            {"product_id": pro["id"], "quantity": 1_000_000_000, "unit_price": {"amount_minor": 9_000_000_000_000i64, "currency": "EUR"}}
        ]}))
        .await
        .expect(422);
    assert_eq!(error_fields(&overflow), vec!["lines[0].quantity"]);
}

#[actix_web::test]
async fn the_timeline_merges_every_kind_newest_first_and_pages() {
    let app = spawn().await;
    let acme = app.account("Acme", json!({})).await;
    let ann = app.contact("Ann", "Lee", json!({"account_id": acme["id"]})).await;
    let other = app.contact("Otto", "Other", json!({})).await;
    let ann_id = s(&ann["id"]).to_string();
    for day in [3, 7, 11, 15] {
        app.post(
            "/api/v1/interactions",
            json!({"type": "call", "contact_ids": [ann["id"]],
            "occurred_at": format!("2026-10-{day:02}T12:00:00Z")}),
        )
        .await
        .expect(201);
    }
    app.post("/api/v1/interactions", json!({"type": "call", "contact_ids": [other["id"]]})).await.expect(201);
    let archived = app
        .post(
            "/api/v1/interactions",
            json!({"type": "note", "contact_ids": [ann["id"]], "occurred_at": "2026-10-20T00:00:00Z"}),
        )
        .await
        .expect(201);
    app.delete(&format!("/api/v1/interactions/{}", s(&archived["id"]))).await.expect(204);
    let p = app
        .post(
            "/api/v1/products",
            json!({"sku": "A", "name": "A", "list_price": {"amount_minor": 500, "currency": "USD"}}),
        )
        .await
        .expect(201);
    app.post(
        "/api/v1/purchases",
        json!({"contact_id": ann["id"], "ordered_at": "2026-10-09T00:00:00Z",
        "lines": [{"product_id": p["id"], "quantity": 2}]}),
    )
    .await
    .expect(201);
    app.post("/api/v1/cases", json!({"subject": "Help", "contact_id": ann["id"]})).await.expect(201);
    app.patch(&format!("/api/v1/contacts/{ann_id}"), json!({"title": "CTO"})).await.expect(200);

    // Everything, in pages of 2: newest first, no duplicates, nothing missing.
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/api/v1/contacts/{ann_id}/timeline?limit=2&cursor={c}"),
            None => format!("/api/v1/contacts/{ann_id}/timeline?limit=2"),
        };
        let page = app.get(&url).await.expect(200);
        for item in page["data"].as_array().unwrap() {
            seen.push((s(&item["occurred_at"]).to_string(), s(&item["kind"]).to_string()));
            if item["kind"] != "change" {
                assert_eq!(item["id"], item["item"]["id"], "the entry's id is the record's");
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let kinds: Vec<&str> = seen.iter().map(|(_, k)| k.as_str()).collect();
    // Now: the change (title), the case, the purchase figures the purchase changed, the
    // contact's creation; then October's calls and the purchase.
    assert_eq!(
        kinds,
        ["change", "case", "change", "change", "interaction", "interaction", "purchase", "interaction", "interaction"],
        "{seen:?}"
    );
    let times: Vec<&String> = seen.iter().map(|(t, _)| t).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");

    let only = app.get(&format!("/api/v1/contacts/{ann_id}/timeline?kinds=purchase,case")).await.expect(200);
    let kinds: HashSet<&str> = only["data"].as_array().unwrap().iter().map(|i| s(&i["kind"])).collect();
    assert_eq!(kinds, HashSet::from(["purchase", "case"]));
    let purchase = only["data"].as_array().unwrap().iter().find(|i| i["kind"] == "purchase").unwrap();
    assert_eq!(purchase["item"]["total"]["amount_minor"], 1000);
    app.get(&format!("/api/v1/contacts/{ann_id}/timeline?kinds=fax")).await.expect(400);
    app.get(&format!("/api/v1/contacts/{ann_id}/timeline?cursor=garbage")).await.expect(400);
    app.get(&format!("/api/v1/contacts/{}/timeline", uuid::Uuid::now_v7())).await.expect(404);

    // The account's timeline holds the interactions at the account.
    let acc = app.get(&format!("/api/v1/accounts/{}/timeline?kinds=interaction", s(&acme["id"]))).await.expect(200);
    assert_eq!(acc["data"].as_array().unwrap().len(), 4);

    // A role without purchases sees the rest; asking for them is 403.
    let t = token(&app.keys, "u", &[], &["contacts:read", "interactions:read"]);
    let r = app.call(Method::GET, &format!("/api/v1/contacts/{ann_id}/timeline"), Some(&t), None, &[]).await;
    let kinds: HashSet<String> =
        r.expect(200)["data"].as_array().unwrap().iter().map(|i| s(&i["kind"]).to_string()).collect();
    assert_eq!(kinds, HashSet::from(["interaction".to_string(), "change".to_string()]));
    let r =
        app.call(Method::GET, &format!("/api/v1/contacts/{ann_id}/timeline?kinds=purchase"), Some(&t), None, &[]).await;
    r.expect(403);

    // The summary an agent sees.
    let sum = app.get(&format!("/api/v1/contacts/{ann_id}/summary")).await.expect(200);
    assert_eq!(sum["open_cases"], 1);
    assert_eq!(sum["overdue_cases"], 0);
    assert_eq!(sum["interactions_total"], 4);
    assert_eq!(sum["last_interaction"]["occurred_at"], "2026-10-15T12:00:00Z");
    assert_eq!(sum["purchases"], 1);
    assert_eq!(sum["lifetime_value"], json!([{"amount_minor": 1000, "currency": "USD"}]));
    assert_eq!(sum["products_owned"], json!([{"product_id": p["id"], "sku": "A", "name": "A", "quantity": 2}]));
    let acc_sum = app.get(&format!("/api/v1/accounts/{}/summary", s(&acme["id"]))).await.expect(200);
    assert_eq!(acc_sum["contacts"], 1);
    assert_eq!(acc_sum["open_cases"], 1);
    let r = app.call(Method::GET, &format!("/api/v1/contacts/{ann_id}/summary"), Some(&t), None, &[]).await.expect(200);
    assert!(r["open_cases"].is_null() && r["purchases"].is_null() && r["interactions_total"] == 4, "{r}");
}

#[actix_web::test]
async fn roles_map_to_the_new_scopes() {
    let app = spawn().await;
    let ann = app.contact("Ann", "Lee", json!({})).await;
    let case = app.post("/api/v1/cases", json!({"subject": "S", "contact_id": ann["id"]})).await.expect(201);
    let case_path = format!("/api/v1/cases/{}", s(&case["id"]));
    let call = json!({"type": "call", "contact_ids": [ann["id"]]});
    let product = json!({"sku": "P", "name": "P"});
    // (role, may log interactions, may work cases, may write products)
    for (role, interactions, cases, products) in [
        ("sales", true, false, false),
        ("marketing", true, false, false),
        ("support", true, true, false),
        ("readonly", false, false, false),
        ("admin", true, true, true),
    ] {
        let t = token(&app.keys, &format!("{role}-1"), &[role], &[]);
        let r = app.call(Method::POST, "/api/v1/interactions", Some(&t), Some(call.clone()), &[]).await;
        assert_eq!(r.status.as_u16(), if interactions { 201 } else { 403 }, "{role} interactions");
        let r = app.call(Method::PATCH, &case_path, Some(&t), Some(json!({"priority": "high"})), &[]).await;
        assert_eq!(r.status.as_u16(), if cases { 200 } else { 403 }, "{role} cases");
        let r = app.call(Method::POST, "/api/v1/products", Some(&t), Some(product.clone()), &[]).await;
        assert_eq!(r.status.as_u16(), if products { 201 } else { 403 }, "{role} products");
        for path in ["/api/v1/interactions", "/api/v1/cases", "/api/v1/products", "/api/v1/purchases", "/api/v1/users"]
        {
            let r = app.call(Method::GET, path, Some(&t), None, &[]).await;
            assert_eq!(r.status, 200, "{role} reads {path}");
        }
    }
    // A token with scopes only (an integration).
    let erp = token(&app.keys, "erp", &[], &["products:write", "products:read"]);
    let r = app.call(Method::POST, "/api/v1/products", Some(&erp), Some(json!({"sku": "Q", "name": "Q"})), &[]).await;
    r.expect(201);
    let r = app.call(Method::GET, "/api/v1/cases", Some(&erp), None, &[]).await;
    r.expect(403);
}

#[actix_web::test]
async fn graphql_matches_rest_for_the_new_resources() {
    let app = spawn_quiet().await;
    let acme = app.account("Acme", json!({})).await;
    let ann = app.contact("Ann", "Lee", json!({"account_id": acme["id"]})).await;
    let agent = user(&app, "Agent", "agent", json!({"department": "service"})).await;
    let t = token(&app.keys, "agent", &["support"], &[]);
    let created = app
        .gql(
            &t,
            "mutation($i: CaseInput!) { createCase(input: $i) { id number status type priority slaDueAt account { id } } }",
            json!({"i": {"subject": "Broken", "type": "INCIDENT", "contactId": ann["id"], "assigneeId": agent["id"]}}),
        )
        .await;
    let c = &created["data"]["createCase"];
    assert_eq!(c["type"], "INCIDENT", "{created}");
    assert_eq!(c["account"]["id"], acme["id"]);
    let rest = app.get(&format!("/api/v1/cases/{}", s(&c["id"]))).await.expect(200);
    assert_eq!(rest["number"], c["number"]);
    assert_eq!(rest["sla_due_at"], c["slaDueAt"]);
    let bad = app
        .gql(&t, "mutation($id: UUID!) { updateCase(id: $id, input: {status: CLOSED}) { id } }", json!({"id": c["id"]}))
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "INVALID_TRANSITION", "{bad}");
    app.gql(
        &t,
        "mutation($id: UUID!) { addCaseComment(caseId: $id, input: {body: \"On it\", visibility: PUBLIC}) { id } }",
        json!({"id": c["id"]}),
    )
    .await;
    for n in 0..3 {
        app.post(
            "/api/v1/interactions",
            json!({"type": "call", "contact_ids": [ann["id"]], "case_id": c["id"],
            "occurred_at": format!("2026-10-0{}T09:00:00Z", n + 1)}),
        )
        .await
        .expect(201);
    }
    let q = "query($id: UUID!) { contact(id: $id) {
        summary { openCases interactionsTotal }
        timeline(first: 10, kinds: [INTERACTION, CASE]) { nodes { kind interaction { id type contacts { id } case { number } }
            case { number assignee { name } comments { nodes { body visibility author } } } } pageInfo { hasNextPage } }
      } }";
    let r = app.gql(&app.admin, q, json!({"id": ann["id"]})).await;
    assert!(r["errors"].is_null(), "{r}");
    let contact = &r["data"]["contact"];
    assert_eq!(contact["summary"], json!({"openCases": 1, "interactionsTotal": 3}));
    let nodes = contact["timeline"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 4);
    assert_eq!(nodes[0]["kind"], "CASE");
    assert_eq!(nodes[0]["case"]["assignee"]["name"], "Agent");
    assert_eq!(nodes[0]["case"]["comments"]["nodes"][0]["author"], "agent");
    assert_eq!(nodes[1]["interaction"]["case"]["number"], c["number"]);
    assert_eq!(nodes[1]["interaction"]["contacts"][0]["id"], ann["id"]);
    let rest_tl =
        app.get(&format!("/api/v1/contacts/{}/timeline?kinds=interaction,case", s(&ann["id"]))).await.expect(200);
    let rest_kinds: Vec<String> =
        rest_tl["data"].as_array().unwrap().iter().map(|i| s(&i["kind"]).to_uppercase()).collect();
    let gql_kinds: Vec<String> = nodes.iter().map(|n| s(&n["kind"]).to_string()).collect();
    assert_eq!(rest_kinds, gql_kinds, "same entries in the same order");

    // Lists with relations: a constant number of statements however many rows.
    let before = app.db.statements_executed();
    let r = app
        .gql(
            &app.admin,
            "{ interactions(first: 50) { nodes { id author { id } contacts { id account { id } } case { id } } } }",
            json!({}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    let used = app.db.statements_executed() - before;
    assert!(used <= 10, "{used} statements for a list with three relation levels");

    // Products and purchases through GraphQL, upserted by external id.
    let up = app
        .gql(
            &app.admin,
            "mutation { upsertProduct(externalId: {source: \"erp\", id: \"P-1\"}, input: {sku: \"P1\", name: \"One\",
                listPrice: {amountMinor: 250, currency: \"KRW\"}}) { created node { id sku externalIds { source id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(up["data"]["upsertProduct"]["created"], true, "{up}");
    let r = app
        .gql(
            &app.admin,
            "mutation($c: UUID!) { createPurchase(input: {contactId: $c, lines: [{sku: \"P1\", quantity: 4}]}) {
                total { amountMinor currency } items { quantity product { sku } } } }",
            json!({"c": ann["id"]}),
        )
        .await;
    assert_eq!(r["data"]["createPurchase"]["total"], json!({"amountMinor": 1000, "currency": "KRW"}), "{r}");
    assert_eq!(r["data"]["createPurchase"]["items"][0]["product"]["sku"], "P1");
}

#[actix_web::test]
async fn the_demo_seed_fills_every_resource() {
    let app = spawn().await;
    let db = app.db.clone();
    let seeded = actix_web::rt::task::spawn_blocking(move || {
        let mut progress = crm_gateway::progress::Progress::hidden();
        crm_gateway::seed::seed(&db, 5, 40, true, &mut progress).unwrap();
        crm_gateway::seed_operational::seed(&db, 120, &mut progress).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        (seeded.users, seeded.products, seeded.interactions, seeded.cases, seeded.purchases),
        (8, 12, 120, 2, 36)
    );
    for (path, n) in [("interactions", 120), ("cases", 2), ("purchases", 36), ("products", 12), ("users", 8)] {
        let page = app.get(&format!("/api/v1/{path}?count=true&limit=1")).await.expect(200);
        assert_eq!(page["total"], n, "{path}");
    }
    // The demo's custom fields, with values on every account and contact.
    let fields = app.get("/api/v1/custom-fields?count=true&limit=1").await.expect(200);
    assert_eq!(fields["total"], 6);
    for (path, filter, n) in [
        ("accounts", "custom_fields.segment[in]:[smb,mid_market,enterprise]", 5),
        ("accounts", "custom_fields.credit_limit[is_null]:false", 5),
        ("contacts", "custom_fields.preferred_language[is_null]:false", 40),
    ] {
        let page = app.get(&format!("/api/v1/{path}?count=true&limit=1&filter={}", enc(filter))).await.expect(200);
        assert_eq!(page["total"], n, "{filter}");
    }
    let p = app.get("/api/v1/purchases?limit=1").await.expect(200);
    let contact = s(&p["data"][0]["contact_id"]).to_string();
    let sum = app.get(&format!("/api/v1/contacts/{contact}/summary")).await.expect(200);
    assert!(sum["purchases"].as_i64().unwrap() >= 1, "{sum}");
    assert!(!sum["products_owned"].as_array().unwrap().is_empty());
    // Campaigns with members and results.
    assert_eq!(seeded.campaigns, 5);
    let page = app.get("/api/v1/campaigns?count=true&filter=status%5Beq%5D:completed").await.expect(200);
    assert_eq!(page["total"], 1);
    let letter = s(&page["data"][0]["id"]).to_string();
    let members = app.get(&format!("/api/v1/campaigns/{letter}/members?limit=1")).await.expect(200);
    let stats = app.get(&format!("/api/v1/campaigns/{letter}/stats")).await.expect(200);
    let t = &stats["total"];
    assert_eq!(t["targeted"].as_i64().unwrap() + t["excluded"].as_i64().unwrap(), members["total"].as_i64().unwrap());
    assert_eq!(t["cost"], json!([{"amount_minor": 165_000, "currency": "USD"}]));
    // Members who clicked bought afterwards: the newsletter's revenue is those purchases'.
    let bought = app.get("/api/v1/purchases?limit=100&filter=reference%5Bis_null%5D:false").await.expect(200);
    let bought: i64 =
        bought["data"].as_array().unwrap().iter().map(|p| p["total"]["amount_minor"].as_i64().unwrap()).sum();
    assert!(bought > 0);
    assert_eq!(t["revenue"], json!([{"amount_minor": bought, "currency": "USD"}]));
    assert!(t["converted"].as_i64().unwrap() >= t["attributed_conversions"].as_i64().unwrap());
}

#[actix_web::test]
async fn new_resources_take_batches_and_feed_the_change_log() {
    let app = spawn().await;
    let ann = app.contact("Ann", "Lee", json!({})).await;
    let ops: Vec<Value> = (0..5)
        .map(|n| {
            json!({"op": "upsert", "external_id": {"source": "dialer", "id": format!("call-{n}")},
                   "data": {"type": "call", "contact_ids": [ann["id"]], "duration_seconds": 30 * n}})
        })
        .chain([json!({"op": "create", "data": {"type": "call", "contact_ids": [uuid::Uuid::now_v7()]}})])
        .collect();
    let r = app.post("/api/v1/interactions/batch", json!({"operations": ops.clone()})).await.expect(200);
    let statuses: Vec<u64> = r["results"].as_array().unwrap().iter().map(|x| x["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [201, 201, 201, 201, 201, 422]);
    // Replayed by the dialer: the same five, updated in place (unchanged: version 1).
    let r = app.post("/api/v1/interactions/batch", json!({"operations": ops[..5]})).await.expect(200);
    assert!(r["results"].as_array().unwrap().iter().all(|x| x["status"] == 200 && x["version"] == 1), "{r}");
    // Atomic: one bad operation and nothing is applied.
    let bad = app
        .post(
            "/api/v1/cases/batch",
            json!({"atomic": true, "operations": [
                {"op": "create", "data": {"subject": "One"}},
                {"op": "create", "data": {"subject": "Two", "status": "closed"}}
            ]}),
        )
        .await
        .expect(422);
    assert_eq!(bad["operation_index"], 1);
    assert_eq!(bad["code"], "INVALID_TRANSITION");
    assert_eq!(app.get("/api/v1/cases?count=true").await.expect(200)["total"], 0);

    let g = app
        .gql(
            &app.admin,
            "mutation { batchCases(operations: [{create: {subject: \"A\"}}, {upsert: {externalId: {source: \"zendesk\", id: \"7\"}, input: {subject: \"B\", priority: HIGH}}}]) { status id version error { code } } }",
            json!({}),
        )
        .await;
    let results = g["data"]["batchCases"].as_array().unwrap_or_else(|| panic!("{g}"));
    assert_eq!(results.iter().map(|x| x["status"].as_i64().unwrap()).collect::<Vec<_>>(), [201, 201]);
    let by_ext = app.get("/api/v1/cases/by-external-id/zendesk/7").await.expect(200);
    assert_eq!(by_ext["priority"], "high");

    // Every write is in the change feed, per entity.
    let feed = app.get("/api/v1/changes?types=interactions,cases").await.expect(200);
    let kinds: Vec<&str> = feed["data"].as_array().unwrap().iter().map(|e| s(&e["type"])).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "interaction.created").count(), 5);
    assert_eq!(kinds.iter().filter(|k| **k == "case.created").count(), 2);
    let readonly = token(&app.keys, "r", &["readonly"], &["changes:read"]);
    let r = app.call(Method::GET, "/api/v1/changes?types=products", Some(&readonly), None, &[]).await;
    r.expect(200);
    let r = app.call(Method::GET, "/api/v1/changes", Some(&readonly), None, &[]).await.expect(200);
    assert!(r["data"].as_array().unwrap().iter().any(|e| e["entity"] == "interaction"), "readable entities are in");
}

#[actix_web::test]
async fn fields_project_every_read() {
    let app = spawn().await;
    let acme = app.account("Acme", json!({"domain": "acme.example"})).await;
    let ann = app.contact("Ann", "Lee", json!({"email": "ann@acme.example", "account_id": acme["id"]})).await;
    app.post("/api/v1/interactions", json!({"type": "call", "subject": "Hello", "contact_ids": [ann["id"]]}))
        .await
        .expect(201);
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let page = app.get("/api/v1/contacts?fields=first_name,account&include=account").await.expect(200);
    assert_eq!(keys(&page["data"][0]), ["account", "first_name", "id"]);
    assert_eq!(page["data"][0]["account"]["name"], "Acme");
    let one = app
        .call(Method::GET, &format!("/api/v1/contacts/{}?fields=email", s(&ann["id"])), Some(&app.admin), None, &[])
        .await;
    assert_eq!(one.header("etag").as_deref(), Some("\"1\""));
    assert_eq!(one.expect(200), json!({"id": ann["id"], "email": "ann@acme.example"}));
    let acc = app.get(&format!("/api/v1/accounts/{}?fields=name", s(&acme["id"]))).await.expect(200);
    assert_eq!(acc, json!({"id": acme["id"], "name": "Acme"}));
    let xs = app.get("/api/v1/interactions?fields=type,subject").await.expect(200);
    assert_eq!(keys(&xs["data"][0]), ["id", "subject", "type"]);
    let bad = app.get("/api/v1/interactions?fields=type,colour").await.expect(400);
    assert_eq!((bad["code"].as_str(), error_fields(&bad)), (Some("INVALID_PARAMETER"), vec!["fields".to_string()]));
    // An embed named in `fields` is returned when `include` embeds it, else left out.
    let bare = app.get("/api/v1/contacts?fields=account").await.expect(200);
    assert_eq!(keys(&bare["data"][0]), ["id"]);
}

#[actix_web::test]
async fn customers_carry_what_they_bought_and_list_by_it() {
    let app = spawn().await;
    let krw = app.product("K-1", json!({"list_price": {"amount_minor": 50_000, "currency": "KRW"}})).await;
    let usd = app.product("U-1", json!({"list_price": {"amount_minor": 2_500, "currency": "USD"}})).await;
    let acme = app.account("Acme", json!({})).await;
    let ann = app.contact("Ann", "Lee", json!({"account_id": acme["id"]})).await;
    let bob = app.contact("Bob", "Kim", json!({"account_id": acme["id"]})).await;
    assert_eq!((acme["lifetime_value"].clone(), acme["purchase_count"].clone()), (Value::Null, json!(0)));
    let bought = |product: &Value, quantity: i64, who: &Value, day: &str| {
        json!({"contact_id": who["id"], "ordered_at": format!("2026-11-{day}T09:00:00Z"),
               "lines": [{"product_id": product["id"], "quantity": quantity}]})
    };
    // Ann: two purchases in KRW (2 × 50 000 and 3 × 50 000) and one in USD (4 × 2 500), later.
    let k1 = app.created("/api/v1/purchases", bought(&krw, 2, &ann, "02")).await;
    app.created("/api/v1/purchases", bought(&krw, 3, &ann, "05")).await;
    let u1 = app.created("/api/v1/purchases", bought(&usd, 4, &ann, "20")).await;
    let a = app.get(&format!("/api/v1/contacts/{}", s(&ann["id"]))).await.expect(200);
    assert_eq!(a["lifetime_value"], json!({"amount_minor": 250_000, "currency": "KRW"}), "most purchases in KRW");
    assert_eq!(a["purchase_count"], 3);
    assert_eq!(a["last_purchase_at"], "2026-11-20T09:00:00Z");
    // A system change of the contact: a new version and an `updated` event per purchase.
    assert_eq!(a["version"], 4, "{a}");
    let h = app.get(&format!("/api/v1/contacts/{}/history", s(&ann["id"]))).await.expect(200);
    let newest = &h["data"][0];
    assert_eq!(newest["type"], "contact.updated", "{h}");
    let fields: Vec<&str> =
        newest["changes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["last_purchase_at", "purchase_count"], "{newest}");
    // The account adds up its people's purchases.
    let acc = app.get(&format!("/api/v1/accounts/{}", s(&acme["id"]))).await.expect(200);
    assert_eq!(
        (acc["lifetime_value"]["amount_minor"].clone(), acc["purchase_count"].clone()),
        (json!(250_000), json!(3))
    );

    // Cancelled and archived purchases do not count; a purchase moved to Bob counts for him.
    app.patch(&format!("/api/v1/purchases/{}", s(&k1["id"])), json!({"status": "cancelled"})).await.expect(200);
    app.patch(&format!("/api/v1/purchases/{}", s(&u1["id"])), json!({"contact_id": bob["id"]})).await.expect(200);
    let a = app.get(&format!("/api/v1/contacts/{}", s(&ann["id"]))).await.expect(200);
    assert_eq!(a["lifetime_value"], json!({"amount_minor": 150_000, "currency": "KRW"}));
    assert_eq!((a["purchase_count"].clone(), a["last_purchase_at"].clone()), (json!(1), json!("2026-11-05T09:00:00Z")));
    let b = app.get(&format!("/api/v1/contacts/{}", s(&bob["id"]))).await.expect(200);
    assert_eq!(b["lifetime_value"], json!({"amount_minor": 10_000, "currency": "USD"}));
    app.delete(&format!("/api/v1/purchases/{}", s(&u1["id"]))).await.expect(204);
    let b = app.get(&format!("/api/v1/contacts/{}", s(&bob["id"]))).await.expect(200);
    assert_eq!((b["lifetime_value"].clone(), b["purchase_count"].clone()), (Value::Null, json!(0)));
    assert_eq!(b["last_purchase_at"], Value::Null);

    // The most valuable customers in one currency, highest first; others need their currency.
    let cy = app.contact("Cy", "Park", json!({})).await;
    app.created("/api/v1/purchases", bought(&krw, 9, &cy, "10")).await;
    let top =
        app.get("/api/v1/contacts?filter=lifetime_value_currency%5Beq%5D%3Akrw&sort=-lifetime_value").await.expect(200);
    let names: Vec<&str> = top["data"].as_array().unwrap().iter().map(|c| c["first_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Cy", "Ann"], "450 000 then 150 000");
    let rich = app
        .get("/api/v1/contacts?filter=and(lifetime_value_currency%5Beq%5D%3AKRW,lifetime_value%5Bgte%5D%3A200000)")
        .await
        .expect(200);
    assert_eq!(rich["data"].as_array().unwrap().len(), 1);
    let bad = app.get("/api/v1/contacts?sort=-lifetime_value").await.expect(400);
    assert_eq!(
        (bad["code"].clone(), bad["errors"][0]["code"].clone()),
        (json!("INVALID_SORT"), json!("currency_required"))
    );
    let recent =
        app.get("/api/v1/contacts?sort=-last_purchase_at&filter=purchase_count%5Bgte%5D%3A1").await.expect(200);
    let names: Vec<&str> =
        recent["data"].as_array().unwrap().iter().map(|c| c["first_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Cy", "Ann"]);
    // GraphQL reads and orders by them too.
    let g = app
        .gql(
            &app.admin,
            "{ contacts(where: {lifetimeValueCurrency: {eq: \"KRW\"}}, orderBy: [{field: LIFETIME_VALUE, direction: DESC}]) { nodes { firstName lifetimeValue { amountMinor currency } purchaseCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        g["data"]["contacts"]["nodes"][0],
        json!({"firstName": "Cy", "lifetimeValue": {"amountMinor": 450_000, "currency": "KRW"}, "purchaseCount": 1}),
        "{g}"
    );
    // Server-managed: a write cannot set them.
    let r = app.post("/api/v1/contacts", json!({"last_name": "X", "purchase_count": 9})).await.expect(422);
    assert_eq!(r["errors"][0]["field"], "purchase_count", "{r}");
}

#[actix_web::test]
async fn a_persons_interactions_are_a_connection_and_an_include() {
    let app = spawn_quiet().await;
    let ann = app.contact("Ann", "Lee", json!({})).await;
    let bob = app.contact("Bob", "Kim", json!({})).await;
    app.contact("Cy", "Park", json!({})).await;
    let at = |day: u32| format!("2026-10-{day:02}T09:00:00Z");
    // Ann: three calls of her own; one meeting with Bob too (the newest); Cy: none.
    for day in [1, 2, 3] {
        app.interaction(&ann, json!({"subject": format!("Ann {day}"), "occurred_at": at(day)})).await;
    }
    app.interaction(
        &ann,
        json!({"type": "meeting", "subject": "Both", "occurred_at": at(9), "contact_ids": [ann["id"], bob["id"]]}),
    )
    .await;
    let q = "{ contacts(orderBy: [{field: FIRST_NAME}]) { nodes { firstName
        interactions(first: 2) { nodes { subject } pageInfo { hasNextPage endCursor } }
        meetings: interactions(where: {type: {eq: MEETING}}) { nodes { subject } } } } }";
    let before = app.db.statements_executed();
    let g = app.gql(&app.admin, q, json!({})).await;
    let used = app.db.statements_executed() - before;
    assert!(g.get("errors").is_none(), "{g}");
    let nodes = g["data"]["contacts"]["nodes"].as_array().unwrap();
    let subjects = |n: &Value, key: &str| -> Vec<String> {
        n[key]["nodes"].as_array().unwrap().iter().map(|i| s(&i["subject"]).to_string()).collect()
    };
    assert_eq!(subjects(&nodes[0], "interactions"), ["Both", "Ann 3"], "newest first, two of four");
    assert_eq!(nodes[0]["interactions"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(subjects(&nodes[1], "interactions"), ["Both"], "the shared meeting is Bob's too");
    assert_eq!(nodes[1]["interactions"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(nodes[2]["firstName"], "Cy");
    assert!(subjects(&nodes[2], "interactions").is_empty());
    assert_eq!(subjects(&nodes[0], "meetings"), ["Both"]);
    assert_eq!(subjects(&nodes[1], "meetings"), ["Both"]);
    // The page, then two statements per connection (its rows, their links), whatever the count.
    assert_eq!(used, 5, "statements");
    // The cursor continues in the interactions list filtered on the person.
    let cursor = s(&nodes[0]["interactions"]["pageInfo"]["endCursor"]);
    let rest = app
        .get(&format!(
            "/api/v1/interactions?limit=2&filter={}&cursor={cursor}",
            enc(&format!("contacts.id[eq]:{}", s(&ann["id"])))
        ))
        .await
        .expect(200);
    let more: Vec<&str> = rest["data"].as_array().unwrap().iter().map(|i| s(&i["subject"])).collect();
    assert_eq!(more, ["Ann 2", "Ann 1"]);
    // REST embeds them the same way.
    let r = app.get(&format!("/api/v1/contacts/{}?include=interactions", s(&bob["id"]))).await.expect(200);
    assert_eq!(r["interactions"]["data"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r["interactions"]["data"][0]["subject"], "Both");
    assert_eq!(r["interactions"]["next_cursor"], Value::Null);
}

#[actix_web::test]
async fn concurrent_purchases_of_one_customer_all_count() {
    let app = spawn().await;
    let krw = app.product("K-9", json!({"list_price": {"amount_minor": 1_000, "currency": "KRW"}})).await;
    let acme = app.account("Acme", json!({})).await;
    let ann = app.contact("Ann", "Lee", json!({"account_id": acme["id"]})).await;
    // Twelve purchases of 1..=12 units at once: each one's total reaches both customers.
    let futs = (1..=12).map(|q| {
        app.post(
            "/api/v1/purchases",
            json!({"contact_id": ann["id"], "lines": [{"product_id": krw["id"], "quantity": q}]}),
        )
    });
    for r in futures_util::future::join_all(futs).await {
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let expected = 1_000 * (1..=12).sum::<i64>();
    for path in [format!("/api/v1/contacts/{}", s(&ann["id"])), format!("/api/v1/accounts/{}", s(&acme["id"]))] {
        let c = app.get(&path).await.expect(200);
        assert_eq!(c["purchase_count"], 12, "{c}");
        assert_eq!(c["lifetime_value"], json!({"amount_minor": expected, "currency": "KRW"}), "{c}");
    }
}
