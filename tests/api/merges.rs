//! Merging duplicates: the survivor's values, every related record moved (counted in every
//! table that can point at a contact, an account or a lead: none may still name a loser), the
//! losers' tombstones (301 on read, 409 on write), external ids that keep working, the
//! `merged` events, and the errors.

use diesel::RunQueryDsl;
use serde_json::{Value, json};

use crate::support::*;

/// Every place a row can name a contact (JSON lists are searched as text).
const CONTACT_REFS: &[(&str, &str)] = &[
    ("cases", "contact_id"),
    ("interaction_contacts", "contact_id"),
    ("interactions", "contact_ids"),
    ("purchases", "contact_id"),
    ("leads", "converted_contact_id"),
    ("opportunities", "contact_id"),
    ("activities", "contact_id"),
    ("segment_members", "contact_id"),
    ("campaign_members", "contact_id"),
    ("campaign_attributions", "contact_id"),
    ("campaign_member_history", "contact_id"),
    ("campaign_sends", "contact_id"),
    ("web_visitors", "contact_id"),
    ("customer_analytics", "customer_id"),
    ("alerts", "customer_id"),
    ("duplicate_candidates", "a_id"),
    ("duplicate_candidates", "b_id"),
    ("external_ids", "entity_id"),
];

const ACCOUNT_REFS: &[(&str, &str)] = &[
    ("contacts", "account_id"),
    ("cases", "account_id"),
    ("interactions", "account_id"),
    ("purchases", "account_id"),
    ("leads", "converted_account_id"),
    ("opportunities", "account_id"),
    ("activities", "account_id"),
    ("target_lists", "account_ids"),
    ("customer_analytics", "customer_id"),
    ("alerts", "customer_id"),
    ("duplicate_candidates", "a_id"),
    ("duplicate_candidates", "b_id"),
    ("external_ids", "entity_id"),
];

const LEAD_REFS: &[(&str, &str)] = &[
    ("interactions", "lead_id"),
    ("opportunities", "lead_id"),
    ("activities", "lead_id"),
    ("external_ids", "entity_id"),
];

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Rows of `refs` that still name one of `ids`, per table and column (only those with some).
async fn orphans(app: &TestApp, refs: &'static [(&'static str, &'static str)], ids: &[&Value]) -> Vec<String> {
    let ids: Vec<String> = ids.iter().map(|v| s(v).to_string()).collect();
    app.db
        .run(move |c| {
            let mut found = Vec::new();
            for (table, column) in refs {
                let cond: Vec<String> = ids.iter().map(|id| format!("CAST({column} AS TEXT) LIKE '%{id}%'")).collect();
                let q = format!("SELECT COUNT(*) AS n FROM {table} WHERE {}", cond.join(" OR "));
                let n = diesel::sql_query(q).get_result::<Count>(c)?.n;
                if n > 0 {
                    found.push(format!("{table}.{column}: {n}"));
                }
            }
            Ok::<_, crm_db::DbError>(found)
        })
        .await
        .unwrap()
}

/// A GET by a client that does not follow redirects.
async fn not_following(app: &TestApp, path: &str) -> Resp {
    let mut res = awc::Client::builder()
        .disable_redirects()
        .finish()
        .get(format!("{}{path}", app.base))
        .insert_header(("Authorization", format!("Bearer {}", app.admin)))
        .send()
        .await
        .expect("sent");
    let body = serde_json::from_slice(&res.body().await.expect("body")).unwrap_or(Value::Null);
    Resp { status: res.status(), headers: res.headers().clone(), body }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|x| s(x).to_string()).collect()
}

