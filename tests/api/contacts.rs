use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn contact_lifecycle_with_account_include_and_consent() {
    let app = spawn().await;
    let acc = app.account("Hanbit Systems", json!({"tier": "gold", "city": "Seoul"})).await;
    let acc_id = acc["id"].as_str().unwrap();
    let c = app
        .post(
            "/api/v1/contacts",
            json!({"first_name": "민준", "last_name": "김", "email": " MinJun.Kim@Hanbit.CO.KR ",
                   "emails": ["mj@personal.kr", "MINJUN.KIM@hanbit.co.kr"], "phone": "010-1234-5678", "country": "KR",
                   "account_id": acc_id, "lifecycle_stage": "customer", "email_consent": "opted_in", "tags": ["Newsletter"]}),
        )
        .await
        .expect(201);
    let id = c["id"].as_str().unwrap();
    assert_eq!(c["email"], "minjun.kim@hanbit.co.kr");
    assert_eq!(c["emails"], json!(["mj@personal.kr"]));
    assert_eq!(c["phone"], "+821012345678");
    assert_eq!(c["lifecycle_stage"], "customer");
    assert!(c["email_consent_at"].is_string());
    assert_eq!(c["do_not_call"], false);

    // include=account embeds the account on get and list.
    let got = app.get(&format!("/api/v1/contacts/{id}?include=account")).await.expect(200);
    assert_eq!(got["account"]["name"], "Hanbit Systems");
    let plain = app.get(&format!("/api/v1/contacts/{id}")).await.expect(200);
    assert!(plain.get("account").is_none());
    let listed = app.get("/api/v1/contacts?include=account").await.expect(200);
    assert_eq!(listed["data"][0]["account"]["id"], acc_id);
    let bad = app.get("/api/v1/contacts?include=shoe_size").await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body["errors"][0]["message"],
        "includable: account, owner, opportunities, cases, interactions, activities, purchases, consents"
    );
    let owned = app.get("/api/v1/contacts?include=owner").await.expect(200);
    assert_eq!(owned["data"][0]["owner"], serde_json::Value::Null, "no owner: embedded as null");

    // The account's contacts.
    app.contact("No", "Account", json!({})).await;
    let of_account = app.get(&format!("/api/v1/accounts/{acc_id}/contacts")).await.expect(200);
    assert_eq!(of_account["data"].as_array().unwrap().len(), 1);
    assert_eq!(of_account["data"][0]["id"], id);
    assert_eq!(app.get("/api/v1/accounts/01a20352-0000-7000-8000-000000000000/contacts").await.status, 404);

    // Consent changes are timestamped; unchanged consent keeps its time.
    let before = c["email_consent_at"].clone();
    let p = app.patch(&format!("/api/v1/contacts/{id}"), json!({"title": "CTO"})).await.expect(200);
    assert_eq!(p["email_consent_at"], before);
    let p = app
        .patch(&format!("/api/v1/contacts/{id}"), json!({"email_consent": "opted_out", "account_id": null}))
        .await
        .expect(200);
    assert_eq!(p["email_consent"], "opted_out");
    assert_ne!(p["email_consent_at"], before);
    assert_eq!(p["account_id"], json!(null));
    assert_eq!(p["version"], 3);

    // Archive and restore.
    assert_eq!(app.delete(&format!("/api/v1/contacts/{id}")).await.status, 204);
    assert_eq!(app.get("/api/v1/contacts?count=true").await.expect(200)["total"], 1);
    assert_eq!(app.get("/api/v1/contacts?archived=true&count=true").await.expect(200)["total"], 2);
    app.post(&format!("/api/v1/contacts/{id}/restore"), json!({})).await.expect(200);
    assert_eq!(app.get("/api/v1/contacts?count=true").await.expect(200)["total"], 2);
}

#[actix_web::test]
async fn contact_validation_and_duplicates() {
    let app = spawn().await;
    let bad = app
        .post(
            "/api/v1/contacts",
            json!({"email": "not-an-email", "phone": "010-1234-5678", "account_id": "01a20352-0000-7000-8000-000000000000",
                   "country": "XX", "emails": ["ok@example.com", "bad@"]}),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let fields = error_fields(&bad.body);
    for f in ["email", "phone", "country", "emails[1]"] {
        assert!(fields.contains(&f.to_string()), "{f} not in {fields:?}");
    }
    // A contact needs a name or an email.
    let empty = app.post("/api/v1/contacts", json!({"title": "CEO"})).await;
    assert_eq!(empty.status, 422);
    assert_eq!(error_fields(&empty.body), vec!["last_name"]);
    // An account that does not exist is named.
    let no_acc = app
        .post("/api/v1/contacts", json!({"last_name": "Lee", "account_id": "01a20352-0000-7000-8000-000000000000"}))
        .await;
    assert_eq!(no_acc.status, 422);
    assert_eq!(error_fields(&no_acc.body), vec!["account_id"]);

    let first = app.contact("Jane", "Doe", json!({"email": "jane@example.com"})).await;
    let dup = app.post("/api/v1/contacts", json!({"last_name": "Doe", "email": "JANE@example.com"})).await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.body["existing_id"], first["id"]);
    // Changing another contact's email to a taken one is also a conflict.
    let other = app.contact("John", "Doe", json!({"email": "john@example.com"})).await;
    let taken = app
        .patch(&format!("/api/v1/contacts/{}", other["id"].as_str().unwrap()), json!({"email": "jane@example.com"}))
        .await;
    assert_eq!(taken.status, 409);
    let unchanged = app.get(&format!("/api/v1/contacts/{}", other["id"].as_str().unwrap())).await.expect(200);
    assert_eq!(unchanged["email"], "john@example.com");
    assert_eq!(unchanged["version"], 1);
}
