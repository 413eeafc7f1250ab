//! Data-subject requests: an access bundle of everything held about a person, erasure of the
//! person everywhere their data is kept (refused under a legal hold), and restriction of
//! processing, which campaigns and analyses obey; each a job, each in the audit log.

use awc::http::Method;
use serde_json::{Value, json};

use crate::support::*;

/// Starts a request and waits for it to end.
async fn request(app: &TestApp, body: Value) -> Value {
    let r = app.post("/api/v1/privacy/requests", body).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let location = r.header("location").unwrap();
    assert_eq!(location, format!("/api/v1/privacy/requests/{}", s(&r.body["id"])));
    let done = wait_for_job(app, &location).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    done
}

fn len(v: &Value) -> usize {
    v.as_array().map_or(usize::MAX, Vec::len)
}

/// Every event of the change feed, as text.
async fn feed(app: &TestApp) -> String {
    let mut after = 0;
    let mut out = String::new();
    loop {
        let page = app.get(&format!("/api/v1/changes?after={after}&limit=1000")).await.expect(200);
        out.push_str(&page["data"].to_string());
        if page["data"].as_array().is_none_or(Vec::is_empty) {
            return out;
        }
        after = page["next_after"].as_i64().unwrap();
    }
}

#[actix_web::test]
async fn a_person_gets_everything_held_about_them_then_is_erased_everywhere_unless_held() {
    let app = spawn().await;
    let email = "minjun.kim@privacy.example";
    let acme = app.account("Acme Korea", json!({})).await;
    let kim = app
        .contact(
            "Min-jun",
            "Kim",
            json!({"account_id": acme["id"], "email": email, "phone": "+82 2 555 0101", "city": "Seoul",
                   "street": "12 Sejong-daero", "postal_code": "04524", "country": "KR", "tags": ["vip"],
                   "external_ids": [{"source": "erp", "id": "C-77"}]}),
        )
        .await;
    let kid = s(&kim["id"]).to_string();
    let lee = app.contact("Seo-yeon", "Lee", json!({"account_id": acme["id"]})).await;
    // The same person as a lead (same address), found by the email.
    let lead = app.lead("Kim", json!({"first_name": "Min-jun", "email": "MinJun.Kim@privacy.example"})).await;
    // What is held about them.
    let alone = app.interaction(&kim, json!({"subject": "Asked about his divorce settlement"})).await;
    let shared = app
        .created(
            "/api/v1/interactions",
            json!({"type": "meeting", "contact_ids": [kim["id"], lee["id"]], "subject": "Quarterly review"}),
        )
        .await;
    let case =
        app.case("Refund for Min-jun", json!({"contact_id": kim["id"], "description": "Card ending 4421"})).await;
    let comments = format!("/api/v1/cases/{}/comments", s(&case["id"]));
    app.post(&comments, json!({"body": "Called Min-jun at home"})).await.expect(201);
    let consent = app
        .created(
            "/api/v1/consents",
            json!({"contact_id": kid, "purpose": "marketing", "channel": "email", "status": "granted",
                   "source": "web_form:newsletter", "text_version": "notice-1", "evidence": "form 991 from 10.1.2.3"}),
        )
        .await;
    let site = token(&app.keys, "website", &[], &["web:track"]);
    let at = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let events = json!({"events": [
        {"visitor_id": "v-kim", "kind": "page_view", "url": "https://acme.example/pricing", "occurred_at": at},
        {"visitor_id": "v-kim", "kind": "download", "url": "https://acme.example/brochure.pdf", "occurred_at": at}]});
    app.call(Method::POST, "/api/v1/web/events", Some(&site), Some(events), &[]).await.expect(200);
    let identify = json!({"visitor_id": "v-kim", "contact_id": kid});
    app.call(Method::POST, "/api/v1/web/identify", Some(&site), Some(identify), &[]).await.expect(200);
    // A retried create whose cached answer carries the person.
    let key = [("Idempotency-Key", "erp-kim-2")];
    let body =
        json!({"first_name": "Min-jun", "last_name": "Kim", "account_id": acme["id"], "email": "mj@home.example"});
    let twin = app.call(Method::POST, "/api/v1/contacts", Some(&app.admin), Some(body.clone()), &key).await.expect(201);
    app.post(&format!("/api/v1/contacts/{kid}/merge"), json!({"losers": [twin["id"]]})).await.expect(200);

    // Only a data-protection officer (privacy scopes: administrators) asks; the request is
    // checked before it is queued.
    let sales = app.token(&["sales"]);
    let r = app
        .call(
            Method::POST,
            "/api/v1/privacy/requests",
            Some(&sales),
            Some(json!({"type": "access", "email": email})),
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app.post("/api/v1/privacy/requests", json!({"email": email})).await.expect(422);
    assert_eq!(error_fields(&r), ["type"]);
    let r = app.post("/api/v1/privacy/requests", json!({"type": "access", "email": email, "contact_id": kid})).await;
    assert_eq!(error_fields(&r.expect(422)), ["contact_id"]);
    let r = app.post("/api/v1/privacy/requests", json!({"type": "access", "contact_id": uuid::Uuid::now_v7()})).await;
    assert_eq!(error_fields(&r.expect(422)), ["contact_id"]);
    let r = app.post("/api/v1/privacy/requests", json!({"type": "forget", "email": email})).await;
    assert!(r.status == 400 || r.status == 422, "{}", r.body);

    // Access, by the address: the contact, the contact merged into it, the lead, and what is
    // held about them, with the history of each record.
    let access = request(&app, json!({"type": "access", "email": email, "reason": "DSR-2026-031"})).await;
    assert_eq!(access["result"]["people"]["contacts"], json!([kid, twin["id"]]), "{access}");
    assert_eq!(access["result"]["people"]["leads"], json!([lead["id"]]));
    let bundle_url = s(&access["bundle_url"]).to_string();
    let bundle = app.get(&bundle_url).await.expect(200);
    assert_eq!(len(&bundle["contacts"]), 2, "{bundle}");
    let mine = bundle["contacts"].as_array().unwrap().iter().find(|c| c["id"] == kid.as_str()).unwrap();
    assert_eq!((mine["email"].as_str(), mine["city"].as_str()), (Some(email), Some("Seoul")));
    assert_eq!(mine["external_ids"], json!([{"source": "erp", "id": "C-77"}]));
    assert_eq!(len(&bundle["leads"]), 1);
    assert_eq!(len(&bundle["interactions"]), 2);
    assert_eq!((len(&bundle["cases"]), len(&bundle["case_comments"])), (1, 1));
    assert_eq!(bundle["case_comments"][0]["body"], "Called Min-jun at home");
    assert_eq!(len(&bundle["consents"]), 1);
    assert_eq!(len(&bundle["web_activity"]), 2);
    let history = bundle["history"].as_array().unwrap();
    let kinds: Vec<&str> = history.iter().filter(|e| e["entity_id"] == kid.as_str()).map(|e| s(&e["type"])).collect();
    assert_eq!(kinds.first(), Some(&"contact.created"), "{kinds:?}");
    assert_eq!(access["result"]["counts"]["history"].as_u64(), Some(history.len() as u64));

    // An export made before the erasure holds the person: the erasure withdraws its file.
    let export = app.post("/api/v1/exports", json!({"resource": "contacts"})).await.expect(202);
    let export_path = format!("/api/v1/exports/{}", s(&export["id"]));
    let t = std::time::Instant::now();
    let export = loop {
        let e = app.get(&export_path).await.expect(200);
        if e["status"] == "succeeded" || e["status"] == "failed" {
            break e;
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(60), "{e}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let download = s(&export["download_url"]).to_string();
    assert!(app.get(&download).await.expect(200).to_string().contains(email), "the export holds the person");

    // A legal hold blocks erasure, with its reason; released, the erasure goes ahead.
    let r = app.post("/api/v1/legal-holds", json!({"contact_id": kid})).await.expect(422);
    assert_eq!(error_fields(&r), ["reason"]);
    let hold =
        app.created("/api/v1/legal-holds", json!({"contact_id": kid, "reason": "litigation: Acme v. Kim"})).await;
    let r = app.post("/api/v1/privacy/requests", json!({"type": "erasure", "email": email})).await.expect(409);
    assert_eq!(r["code"], "LEGAL_HOLD", "{r}");
    assert!(s(&r["detail"]).contains(s(&hold["id"])) && s(&r["detail"]).contains("Acme v. Kim"), "{r}");
    app.delete(&format!("/api/v1/legal-holds/{}", s(&hold["id"]))).await.expect(204);

    let erased = request(&app, json!({"type": "erasure", "email": email})).await;
    let result = &erased["result"];
    assert_eq!(result["people"]["contacts"], json!([kid, twin["id"]]), "{erased}");
    assert_eq!(result["person_records"]["records"], 3, "{erased}");
    assert_eq!((result["web_visitors"].as_u64(), result["web_events"].as_u64()), (Some(1), Some(2)), "{erased}");
    assert_eq!(result["bundles"], 1);
    assert_eq!(result["job_files"], 1, "{erased}");
    let r = app.get(&download).await;
    assert_eq!((r.status.as_u16(), s(&r.body["code"])), (410, "EXPORT_EXPIRED"), "{}", r.body);
    assert_eq!(app.get(&export_path).await.expect(200)["download_url"], Value::Null);

    // The records stay (the account's people, the case's figures) with nothing of the person.
    let after = app.get(&format!("/api/v1/contacts/{kid}")).await.expect(200);
    for field in ["first_name", "last_name", "email", "phone", "street", "city", "postal_code"] {
        assert!(after[field].is_null(), "{field}: {after}");
    }
    assert_eq!((after["account_id"].clone(), after["country"].as_str()), (acme["id"].clone(), Some("KR")));
    assert!(after["archived_at"].is_string() && after["external_ids"] == json!([]), "{after}");
    let l = app.get(&format!("/api/v1/leads/{}", s(&lead["id"]))).await.expect(200);
    assert!(l["email"].is_null() && l["first_name"].is_null(), "{l}");
    let one = app.get(&format!("/api/v1/interactions/{}", s(&alone["id"]))).await.expect(200);
    assert!(one["subject"].is_null(), "{one}");
    let both = app.get(&format!("/api/v1/interactions/{}", s(&shared["id"]))).await.expect(200);
    assert_eq!(both["subject"], "Quarterly review", "an interaction with others keeps what it says");
    let c = app.get(&format!("/api/v1/cases/{}", s(&case["id"]))).await.expect(200);
    assert_eq!((c["subject"].as_str(), c["description"].clone()), (Some("[erased]"), Value::Null));
    assert_eq!(app.get(&comments).await.expect(200)["data"][0]["body"], "[erased]");
    let kept = app.get(&format!("/api/v1/consents/{}", s(&consent["id"]))).await.expect(200);
    assert_eq!((kept["status"].as_str(), kept["evidence"].clone()), (Some("granted"), Value::Null));

    // Nowhere to be found: the change feed, the field history, search, the ERP id.
    let text = feed(&app).await;
    for trace in [
        "minjun.kim@privacy",
        "MinJun.Kim@privacy",
        "Min-jun",
        "555 0101",
        "5550101",
        "Sejong",
        "divorce",
        // Not the digits alone: they occur by chance in ids and timestamps.
        "ending 4421",
        "10.1.2.3",
        "mj@home",
    ] {
        assert!(!text.contains(trace), "`{trace}` is still in the change feed");
    }
    assert!(text.contains("contact.erased") && text.contains("lead.erased"));
    let h = app.get(&format!("/api/v1/contacts/{kid}/history")).await.expect(200);
    assert!(!h.to_string().contains("Min-jun") && !h.to_string().contains("privacy.example"), "{h}");
    let found = app.get("/api/v1/contacts?q=Min-jun&archived=true").await.expect(200);
    assert_eq!(found["data"], json!([]), "{found}");
    app.get("/api/v1/contacts/by-external-id/erp/C-77").await.expect(404);
    // The cached answer went with it: the retry is written anew, not replayed.
    let again = app.call(Method::POST, "/api/v1/contacts", Some(&app.admin), Some(body), &key).await;
    assert_eq!((again.status.as_u16(), again.header("idempotent-replayed")), (201, None));
    // The earlier bundle is gone, and so is the address in the requests.
    let gone = app.get(&bundle_url).await.expect(409);
    assert_eq!(gone["code"], "BUNDLE_GONE");
    let listed = app.get("/api/v1/privacy/requests").await.expect(200);
    assert!(!listed.to_string().contains("privacy.example"), "{listed}");
    assert_eq!(len(&listed), 2);

    // The audit trail keeps that it happened, and names no one.
    let audit = app.get("/api/v1/audit?action=privacy.*").await.expect(200);
    let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|e| s(&e["action"])).collect();
    for a in [
        "privacy.access.requested",
        "privacy.access.done",
        "privacy.bundle.downloaded",
        "privacy.erasure.requested",
        "privacy.erasure.done",
    ] {
        assert!(actions.contains(&a), "{a} missing: {actions:?}");
    }
    let erasures = app.get(&format!("/api/v1/audit?action=*.erased&record_id={kid}")).await.expect(200);
    assert_eq!(len(&erasures["data"]), 1, "{erasures}");
    let all = app.get("/api/v1/audit?limit=1000").await.expect(200).to_string();
    assert!(!all.contains("privacy.example") && !all.contains("Min-jun"), "the audit log names the person");
}

#[actix_web::test]
async fn a_restricted_contact_is_kept_out_of_campaigns_and_analyses_until_lifted() {
    let app = spawn().await;
    let rae = app.contact("Rae", "Jung", json!({"email": "rae@jung.example", "tags": ["news"]})).await;
    let bo = app.contact("Bo", "Seo", json!({"email": "bo@seo.example", "tags": ["news"]})).await;
    let rid = s(&rae["id"]).to_string();

    let r = request(&app, json!({"type": "restriction", "contact_id": rid, "reason": "accuracy contested"})).await;
    assert_eq!(r["result"]["changed"], 1, "{r}");
    let list = app.get("/api/v1/privacy/restrictions").await.expect(200);
    assert_eq!(list.as_array().unwrap().iter().map(|x| s(&x["person_id"])).collect::<Vec<_>>(), [rid.as_str()]);
    assert_eq!(
        (list[0]["reason"].as_str(), list[0]["request_id"].clone()),
        (Some("accuracy contested"), r["id"].clone())
    );
    // Stored, read and corrected as before.
    app.patch(&format!("/api/v1/contacts/{rid}"), json!({"email": "rae@jung.example.kr"})).await.expect(200);
    // Not analysed.
    let a = app.get(&format!("/api/v1/contacts/{rid}/analytics")).await.expect(409);
    assert_eq!(a["code"], "PROCESSING_RESTRICTED", "{a}");
    // Not picked by a campaign.
    let c = app.campaign("Newsletter", json!({})).await;
    let add = json!({"contact_ids": [rae["id"], bo["id"]]});
    app.post(&format!("/api/v1/campaigns/{}/members", s(&c["id"])), add).await.expect(200);
    let members = app.get(&format!("/api/v1/campaigns/{}/members?limit=100", s(&c["id"]))).await.expect(200);
    let status = |who: &Value| {
        let m = members["data"].as_array().unwrap().iter().find(|m| m["contact_id"] == who["id"]).cloned();
        m.map(|m| (s(&m["status"]).to_string(), m["exclusion_reason"].clone()))
    };
    assert_eq!(status(&rae), Some(("excluded".to_string(), json!("restricted"))), "{members}");
    assert_eq!(status(&bo).map(|s| s.0), Some("targeted".to_string()));

    // Lifted: analysed again; GraphQL follows the same requests.
    let g = app
        .gql(
            &app.admin,
            "mutation($c: ID!) { startPrivacyRequest(input: {type: LIFT_RESTRICTION, contactId: $c}) { id type status } }",
            json!({"c": rid}),
        )
        .await;
    let id = s(&g["data"]["startPrivacyRequest"]["id"]).to_string();
    assert_eq!(g["data"]["startPrivacyRequest"]["type"], "LIFT_RESTRICTION", "{g}");
    let done = wait_for_job(&app, &format!("/api/v1/privacy/requests/{id}")).await;
    assert_eq!(done["result"]["changed"], 1, "{done}");
    assert_eq!(app.get("/api/v1/privacy/restrictions").await.expect(200), json!([]));
    let q = "query($id: ID!) { privacyRequest(id: $id) { status result } processingRestrictions { personId } }";
    let g = app.gql(&app.admin, q, json!({"id": id})).await;
    assert_eq!(g["data"]["privacyRequest"]["status"], "SUCCEEDED", "{g}");
    assert_eq!(g["data"]["processingRestrictions"], json!([]));
    let a = app.get(&format!("/api/v1/contacts/{rid}/analytics")).await;
    assert_ne!(a.body["code"], "PROCESSING_RESTRICTED", "{}", a.body);

    // A restricted lead stays restricted as the contact it converts into.
    let lead = app.lead("Moon", json!({"email": "moon@example.com"})).await;
    request(&app, json!({"type": "restriction", "lead_id": lead["id"]})).await;
    let converted = app.post(&format!("/api/v1/leads/{}/convert", s(&lead["id"])), json!({})).await.expect(200);
    let list = app.get("/api/v1/privacy/restrictions").await.expect(200);
    let people: Vec<&str> = list.as_array().unwrap().iter().map(|x| s(&x["person_id"])).collect();
    assert_eq!(people.len(), 2, "{list}");
    assert!(people.contains(&s(&converted["contact_id"])) && people.contains(&s(&lead["id"])), "{list}");
}

/// Makes records look untouched for `days` (the test's clock): their `updated_at` moved back.
async fn age(app: &TestApp, table: &'static str, ids: Vec<uuid::Uuid>, days: i64) {
    use crm_db::schema::{interactions, leads};
    use crm_db::types::DbUuid;
    use diesel::prelude::*;
    app.db
        .write(move |c| -> Result<(), crm_db::DbError> {
            let at = crm_db::now() - chrono::Duration::days(days);
            for id in ids.into_iter().map(DbUuid) {
                match table {
                    "leads" => diesel::update(leads::table.filter(leads::id.eq(id)))
                        .set(leads::updated_at.eq(at))
                        .execute(c)?,
                    _ => diesel::update(interactions::table.filter(interactions::id.eq(id)))
                        .set(interactions::updated_at.eq(at))
                        .execute(c)?,
                };
            }
            Ok(())
        })
        .await
        .unwrap();
}

fn uuid_of(v: &Value) -> uuid::Uuid {
    s(&v["id"]).parse().unwrap()
}

#[actix_web::test]
async fn retention_policies_say_what_they_would_take_then_erase_or_archive_it_sparing_held_people() {
    let app = spawn().await;
    let old_new = app.lead("Oldnew", json!({"email": "old.new@example.com"})).await;
    let old_qualified = app.lead("Oldqual", json!({"email": "old.q@example.com", "status": "qualified"})).await;
    let old_held = app.lead("Oldheld", json!({"email": "old.held@example.com"})).await;
    let fresh = app.lead("Fresh", json!({"email": "fresh@example.com"})).await;
    let ids = vec![uuid_of(&old_new), uuid_of(&old_qualified), uuid_of(&old_held)];
    age(&app, "leads", ids, 800).await;
    app.created("/api/v1/legal-holds", json!({"lead_id": old_held["id"], "reason": "tax audit 2026"})).await;

    // What a policy must say.
    let bad = json!({"name": "x", "resource": "interactions", "untouched_days": 10, "action": "erase",
                     "filter": "nonsense[eq]:1"});
    let r = app.post("/api/v1/retention-policies", bad).await.expect(422);
    assert_eq!(error_fields(&r), ["untouched_days", "action", "filter"], "{r}");
    let policy = app
        .created(
            "/api/v1/retention-policies",
            json!({"name": "Leads nobody worked, 2 years", "resource": "leads", "filter": "status[eq]:new",
                   "untouched_days": 730, "action": "erase"}),
        )
        .await;
    assert_eq!(policy["enabled"], false, "a new policy is off until enabled");
    let pid = s(&policy["id"]).to_string();

    // The dry run: the old new lead, not the qualified one (filter), the fresh one (touched) or
    // the held one (counted apart); nothing written.
    let preview = app.post(&format!("/api/v1/retention-policies/{pid}/dry-run"), json!({})).await.expect(200);
    assert_eq!((preview["matching"].as_i64(), preview["held"].as_i64()), (Some(1), Some(1)), "{preview}");
    assert_eq!(preview["sample"], json!([old_new["id"]]));
    let cutoff = chrono::DateTime::parse_from_rfc3339(s(&preview["cutoff"])).unwrap();
    let expected = chrono::Utc::now() - chrono::Duration::days(730);
    assert!((cutoff.timestamp() - expected.timestamp()).abs() < 60, "{cutoff} vs {expected}");
    let still = app.get(&format!("/api/v1/leads/{}", s(&old_new["id"]))).await.expect(200);
    assert_eq!(still["email"], "old.new@example.com");

    // Run now, as a job: erased as a privacy erasure would, the others untouched.
    let r = app.post(&format!("/api/v1/retention-policies/{pid}/run"), json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let job = wait_for_job(&app, &r.header("location").unwrap()).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let outcome = &job["result"]["policies"][0];
    assert_eq!((outcome["applied"].as_i64(), outcome["held"].as_i64()), (Some(1), Some(1)), "{job}");
    let gone = app.get(&format!("/api/v1/leads/{}", s(&old_new["id"]))).await.expect(200);
    assert!(gone["email"].is_null() && gone["last_name"].is_null() && gone["archived_at"].is_string(), "{gone}");
    for kept in [&old_qualified, &old_held, &fresh] {
        let l = app.get(&format!("/api/v1/leads/{}", s(&kept["id"]))).await.expect(200);
        assert!(l["email"].is_string() && l["archived_at"].is_null(), "{l}");
    }
    let again = app.post(&format!("/api/v1/retention-policies/{pid}/dry-run"), json!({})).await.expect(200);
    assert_eq!(again["matching"], 0, "nothing left to take: {again}");

    // Archiving interactions untouched for a year.
    let who = app.contact("Ann", "Old", json!({})).await;
    let (old_call, new_call) = (app.interaction(&who, json!({})).await, app.interaction(&who, json!({})).await);
    age(&app, "interactions", vec![uuid_of(&old_call)], 400).await;
    let archive = app
        .created(
            "/api/v1/retention-policies",
            json!({"name": "Calls, 1 year", "resource": "interactions", "untouched_days": 365, "action": "archive",
                   "enabled": true}),
        )
        .await;
    let g = app
        .gql(
            &app.admin,
            "mutation($id: ID!) { runRetentionPolicy(id: $id) { id status } }",
            json!({"id": archive["id"]}),
        )
        .await;
    let job_id = s(&g["data"]["runRetentionPolicy"]["id"]).to_string();
    let job = wait_for_job(&app, &format!("/api/v1/jobs/{job_id}")).await;
    assert_eq!(job["result"]["policies"][0]["applied"], 1, "{job}");
    let archived = app.get(&format!("/api/v1/interactions/{}", s(&old_call["id"]))).await.expect(200);
    assert!(archived["archived_at"].is_string(), "{archived}");
    let live = app.get(&format!("/api/v1/interactions/{}", s(&new_call["id"]))).await.expect(200);
    assert!(live["archived_at"].is_null());

    // Who ran what is in the audit log; a sales rep can neither see nor run policies.
    for job in [s(&r.body["id"]), job_id.as_str()] {
        let audit = app.get(&format!("/api/v1/audit?action=retention.applied&record_id={job}")).await.expect(200);
        assert_eq!(len(&audit["data"]), 1, "{audit}");
    }
    let sales = app.token(&["sales"]);
    let r = app
        .call(Method::POST, &format!("/api/v1/retention-policies/{pid}/run"), Some(&sales), Some(json!({})), &[])
        .await;
    assert_eq!(r.status, 403);
    let r = app.call(Method::GET, "/api/v1/retention-policies", Some(&sales), None, &[]).await;
    assert_eq!(r.status, 403);

    // The daily run: queued once a day while a policy is enabled; it applies the enabled ones.
    let tomorrow = crm_db::now() + chrono::Duration::days(2);
    let schedule = || app.db.write(move |c| crm_privacy::retention::schedule(c, tomorrow));
    assert!(schedule().await.unwrap(), "an enabled policy and no run in the day before");
    assert!(!schedule().await.unwrap(), "one run a day");
    let daily = app.get("/api/v1/jobs?limit=1").await.expect(200);
    let job = wait_for_job(&app, &format!("/api/v1/jobs/{}", s(&daily[0]["id"]))).await;
    let ran: Vec<&str> = job["result"]["policies"].as_array().unwrap().iter().map(|p| s(&p["policy_id"])).collect();
    assert_eq!(ran, [s(&archive["id"])], "only the enabled policy: {job}");
}