#[actix_web::test]
async fn a_contact_merge_moves_everything_and_leaves_tombstones() {
    let app = spawn().await;
    let acme = app.account("Acme", json!({})).await;
    let survivor = app
        .contact(
            "Minjun",
            "Kim",
            json!({"email": "minjun@acme.kr", "account_id": acme["id"], "tags": ["vip"],
            "custom_fields": {}}),
        )
        .await;
    let l1 = app
        .contact(
            "Min-jun",
            "Kim",
            json!({"email": "mj.kim@gmail.com", "phone": "+82 10 1234 5678",
            "tags": ["expo", "vip"], "do_not_call": true, "external_ids": [{"source": "erp", "id": "C-1"}]}),
        )
        .await;
    let l2 =
        app.contact("Minjun", "Kim", json!({"city": "Busan", "country": "KR", "email_consent": "opted_out"})).await;
    let (sid, l1id, l2id) = (s(&survivor["id"]), s(&l1["id"]), s(&l2["id"]));

    // What points at the losers: interactions (one with the survivor too), a case, a purchase,
    // a deal, an activity, campaign memberships (one campaign has the survivor as well).
    let both = app.interaction(&l1, json!({"contact_ids": [sid, l1id]})).await;
    let only = app.interaction(&l2, json!({})).await;
    let case = app.case("Broken", json!({"contact_id": l1id})).await;
    let product = app.product("P-1", json!({})).await;
    app.purchase(&acme, &product, json!({"contact_id": l1id})).await;
    let pipeline = app.pipeline("Main", json!({})).await;
    let deal = app.opportunity("Deal", &acme, &pipeline, json!({"contact_id": l2id})).await;
    let task = app.activity("Call back", json!({"contact_id": l1id})).await;
    let spring = app.campaign("Spring", json!({})).await;
    let autumn = app.campaign("Autumn", json!({})).await;
    let add =
        |c: &Value, ids: Value| (format!("/api/v1/campaigns/{}/members", s(&c["id"])), json!({"contact_ids": ids}));
    let (p, b) = add(&spring, json!([sid, l1id]));
    app.post(&p, b).await.expect(200);
    let (p, b) = add(&autumn, json!([l2id]));
    app.post(&p, b).await.expect(200);
    assert!(!orphans(&app, CONTACT_REFS, &[&l1["id"], &l2["id"]]).await.is_empty());

    let merged = app
        .post(&format!("/api/v1/contacts/{sid}/merge"), json!({"losers": [l1id, l2id], "fields": {"first_name": l1id}}))
        .await
        .expect(200);
    // Chosen: the first name. Kept: the survivor's email (the losers' become further ones).
    // Filled where the survivor had none: the phone, the city. Joined: tags. Strictest: the
    // do-not-call and the email opt-out. Moved: the external id and the purchase's figures.
    assert_eq!(merged["first_name"], "Min-jun");
    assert_eq!(merged["email"], "minjun@acme.kr");
    assert_eq!(strings(&merged["emails"]), vec!["mj.kim@gmail.com"]);
    assert_eq!(merged["phone"], "+821012345678");
    assert_eq!(merged["city"], "Busan");
    assert_eq!(merged["account_id"], acme["id"]);
    assert_eq!(strings(&merged["tags"]), vec!["vip", "expo"]);
    assert_eq!(merged["do_not_call"], true);
    assert_eq!(merged["email_consent"], "opted_out");
    assert_eq!(merged["external_ids"], json!([{"source": "erp", "id": "C-1"}]));
    assert_eq!(merged["purchase_count"], 1);

    // No row anywhere still names a loser.
    assert_eq!(orphans(&app, CONTACT_REFS, &[&l1["id"], &l2["id"]]).await, Vec::<String>::new());
    let x = app.get(&format!("/api/v1/interactions/{}", s(&both["id"]))).await.expect(200);
    assert_eq!(x["contact_ids"], json!([sid]), "named once");
    let x = app.get(&format!("/api/v1/interactions/{}", s(&only["id"]))).await.expect(200);
    assert_eq!(x["contact_ids"], json!([sid]));
    assert_eq!(x["version"], 2, "moved with a new version");
    let c = app.get(&format!("/api/v1/cases/{}", s(&case["id"]))).await.expect(200);
    assert_eq!(c["contact_id"], sid);
    let o = app.get(&format!("/api/v1/opportunities/{}", s(&deal["id"]))).await.expect(200);
    assert_eq!(o["contact_id"], sid);
    let t = app.get(&format!("/api/v1/activities/{}", s(&task["id"]))).await.expect(200);
    assert_eq!(t["contact_id"], sid);
    let members = app.get(&format!("/api/v1/campaigns/{}/members", s(&spring["id"]))).await.expect(200);
    assert_eq!(members["data"].as_array().unwrap().len(), 1, "the survivor's membership stays: {members}");
    let members = app.get(&format!("/api/v1/campaigns/{}/members", s(&autumn["id"]))).await.expect(200);
    assert_eq!(members["data"][0]["contact_id"], sid, "{members}");
    // The feed tells member mirrors: the loser's membership where the survivor had one went,
    // the other moved.
    let feed = app.get("/api/v1/changes?types=campaign_member.updated,campaign_member.deleted").await.expect(200);
    let mut kinds: Vec<(String, String)> = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (s(&e["type"]).to_string(), s(&e["after"]["contact_id"]).to_string()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            ("campaign_member.deleted".to_string(), l1id.to_string()),
            ("campaign_member.updated".to_string(), sid.to_string())
        ],
        "{feed}"
    );
    let timeline = app.get(&format!("/api/v1/contacts/{sid}/timeline?kinds=interaction")).await.expect(200);
    assert_eq!(timeline["data"].as_array().unwrap().len(), 2, "{timeline}");

    // The losers are tombstones: reading one redirects, writing one is refused.
    for loser in [l1id, l2id] {
        let r = not_following(&app, &format!("/api/v1/contacts/{loser}")).await;
        assert_eq!(r.status, 301, "{}", r.body);
        assert_eq!(r.header("location").as_deref(), Some(format!("/api/v1/contacts/{sid}").as_str()));
        assert_eq!((s(&r.body["code"]), r.body["status"].as_u64()), ("MERGED", Some(301)));
        assert_eq!(r.body["merged_into"], sid);
    }
    // A client that follows redirects (as browsers and most HTTP libraries do) lands on the
    // survivor.
    let r = app.get(&format!("/api/v1/contacts/{l1id}")).await.expect(200);
    assert_eq!(r["id"], sid);
    let r = app.patch(&format!("/api/v1/contacts/{l1id}"), json!({"title": "CTO"})).await;
    assert_eq!((r.status.as_u16(), s(&r.body["code"])), (409, "MERGED"), "{}", r.body);
    let r = app.post(&format!("/api/v1/contacts/{l1id}/restore"), json!({})).await;
    assert_eq!((r.status.as_u16(), s(&r.body["code"])), (409, "MERGED"), "{}", r.body);
    // The ERP keeps upserting by its id, and reaches the survivor.
    let put = actix_web::http::Method::PUT;
    let r = app
        .call(put, "/api/v1/contacts/by-external-id/erp/C-1", Some(&app.admin), Some(json!({"title": "CTO"})), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], sid);

    // The change feed says which record went where; the loser's history ends with it, and the
    // survivor's shows what it took.
    let feed = app.get("/api/v1/changes?types=contact.merged").await.expect(200);
    let merged_events: Vec<(String, String)> = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (s(&e["entity_id"]).to_string(), s(&e["after"]["merged_into"]).to_string()))
        .collect();
    assert_eq!(merged_events, vec![(l1id.to_string(), sid.to_string()), (l2id.to_string(), sid.to_string())]);
    let history = app.get(&format!("/api/v1/contacts/{sid}/history")).await.expect(200);
    let changed: Vec<String> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|h| h["changes"].as_array().cloned().unwrap_or_default())
        .map(|c| s(&c["field"]).to_string())
        .collect();
    assert!(changed.contains(&"emails".to_string()) && changed.contains(&"external_ids".to_string()), "{history}");
    let history = app.get(&format!("/api/v1/contacts/{l1id}/history")).await.expect(200);
    assert_eq!(history["data"][0]["type"], "contact.merged", "{history}");
}

