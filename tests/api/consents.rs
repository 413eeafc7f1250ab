//! Consent records: one live record per person, purpose and channel, whose history is the
//! ledger; marketing consents set the contact's flags, which campaigns obey; unsubscribes,
//! lead conversions and merges keep the ledger whole.

use serde_json::{Value, json};

use crate::support::*;

async fn consent(app: &TestApp, body: Value) -> Value {
    app.post("/api/v1/consents", body).await.expect(201)
}

#[actix_web::test]
async fn consents_are_a_ledger_that_sets_the_flags_campaigns_obey() {
    let app = spawn().await;
    let kim = app.contact("Min-jun", "Kim", json!({"email": "minjun@acme.kr", "phone": "+82 2 312 1111"})).await;
    let kid = s(&kim["id"]).to_string();

    // What a consent must say: whose, for what, given or withdrawn, where, and (given) to which
    // text; not two people, not in the future.
    let r = app.post("/api/v1/consents", json!({"purpose": "marketing", "status": "granted"})).await.expect(422);
    assert_eq!(error_fields(&r), ["contact_id", "source", "text_version"], "{r}");
    let lead = app.lead("Park", json!({"email": "park@example.com"})).await;
    let both = json!({"contact_id": kid, "lead_id": lead["id"], "purpose": "profiling", "status": "withdrawn",
                      "source": "call"});
    assert_eq!(error_fields(&app.post("/api/v1/consents", both).await.expect(422)), ["lead_id"]);
    let future = json!({"contact_id": kid, "purpose": "profiling", "status": "withdrawn", "source": "call",
                        "captured_at": "2099-01-01T00:00:00Z"});
    let r = app.post("/api/v1/consents", future).await.expect(422);
    assert_eq!(r["errors"][0]["code"], "in_future", "{r}");
    let nobody = json!({"contact_id": uuid::Uuid::now_v7(), "purpose": "profiling", "status": "withdrawn",
                        "source": "call"});
    assert_eq!(error_fields(&app.post("/api/v1/consents", nobody).await.expect(422)), ["contact_id"]);

    // Granted on email: the contact is opted in, from the time given.
    let given = consent(
        &app,
        json!({"contact_id": kid, "purpose": "marketing", "channel": "email", "status": "granted",
               "source": "web_form:newsletter", "text_version": "privacy-2026-03",
               "captured_at": "2026-11-30T10:00:00Z", "evidence": "submission 8812"}),
    )
    .await;
    let cons = s(&given["id"]).to_string();
    assert_eq!(given["key"], format!("contact:{kid}/marketing/email"));
    let contact = app.get(&format!("/api/v1/contacts/{kid}")).await.expect(200);
    assert_eq!(
        (contact["email_consent"].as_str(), contact["email_consent_at"].as_str()),
        (Some("opted_in"), Some("2026-11-30T10:00:00Z"))
    );
    // One live record per person, purpose and channel: the next word is a change of it.
    let r = app
        .post(
            "/api/v1/consents",
            json!({"contact_id": kid, "purpose": "marketing", "channel": "email", "status": "withdrawn",
                   "source": "call"}),
        )
        .await
        .expect(409);
    assert_eq!(r["existing_id"], given["id"], "{r}");
    let r = app.patch(&format!("/api/v1/consents/{cons}"), json!({"channel": "sms"})).await.expect(422);
    assert_eq!(r["errors"][0]["code"], "immutable");

    // Withdrawn by phone: now, and the contact is opted out; the history keeps both words.
    let withdrawn = app
        .patch(&format!("/api/v1/consents/{cons}"), json!({"status": "withdrawn", "source": "phone_call"}))
        .await
        .expect(200);
    assert!(s(&withdrawn["captured_at"]) > "2026-12-01", "{withdrawn}");
    let contact = app.get(&format!("/api/v1/contacts/{kid}")).await.expect(200);
    assert_eq!(contact["email_consent"], "opted_out");
    let history = app.get(&format!("/api/v1/consents/{cons}/history")).await.expect(200);
    let text = history.to_string();
    assert!(text.contains("granted") && text.contains("withdrawn") && text.contains("phone_call"), "{text}");
    // Listed per person, in REST and GraphQL.
    let listed = app.get(&format!("/api/v1/consents?filter=contact_id[eq]:{kid}")).await.expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let g = app
        .gql(
            &app.admin,
            "query($id: ID!) { contact(id: $id) { consents { nodes { purpose channel status textVersion } } } }",
            json!({"id": kid}),
        )
        .await;
    assert_eq!(
        g["data"]["contact"]["consents"]["nodes"],
        json!([{"purpose": "MARKETING", "channel": "EMAIL", "status": "WITHDRAWN", "textVersion": "privacy-2026-03"}]),
        "{g}"
    );

    // Campaigns obey: withdrawing phone marketing keeps a contact out of a call campaign, and
    // withdrawing every channel out of all of them.
    let lee = app.contact("Seo-yeon", "Lee", json!({"phone": "+82 2 312 2222", "tags": ["calls"]})).await;
    let choi = app.contact("Do-yun", "Choi", json!({"phone": "+82 2 312 3333", "tags": ["calls"]})).await;
    let han = app.contact("Ji-ho", "Han", json!({"phone": "+82 2 312 4444", "tags": ["calls"]})).await;
    let no = |c: &Value, channel: Value| {
        json!({"contact_id": c["id"], "purpose": "marketing", "channel": channel, "status": "withdrawn",
               "source": "call"})
    };
    consent(&app, no(&lee, json!("phone"))).await;
    consent(&app, no(&choi, Value::Null)).await;
    let flags = app.get(&format!("/api/v1/contacts/{}", s(&choi["id"]))).await.expect(200);
    assert_eq!((flags["marketing_opt_out"].as_bool(), flags["do_not_call"].as_bool()), (Some(true), Some(false)));
    let rep = app.user("Caller", json!({"subject": "caller", "role": "sales"})).await;
    let seg = app.segment("Calls", json!({"criteria": "tags[eq]:calls"})).await;
    let c = app
        .campaign(
            "Renewal calls",
            json!({"channel": "phone", "segment_ids": [seg["id"]], "call_script": "Hello from Acme.",
                   "caller_ids": [rep["id"]], "ends_on": "2027-01-29"}),
        )
        .await;
    app.patch(&format!("/api/v1/campaigns/{}", s(&c["id"])), json!({"status": "running"})).await.expect(200);
    let page = app.get(&format!("/api/v1/campaigns/{}/members?limit=100", s(&c["id"]))).await.expect(200);
    let status = |who: &Value| {
        let m = page["data"].as_array().unwrap().iter().find(|m| m["contact_id"] == who["id"]).cloned().unwrap();
        (s(&m["status"]).to_string(), m["exclusion_reason"].clone())
    };
    assert_eq!(status(&lee), ("excluded".to_string(), json!("do_not_call")));
    assert_eq!(status(&choi), ("excluded".to_string(), json!("opted_out")));
    assert_eq!(status(&han).0, "targeted");
}

