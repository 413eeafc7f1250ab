//! Duplicate detection: a contact's and an account's likely duplicates with their scores and
//! rules, the scan over the whole base, and the rules configured. Scores are worked out here
//! from the documented formula `1 − Π(1 − weight × similarity)` with the default weights.

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::support::*;

fn ids_scores(list: &Value) -> Vec<(String, f64)> {
    list.as_array().unwrap().iter().map(|c| (s(&c["id"]).to_string(), c["score"].as_f64().unwrap())).collect()
}

fn rules(c: &Value) -> Vec<String> {
    let mut r: Vec<String> = c["rules"].as_array().unwrap().iter().map(|r| s(&r["rule"]).to_string()).collect();
    r.sort();
    r
}

#[actix_web::test]
async fn duplicates_by_rule_with_scores_and_a_scan() {
    let app = spawn().await;
    let acme = app.account("ACME Korea Co., Ltd.", json!({"country": "KR", "domain": "acme.co.kr"})).await;
    let acme2 = app.account("Acme Korea", json!({"country": "KR"})).await;
    app.account("Acme Korea Inc", json!({"country": "US"})).await;
    let phone = "+82 10 1234 5678";
    let a = app
        .contact("Minjun", "Kim", json!({"email": "minjun@example.kr", "phone": phone, "account_id": acme["id"], "city": "Seoul", "country": "KR"}))
        .await;
    // Likely a duplicate of `a` (which is what this test is about): created all the same.
    let b = app
        .created(
            "/api/v1/contacts?allow_duplicate=true",
            json!({"first_name": "Minjun", "last_name": "Kim", "emails": ["minjun@example.kr"], "phone": phone,
                "account_id": acme["id"]}),
        )
        .await;
    let f = app.contact("민준", "김", json!({"phone": "+821012345678", "city": "Busan", "country": "KR"})).await;
    let c = app.contact("Anna", "Schmidt", json!({"city": "Berlin", "country": "DE"})).await;
    let d = app.contact("Anna", "Schmidt", json!({"city": "berlin", "country": "DE"})).await;
    app.contact("Anna", "Schmitt", json!({"city": "Berlin", "country": "DE"})).await;

    // Email (0.95), phone (0.8) and name within the account (0.7 × 1.0):
    // 1 − 0.05 × 0.2 × 0.3 = 0.997. The phone alone (the Hangul name is not close): 0.8.
    let dups = app.get(&format!("/api/v1/contacts/{}/duplicates", s(&a["id"]))).await.expect(200);
    assert_eq!(ids_scores(&dups), vec![(s(&b["id"]).to_string(), 0.997), (s(&f["id"]).to_string(), 0.8)], "{dups}");
    assert_eq!(rules(&dups[0]), vec!["contact_email", "contact_name_account", "contact_phone"]);
    assert_eq!(dups[1]["rules"], json!([{"rule": "contact_phone", "similarity": 1.0}]));
    // The same family name in the same city (case aside) scores 0.5 × 1.0: under the default
    // min_score of 0.6, weak evidence alone is not listed.
    let dups = app.get(&format!("/api/v1/contacts/{}/duplicates", s(&c["id"]))).await.expect(200);
    assert_eq!(dups, json!([]));
    // Accounts: the legal form aside, the same name in the same country: 0.8 × 1.0.
    let dups = app.get(&format!("/api/v1/accounts/{}/duplicates", s(&acme["id"]))).await.expect(200);
    assert_eq!(ids_scores(&dups), vec![(s(&acme2["id"]).to_string(), 0.8)], "{dups}");

    // The scan finds the same pairs across the base, best first.
    let job = app.post("/api/v1/duplicates/scan", json!({})).await.expect(202);
    let job = wait_for_job(&app, &format!("/api/v1/jobs/{}", s(&job["id"]))).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["contacts"]["records"], 6);
    assert_eq!(job["result"]["contacts"]["pairs"], 3);
    assert_eq!(job["result"]["contacts"]["kept"], 3);
    let pairs = app.get("/api/v1/duplicates?resource=contacts&limit=2").await.expect(200);
    assert_eq!(pairs["total"], 3);
    let pair = |p: &Value| {
        let mut ids = [s(&p["a_id"]).to_string(), s(&p["b_id"]).to_string()];
        ids.sort();
        (ids, p["score"].as_f64().unwrap())
    };
    let sorted = |x: &Value, y: &Value| {
        let mut ids = [s(x).to_string(), s(y).to_string()];
        ids.sort();
        ids
    };
    assert_eq!(pair(&pairs["data"][0]), (sorted(&a["id"], &b["id"]), 0.997));
    assert_eq!(pairs["data"][1]["score"], 0.8);
    let rest =
        app.get(&format!("/api/v1/duplicates?resource=contacts&after={}", s(&pairs["next_after"]))).await.expect(200);
    let scores: Vec<f64> = rest["data"].as_array().unwrap().iter().map(|p| p["score"].as_f64().unwrap()).collect();
    assert_eq!(scores, vec![0.8]);
    assert_eq!(rest["next_after"], Value::Null);
    let accounts = app.get("/api/v1/duplicates?resource=accounts").await.expect(200);
    assert_eq!(accounts["total"], 1);
    assert_eq!(pair(&accounts["data"][0]), (sorted(&acme["id"], &acme2["id"]), 0.8));

    // Rules are configurable: listing from 0.5, Anna's namesake in Berlin is a candidate;
    // without the city rule, not; weights are 0 to 1. ("Schmitt" is another family name.)
    let mut settings = app.get("/api/v1/duplicates/settings").await.expect(200);
    assert_eq!(settings["min_score"], 0.6);
    settings["min_score"] = json!(0.5);
    app.call(Method::PUT, "/api/v1/duplicates/settings", Some(&app.admin), Some(settings.clone()), &[])
        .await
        .expect(200);
    let dups = app.get(&format!("/api/v1/contacts/{}/duplicates", s(&c["id"]))).await.expect(200);
    assert_eq!(ids_scores(&dups), vec![(s(&d["id"]).to_string(), 0.5)], "{dups}");
    assert_eq!(dups[0]["rules"], json!([{"rule": "contact_name_city", "similarity": 1.0}]));
    settings["contact_name_city"]["enabled"] = json!(false);
    app.call(Method::PUT, "/api/v1/duplicates/settings", Some(&app.admin), Some(settings.clone()), &[])
        .await
        .expect(200);
    let dups = app.get(&format!("/api/v1/contacts/{}/duplicates", s(&c["id"]))).await.expect(200);
    assert_eq!(dups, json!([]));
    settings["contact_email"]["weight"] = json!(1.5);
    let bad = app.call(Method::PUT, "/api/v1/duplicates/settings", Some(&app.admin), Some(settings), &[]).await;
    assert_eq!(bad.status, 422);
    assert_eq!(error_fields(&bad.body), vec!["contact_email.weight"]);
    let sales = app.token(&["sales"]);
    let r = app.call(Method::PUT, "/api/v1/duplicates/settings", Some(&sales), Some(json!({})), &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);

    // GraphQL asks the same.
    let g = app
        .gql(&app.admin, "query($id: UUID!) { contactDuplicates(id: $id) { id score } }", json!({"id": a["id"]}))
        .await;
    assert_eq!(g["data"]["contactDuplicates"][0]["score"], 0.997, "{g}");
}