#[actix_web::test]
async fn merges_refuse_what_they_cannot_do_whole() {
    let app = spawn().await;
    let a = app.contact("Ana", "Lee", json!({"email": "ana@x.kr"})).await;
    let b = app.contact("Ana", "Lee", json!({"email": "ana.lee@x.kr"})).await;
    let c = app.contact("Ana", "Lee", json!({})).await;
    let (aid, bid, cid) = (s(&a["id"]), s(&b["id"]), s(&c["id"]));
    let merge = |into: &str| format!("/api/v1/contacts/{into}/merge");
    let code = |r: &Resp| (r.status.as_u16(), s(&r.body["code"]).to_string(), error_fields(&r.body));

    let r = app.post(&merge(aid), json!({"losers": []})).await;
    assert_eq!(code(&r), (422, "VALIDATION_FAILED".into(), vec!["losers".to_string()]));
    let r = app.post(&merge(aid), json!({"losers": [aid]})).await;
    assert_eq!(code(&r), (422, "VALIDATION_FAILED".into(), vec!["losers[0]".to_string()]));
    let r = app.post(&merge(aid), json!({"losers": [bid, bid]})).await;
    assert_eq!(code(&r), (422, "VALIDATION_FAILED".into(), vec!["losers[1]".to_string()]));
    let r = app.post(&merge(aid), json!({"losers": [bid, uuid::Uuid::now_v7()]})).await;
    assert_eq!(code(&r), (422, "VALIDATION_FAILED".into(), vec!["losers[1]".to_string()]));
    let r = app.post(&merge(aid), json!({"losers": [bid], "fields": {"purchase_count": bid}})).await;
    assert_eq!(code(&r), (422, "VALIDATION_FAILED".into(), vec!["fields.purchase_count".to_string()]));
    let r = app.post(&merge(aid), json!({"losers": [bid], "fields": {"email": cid}})).await;
    assert_eq!(code(&r), (422, "VALIDATION_FAILED".into(), vec!["fields.email".to_string()]));
    let r = app.post(&merge(&uuid::Uuid::now_v7().to_string()), json!({"losers": [bid]})).await;
    assert_eq!(r.status, 404);
    app.post(&merge(aid), json!({"losers": [bid]})).await.expect(200);
    let readonly = app.token(&["readonly"]);
    let post = actix_web::http::Method::POST;
    let r = app.call(post.clone(), &merge(aid), Some(&readonly), Some(json!({"losers": [cid]})), &[]).await;
    assert_eq!(r.status, 403);
    // Nothing was half done by the refusals: c is live and untouched.
    let live = app.get(&format!("/api/v1/contacts/{cid}")).await.expect(200);
    assert_eq!(live["version"], 1);
    // Merged once is merged: not again, and not as a survivor.
    let r = app.post(&merge(aid), json!({"losers": [bid]})).await;
    assert_eq!(code(&r), (422, "VALIDATION_FAILED".into(), vec!["losers[0]".to_string()]));
    let r = app.post(&merge(bid), json!({"losers": [cid]})).await;
    assert_eq!((r.status.as_u16(), s(&r.body["code"])), (409, "MERGED"));
    // The survivor's version, when the caller names it (a is at version 2 after the merge).
    let r = app
        .call(post.clone(), &merge(aid), Some(&app.admin), Some(json!({"losers": [cid]})), &[("If-Match", "\"1\"")])
        .await;
    assert_eq!(r.status, 412, "{}", r.body);
    app.call(post, &merge(aid), Some(&app.admin), Some(json!({"losers": [cid]})), &[("If-Match", "\"2\"")])
        .await
        .expect(200);
}