#[actix_web::test]
async fn a_leads_consents_follow_it_into_its_contact_and_merges_keep_the_latest_word() {
    let app = spawn().await;
    // A lead withdrew post marketing; converted, the contact it becomes is not mailed.
    let lead = app.lead("Yoon", json!({"first_name": "Seo-jun", "company": "Hanbit", "email": "sj@hanbit.kr"})).await;
    let lid = s(&lead["id"]).to_string();
    let posted = consent(
        &app,
        json!({"lead_id": lid, "purpose": "marketing", "channel": "post", "status": "withdrawn", "source": "trade_show"}),
    )
    .await;
    assert_eq!(posted["key"], format!("lead:{lid}/marketing/post"));
    let converted = app.post(&format!("/api/v1/leads/{lid}/convert"), json!({})).await.expect(200);
    let cid = s(&converted["contact_id"]).to_string();
    let moved = app.get(&format!("/api/v1/consents/{}", s(&posted["id"]))).await.expect(200);
    assert_eq!((moved["contact_id"].as_str(), moved["lead_id"].clone()), (Some(cid.as_str()), Value::Null));
    assert_eq!(moved["key"], format!("contact:{cid}/marketing/post"));
    let contact = app.get(&format!("/api/v1/contacts/{cid}")).await.expect(200);
    assert_eq!(contact["do_not_mail"], true, "{contact}");

    // Two records of one person merged: on email, the later word (the duplicate's withdrawal)
    // stays and the survivor's older grant is archived; profiling, only the duplicate's, moves.
    let dup = app.contact("Seo-jun", "Yoon", json!({"email": "seojun.yoon@gmail.com"})).await;
    let older = consent(
        &app,
        json!({"contact_id": cid, "purpose": "marketing", "channel": "email", "status": "granted", "source": "web",
               "text_version": "v1", "captured_at": "2026-10-01T00:00:00Z"}),
    )
    .await;
    let newer = consent(
        &app,
        json!({"contact_id": dup["id"], "purpose": "marketing", "channel": "email", "status": "withdrawn",
               "source": "call", "captured_at": "2026-11-01T00:00:00Z"}),
    )
    .await;
    let profiling = consent(
        &app,
        json!({"contact_id": dup["id"], "purpose": "profiling", "status": "withdrawn", "source": "call"}),
    )
    .await;
    app.post(&format!("/api/v1/contacts/{cid}/merge"), json!({"losers": [dup["id"]]})).await.expect(200);
    let live = app.get(&format!("/api/v1/consents?filter=contact_id[eq]:{cid}&sort=key")).await.expect(200);
    let ids: Vec<&str> = live["data"].as_array().unwrap().iter().map(|c| s(&c["id"])).collect();
    // By key: …/marketing/email, …/marketing/post, …/profiling/any.
    assert_eq!(ids, [s(&newer["id"]), s(&posted["id"]), s(&profiling["id"])], "{live}");
    let archived = app.get(&format!("/api/v1/consents/{}", s(&older["id"]))).await.expect(200);
    assert!(archived["archived_at"].is_string(), "{archived}");
    let contact = app.get(&format!("/api/v1/contacts/{cid}")).await.expect(200);
    assert_eq!(contact["email_consent"], "opted_out");
}