fn close(x: &Value, expected: f64) -> bool {
    (x.as_f64().unwrap() - expected).abs() < 1e-9
}

#[actix_web::test]
async fn a_likely_duplicate_is_refused_on_create_unless_allowed_and_reported_by_imports() {
    let app = spawn().await;
    let acme = app.account("Acme", json!({})).await;
    let a = app
        .contact(
            "Minjun",
            "Kim",
            json!({"email": "minjun@acme.kr", "phone": "+82 10 1111 2222", "account_id": acme["id"]}),
        )
        .await;
    // The same phone and name at the same account: 1 − (1 − 0.8)(1 − 0.7) = 0.94, above the
    // default block score of 0.9. Nothing is stored.
    let twin = json!({"first_name": "Minjun", "last_name": "Kim", "phone": "+821011112222", "account_id": acme["id"]});
    let r = app.post("/api/v1/contacts", twin.clone()).await;
    assert_eq!((r.status.as_u16(), s(&r.body["code"])), (409, "POSSIBLE_DUPLICATE"), "{}", r.body);
    assert_eq!(r.body["candidates"][0]["id"], a["id"]);
    assert!(close(&r.body["candidates"][0]["score"], 0.94), "{}", r.body);
    assert_eq!(r.body["candidates"][0]["email"], "minjun@acme.kr");
    assert_eq!(app.all_ids("/api/v1/contacts?limit=10").await.len(), 1);
    // The phone alone (another name): 0.8, under the block score.
    app.contact("Seoyeon", "Park", json!({"phone": "+821011112222"})).await;
    // A token that may write contacts but not read them learns the ids and scores only.
    let writer = token(&app.keys, "sync", &[], &["contacts:write"]);
    let r = app.call(Method::POST, "/api/v1/contacts", Some(&writer), Some(twin.clone()), &[]).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["candidates"][0]["id"], a["id"]);
    assert_eq!(r.body["candidates"][0].get("email"), None, "{}", r.body);
    // GraphQL says the same, and both take the caller's word for it.
    let q = "mutation($input: ContactInput!, $allow: Boolean!) { createContact(input: $input, allowDuplicate: $allow) { id } }";
    let input = json!({"firstName": "Minjun", "lastName": "Kim", "phone": "+821011112222", "accountId": acme["id"]});
    let res = app.gql(&app.admin, q, json!({"input": input, "allow": false})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "POSSIBLE_DUPLICATE", "{res}");
    assert_eq!(res["errors"][0]["extensions"]["candidates"][0]["id"], a["id"], "{res}");
    let res = app.gql(&app.admin, q, json!({"input": input, "allow": true})).await;
    assert!(res["data"]["createContact"]["id"].is_string(), "{res}");
    app.created("/api/v1/contacts?allow_duplicate=true", twin.clone()).await;
    // Syncs are not stopped: a batch creates it.
    let batch =
        app.post("/api/v1/contacts/batch", json!({"operations": [{"op": "create", "data": twin}]})).await.expect(200);
    assert_eq!(batch["results"][0]["status"], 201, "{batch}");
    assert_eq!(batch["results"][0].get("possible_duplicate"), None, "{batch}");
    // A batch that asks for the check creates every record and reports the likely duplicates
    // per operation: the twin (0.94), not a stranger, not an update.
    let stranger = json!({"first_name": "Hana", "last_name": "Choi", "phone": "+821055556666"});
    let ops = json!([
        {"op": "create", "data": stranger},
        {"op": "create", "data": twin},
        {"op": "update", "id": a["id"], "data": {"title": "CTO"}},
    ]);
    let batch =
        app.post("/api/v1/contacts/batch", json!({"operations": ops, "report_duplicates": true})).await.expect(200);
    let statuses: Vec<i64> =
        batch["results"].as_array().unwrap().iter().map(|r| r["status"].as_i64().unwrap()).collect();
    assert_eq!(statuses, vec![201, 201, 200], "{batch}");
    assert_eq!(batch["results"][0].get("possible_duplicate"), None, "{batch}");
    assert_eq!(batch["results"][2].get("possible_duplicate"), None, "{batch}");
    let flagged = &batch["results"][1]["possible_duplicate"];
    assert_eq!((flagged["status"].as_i64(), s(&flagged["code"])), (Some(409), "POSSIBLE_DUPLICATE"), "{batch}");
    // Every earlier twin is a candidate too; the original is among them at 0.94.
    let original = flagged["candidates"].as_array().unwrap().iter().find(|c| c["id"] == a["id"]).expect("original");
    assert!(close(&original["score"], 0.94), "{batch}");
    assert_eq!(app.get(&format!("/api/v1/contacts/{}", s(&batch["results"][1]["id"]))).await.status, 200);
    // GraphQL: the same report in `possibleDuplicate`.
    let q = "mutation($ops: [ContactBatchOp!]!) { batchContacts(operations: $ops, reportDuplicates: true) { status id possibleDuplicate { candidates { id score rules } } } }";
    let gql_ops = json!([{"create": {"firstName": "Minjun", "lastName": "Kim", "phone": "+821011112222", "accountId": acme["id"]}}]);
    let res = app.gql(&app.admin, q, json!({"ops": gql_ops})).await;
    let item = &res["data"]["batchContacts"][0];
    assert_eq!(item["status"], 201, "{res}");
    let candidates = item["possibleDuplicate"]["candidates"].as_array().expect("candidates");
    let original = candidates.iter().find(|c| c["id"] == a["id"]).expect("original");
    assert!(close(&original["score"], 0.94), "{res}");
    let mut matched: Vec<&str> = original["rules"].as_array().unwrap().iter().map(s).collect();
    matched.sort();
    assert_eq!(matched, vec!["contact_name_account", "contact_phone"], "{res}");
    // An admin can switch the check off.
    let mut settings = app.get("/api/v1/duplicates/settings").await.expect(200);
    assert_eq!((settings["check_on_create"].as_bool(), settings["block_score"].as_f64()), (Some(true), Some(0.9)));
    settings["check_on_create"] = json!(false);
    app.call(Method::PUT, "/api/v1/duplicates/settings", Some(&app.admin), Some(settings.clone()), &[])
        .await
        .expect(200);
    app.contact("Minjun", "Kim", json!({"phone": "+821011112222", "account_id": acme["id"]})).await;
    settings["check_on_create"] = json!(true);
    app.call(Method::PUT, "/api/v1/duplicates/settings", Some(&app.admin), Some(settings), &[]).await.expect(200);

    // An import that asks for it lists its likely duplicates per row, and imports them.
    let csv = format!(
        "first_name,last_name,phone,account_id\nMinjun,Kim,+821011112222,{}\nJisoo,Lee,+821099990000,\n",
        s(&acme["id"])
    );
    let import = json!({"resource": "contacts", "mode": "create", "report_duplicates": true});
    let parts = [("import", import.to_string().into_bytes()), ("file", csv.into_bytes())];
    let parts: Vec<(&str, &[u8])> = parts.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    let started = post_form(&app, &app.admin, "/api/v1/imports", &parts).await.expect(202);
    let done = wait_for_job(&app, &format!("/api/v1/imports/{}", s(&started["id"]))).await;
    let counts = &done["counts"];
    assert_eq!(
        (counts["created"].as_i64(), counts["failed"].as_i64(), counts["possible_duplicates"].as_i64()),
        (Some(2), Some(0), Some(1)),
        "{done}"
    );
    let report = app.get(&format!("/api/v1/imports/{}/errors", s(&started["id"]))).await.expect(200);
    assert_eq!(report["data"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!((report["data"][0]["row"].as_i64(), s(&report["data"][0]["code"])), (Some(1), "possible_duplicate"));
}