#[actix_web::test]
async fn account_and_lead_merges_move_their_records() {
    let app = spawn().await;
    let keep = app.account("Acme Korea", json!({"domain": "acme.kr"})).await;
    let dup = app
        .account(
            "ACME Korea Co., Ltd.",
            json!({"industry": "retail", "external_ids": [{"source": "erp", "id": "A-9"}]}),
        )
        .await;
    let (kid, did) = (s(&keep["id"]), s(&dup["id"]));
    let person = app.contact("Jisoo", "Park", json!({"account_id": did})).await;
    let pipeline = app.pipeline("Main", json!({})).await;
    let deal = app.opportunity("Renewal", &dup, &pipeline, json!({})).await;
    let list = app.target_list("Key accounts", json!({"account_ids": [kid, did]})).await;
    let product = app.product("P-2", json!({})).await;
    app.purchase(&dup, &product, json!({})).await;

    let merged = app.post(&format!("/api/v1/accounts/{kid}/merge"), json!({"losers": [did]})).await.expect(200);
    assert_eq!(merged["industry"], "retail", "filled from the loser");
    assert_eq!(merged["domain"], "acme.kr");
    assert_eq!(merged["purchase_count"], 1);
    assert_eq!(orphans(&app, ACCOUNT_REFS, &[&dup["id"]]).await, Vec::<String>::new());
    let p = app.get(&format!("/api/v1/contacts/{}", s(&person["id"]))).await.expect(200);
    assert_eq!(p["account_id"], kid);
    let o = app.get(&format!("/api/v1/opportunities/{}", s(&deal["id"]))).await.expect(200);
    assert_eq!(o["account_id"], kid);
    let t = app.get(&format!("/api/v1/target-lists/{}", s(&list["id"]))).await.expect(200);
    assert_eq!(t["account_ids"], json!([kid]), "named once");
    let r = not_following(&app, &format!("/api/v1/accounts/{did}")).await;
    assert_eq!((r.status.as_u16(), r.header("location")), (301, Some(format!("/api/v1/accounts/{kid}"))));
    let r = app.get("/api/v1/accounts/by-external-id/erp/A-9").await.expect(200);
    assert_eq!(r["id"], kid);

    // Leads, through GraphQL: the same service function.
    let a = app.lead("Choi", json!({"email": "choi@x.kr"})).await;
    let b = app.lead("Choi", json!({"phone": "+82 2 123 4567"})).await;
    let call = app.activity("Call Choi", json!({"lead_id": b["id"]})).await;
    let res = app
        .gql(
            &app.admin,
            "mutation($id: UUID!, $input: MergeRecordsInput!) { mergeLeads(id: $id, input: $input) { id phone version } }",
            json!({"id": a["id"], "input": {"losers": [b["id"]], "fields": [{"field": "phone", "from": b["id"]}]}}),
        )
        .await;
    assert_eq!(res["data"]["mergeLeads"]["phone"], "+8221234567", "{res}");
    assert_eq!(orphans(&app, LEAD_REFS, &[&b["id"]]).await, Vec::<String>::new());
    let t = app.get(&format!("/api/v1/activities/{}", s(&call["id"]))).await.expect(200);
    assert_eq!(t["lead_id"], a["id"]);
    let res = app
        .gql(
            &app.admin,
            "mutation($id: UUID!, $input: MergeRecordsInput!) { mergeLeads(id: $id, input: $input) { id } }",
            json!({"id": a["id"], "input": {"losers": [b["id"]]}}),
        )
        .await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "VALIDATION_FAILED", "{res}");
}