#[actix_web::test]
async fn a_contact_who_withdrew_profiling_is_not_analysed() {
    let app = spawn().await;
    let p = app.product("PROF-1", json!({})).await;
    let line = json!([{"product_id": p["id"], "quantity": 1}]);
    let ordered = (chrono::Utc::now() - chrono::Duration::days(30)).format("%Y-%m-%dT00:00:01Z").to_string();
    let (kim, lee) = (app.contact("Min-jun", "Kim", json!({})).await, app.contact("Seo-yeon", "Lee", json!({})).await);
    for who in [&kim, &lee] {
        app.created("/api/v1/purchases", json!({"contact_id": who["id"], "ordered_at": ordered, "lines": line})).await;
    }
    let refresh = || async {
        let r = app.post("/api/v1/analytics/refresh", json!({})).await;
        assert_eq!(r.status, 202, "{}", r.body);
        let job = wait_for_job(&app, &r.header("location").unwrap()).await;
        assert_eq!(s(&job["status"]), "succeeded", "{job}");
    };
    let analysed = || async {
        let page = app.get("/api/v1/analytics/customers?limit=100").await.expect(200);
        let mut ids: Vec<String> =
            page["data"].as_array().unwrap().iter().map(|x| s(&x["customer_id"]).to_string()).collect();
        ids.sort();
        ids
    };
    refresh().await;
    let mut both = vec![s(&kim["id"]).to_string(), s(&lee["id"]).to_string()];
    both.sort();
    assert_eq!(analysed().await, both);

    // Kim withdraws profiling (every channel): at once, no analysis of him on demand, and his
    // next best actions come from his cases alone (still 200); at the next refresh, none stored.
    consent(&app, json!({"contact_id": kim["id"], "purpose": "profiling", "status": "withdrawn", "source": "letter"}))
        .await;
    let r = app.get(&format!("/api/v1/contacts/{}/analytics", s(&kim["id"]))).await.expect(409);
    assert_eq!(r["code"], "PROFILING_WITHDRAWN", "{r}");
    app.get(&format!("/api/v1/contacts/{}/next-best-actions", s(&kim["id"]))).await.expect(200);
    refresh().await;
    assert_eq!(analysed().await, vec![s(&lee["id"]).to_string()]);
    app.get(&format!("/api/v1/contacts/{}/analytics", s(&lee["id"]))).await.expect(200);
}
