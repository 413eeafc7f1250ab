//! Sales-force automation end to end: leads (rules, scoring, capture, conversion), pipelines and
//! opportunities, activities and reminders, forecast and reports, per role, REST and GraphQL.

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::support::*;

/// A user whose token subject is the lower-cased name.
async fn user(app: &TestApp, name: &str, extra: Value) -> Value {
    let mut body = json!({"subject": name.to_lowercase()});
    merge(&mut body, extra);
    app.user(name, body).await
}

/// A pipeline: Qualify (10 %, pipeline, 7 days), Propose (40 %, best_case), Commit (80 %,
/// commit), Won (100 %, closed_won), Lost (0 %, closed_lost).
async fn pipeline(app: &TestApp, name: &str) -> Value {
    app.pipeline(
        name,
        json!({"is_default": true, "stages": [
            {"name": "Qualify", "probability": 10, "forecast_category": "pipeline", "expected_days": 7},
            {"name": "Propose", "probability": 40, "forecast_category": "best_case"},
            {"name": "Commit", "probability": 80, "forecast_category": "commit"},
            {"name": "Won", "probability": 100, "forecast_category": "closed_won"},
            {"name": "Lost", "probability": 0, "forecast_category": "closed_lost"}
        ]}),
    )
    .await
}

fn stage(p: &Value, name: &str) -> Value {
    p["stages"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap()["id"].clone()
}

#[actix_web::test]
async fn leads_are_assigned_by_rule_scored_and_deduplicated() {
    let app = spawn().await;
    let a = user(&app, "Ann", json!({"team": "inside", "territory": "KR"})).await;
    let b = user(&app, "Bob", json!({"team": "inside", "territory": "US"})).await;
    let c = user(&app, "Cy", json!({"team": "field", "territory": "DE"})).await;
    user(&app, "Off", json!({"team": "inside", "active": false})).await;
    app.call(
        Method::PUT,
        "/api/v1/lead-assignment-rules",
        Some(&app.admin),
        Some(json!({"rules": [
            {"name": "Germany by territory", "strategy": "territory", "country": "de"},
            {"name": "Referrals to the least busy", "strategy": "least_open", "team": "inside", "source": "referral"},
            {"name": "Everyone else", "strategy": "round_robin", "team": "inside"}
        ]})),
        &[],
    )
    .await
    .expect(200);
    // Round robin inside the team, in id order, skipping inactive users.
    let mut got = Vec::new();
    for n in 0..3 {
        let l = app.post("/api/v1/leads", json!({"last_name": format!("L{n}"), "country": "US"})).await.expect(201);
        got.push(l["owner_id"].clone());
    }
    let (first, second) = if s(&a["id"]) < s(&b["id"]) { (&a, &b) } else { (&b, &a) };
    assert_eq!(got, [first["id"].clone(), second["id"].clone(), first["id"].clone()]);
    // Territory.
    let de = app.post("/api/v1/leads", json!({"last_name": "Weber", "country": "DE"})).await.expect(201);
    assert_eq!(de["owner_id"], c["id"]);
    // Least open: the one with fewer open leads (first has two, second one).
    let r = app.post("/api/v1/leads", json!({"last_name": "Ref", "source": "referral"})).await.expect(201);
    assert_eq!(r["owner_id"], second["id"]);
    // An explicit owner wins.
    let own = app.post("/api/v1/leads", json!({"last_name": "Own", "owner_id": c["id"]})).await.expect(201);
    assert_eq!(own["owner_id"], c["id"]);

    // Scoring, recomputed when inputs change and when the rules change.
    app.call(
        Method::PUT,
        "/api/v1/lead-scoring-rules",
        Some(&app.admin),
        Some(json!({"rules": [
            {"field": "email", "op": "present", "points": 10},
            {"field": "title", "op": "contains", "value": "chief", "points": 25},
            {"field": "industry", "op": "in", "value": "software, finance", "points": 15},
            {"field": "country", "op": "eq", "value": "kr", "points": 5}
        ]})),
        &[],
    )
    .await
    .expect(200);
    let l = app
        .post(
            "/api/v1/leads",
            json!({"last_name": "Kim", "email": "kim@hanbit.example", "title": "Chief Revenue Officer",
            "industry": "Software", "country": "KR"}),
        )
        .await
        .expect(201);
    assert_eq!(l["score"], 55);
    let id = s(&l["id"]).to_string();
    let l = app.patch(&format!("/api/v1/leads/{id}"), json!({"title": "Analyst"})).await.expect(200);
    assert_eq!(l["score"], 30);
    app.call(
        Method::PUT,
        "/api/v1/lead-scoring-rules",
        Some(&app.admin),
        Some(json!({"rules": [{"field": "email", "op": "present", "points": 7}]})),
        &[],
    )
    .await
    .expect(200);
    assert_eq!(app.get(&format!("/api/v1/leads/{id}")).await.expect(200)["score"], 7, "rescored");
    let bad = app
        .call(
            Method::PUT,
            "/api/v1/lead-scoring-rules",
            Some(&app.admin),
            Some(json!({"rules": [{"field": "shoe_size", "op": "eq", "points": 1}]})),
            &[],
        )
        .await
        .expect(422);
    assert_eq!(error_fields(&bad), vec!["rules[0].field", "rules[0].value"]);

    // Workflow and duplicates.
    let dup = app.post("/api/v1/leads", json!({"last_name": "Kim", "email": "KIM@hanbit.example"})).await.expect(409);
    assert_eq!(dup["existing_id"], id.as_str());
    let bad = app.patch(&format!("/api/v1/leads/{id}"), json!({"status": "converted"})).await.expect(422);
    assert_eq!(bad["code"], "INVALID_TRANSITION");
    let bad = app.patch(&format!("/api/v1/leads/{id}"), json!({"status": "disqualified"})).await.expect(422);
    assert_eq!(error_fields(&bad), vec!["disqualify_reason"]);
}

#[actix_web::test]
async fn web_forms_capture_leads_with_a_scoped_token() {
    let app = spawn().await;
    let form = token(&app.keys, "website", &[], &["leads:capture"]);
    let body =
        json!({"first_name": "Dana", "last_name": "Lee", "email": "dana@globex.example", "description": "Call me"});
    let r = app.call(Method::POST, "/api/v1/leads/capture", Some(&form), Some(body), &[]).await;
    let receipt = r.expect(201);
    assert_eq!(receipt["outcome"], "created");
    assert!(receipt.get("email").is_none(), "a receipt, not the lead: {receipt}");
    let lead_path = format!("/api/v1/leads/{}", s(&receipt["lead_id"]));
    assert_eq!(app.get(&lead_path).await.expect(200)["source"], "web_form");
    let again = json!({"email": "Dana@Globex.example", "phone": "+1 212 555 0100", "company": "Globex"});
    let r = app.call(Method::POST, "/api/v1/leads/capture", Some(&form), Some(again), &[]).await;
    assert_eq!(r.expect(200), json!({"lead_id": receipt["lead_id"], "outcome": "merged"}));
    let merged = app.get(&lead_path).await.expect(200);
    assert_eq!((merged["company"].as_str(), merged["first_name"].as_str()), (Some("Globex"), Some("Dana")));
    // A disqualified lead that writes again is reopened; a converted one gets the message logged.
    app.patch(&lead_path, json!({"status": "disqualified", "disqualify_reason": "no budget"})).await.expect(200);
    let r = app
        .call(Method::POST, "/api/v1/leads/capture", Some(&form), Some(json!({"email": "dana@globex.example"})), &[])
        .await;
    assert_eq!(r.expect(200)["outcome"], "reopened");
    assert_eq!(app.get(&lead_path).await.expect(200)["status"], "new");
    let conv = app.post(&format!("{lead_path}/convert"), json!({})).await.expect(200);
    let msg = json!({"email": "dana@globex.example", "description": "Need 20 more seats"});
    let r = app.call(Method::POST, "/api/v1/leads/capture", Some(&form), Some(msg), &[]).await;
    assert_eq!(r.expect(200)["outcome"], "logged");
    let tl =
        app.get(&format!("/api/v1/contacts/{}/timeline?kinds=interaction", s(&conv["contact_id"]))).await.expect(200);
    assert_eq!(tl["data"][0]["item"]["body"], "Need 20 more seats");
    // The capture token can do nothing else.
    app.call(Method::GET, "/api/v1/leads", Some(&form), None, &[]).await.expect(403);
    app.call(Method::POST, "/api/v1/leads", Some(&form), Some(json!({"last_name": "X"})), &[]).await.expect(403);
    let bad = app.call(Method::POST, "/api/v1/leads/capture", Some(&form), Some(json!({"email": "nope"})), &[]).await;
    assert_eq!(bad.expect(422)["code"], "VALIDATION_FAILED");
}

#[actix_web::test]
async fn converting_a_lead_matches_or_creates_and_happens_once() {
    let app = spawn().await;
    let p = pipeline(&app, "New business").await;
    // A new company: account, contact and opportunity are created.
    let lead = app
        .post(
            "/api/v1/leads",
            json!({"first_name": "Dana", "last_name": "Lee", "email": "dana@globex.example",
            "company": "Globex", "country": "US", "title": "CTO"}),
        )
        .await
        .expect(201);
    let path = format!("/api/v1/leads/{}/convert", s(&lead["id"]));
    let r = app
        .post(
            &path,
            json!({"opportunity": {"name": "Globex platform", "amount": {"amount_minor": 500000, "currency": "USD"},
            "pipeline_id": p["id"]}}),
        )
        .await
        .expect(200);
    assert_eq!((r["account_created"].as_bool(), r["contact_created"].as_bool()), (Some(true), Some(true)));
    let acc = app.get(&format!("/api/v1/accounts/{}", s(&r["account_id"]))).await.expect(200);
    assert_eq!((acc["name"].as_str(), acc["domain"].as_str()), (Some("Globex"), Some("globex.example")));
    let con = app.get(&format!("/api/v1/contacts/{}", s(&r["contact_id"]))).await.expect(200);
    assert_eq!(con["account_id"], r["account_id"]);
    let opp = app.get(&format!("/api/v1/opportunities/{}", s(&r["opportunity_id"]))).await.expect(200);
    assert_eq!(opp["stage_id"], stage(&p, "Qualify"));
    assert_eq!(opp["lead_id"], lead["id"]);
    let l = app.get(&format!("/api/v1/leads/{}", s(&lead["id"]))).await.expect(200);
    assert_eq!(l["status"], "converted");
    assert_eq!(l["converted_opportunity_id"], r["opportunity_id"]);
    // Twice: 409, nothing new.
    let twice = app.post(&path, json!({})).await.expect(409);
    assert_eq!(twice["code"], "LEAD_ALREADY_CONVERTED");
    assert_eq!(app.get("/api/v1/accounts?count=true").await.expect(200)["total"], 1);

    // Leads stay unique by email, converted ones included.
    let dup = app.post("/api/v1/leads", json!({"last_name": "Lee", "email": "dana@globex.example"})).await;
    assert_eq!(dup.status, 409);
    // A lead from a known company merges into its account.
    let lead2 = app
        .post("/api/v1/leads", json!({"last_name": "Park", "email": "park@globex.example", "company": "Globex Corp"}))
        .await
        .expect(201);
    let r2 = app.post(&format!("/api/v1/leads/{}/convert", s(&lead2["id"])), json!({})).await.expect(200);
    assert_eq!(r2["account_id"], r["account_id"], "matched by the email's domain");
    assert_eq!((r2["account_created"].as_bool(), r2["contact_created"].as_bool()), (Some(false), Some(true)));
    assert!(r2["opportunity_id"].is_null());
    let existing = app.contact("Mi", "Ra", json!({"email": "mira@initech.example"})).await;
    let lead3 =
        app.post("/api/v1/leads", json!({"last_name": "Ra", "email": "mira@initech.example"})).await.expect(201);
    let r3 = app.post(&format!("/api/v1/leads/{}/convert", s(&lead3["id"])), json!({})).await.expect(200);
    assert_eq!(r3["contact_id"], existing["id"], "matched by email");
    assert_eq!(r3["contact_created"], false);
    let linked = app.get(&format!("/api/v1/contacts/{}", s(&existing["id"]))).await.expect(200);
    assert_eq!(linked["account_id"], r3["account_id"], "a contact without an account joins the new one");
    // Public mail domains say nothing about the company.
    let mut made = Vec::new();
    for (n, co) in ["Foo Inc", "Bar LLC"].iter().enumerate() {
        let l = app
            .post(
                "/api/v1/leads",
                json!({"last_name": format!("G{n}"), "email": format!("g{n}@gmail.com"), "company": co}),
            )
            .await
            .expect(201);
        made.push(app.post(&format!("/api/v1/leads/{}/convert", s(&l["id"])), json!({})).await.expect(200));
    }
    assert_ne!(made[0]["account_id"], made[1]["account_id"]);
    assert!(made.iter().all(|m| m["account_created"] == true));

    // Conversion needs account and contact write scopes.
    let marketing = token(&app.keys, "m", &["marketing"], &[]);
    let lead4 = app.post("/api/v1/leads", json!({"last_name": "Four"})).await.expect(201);
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/leads/{}/convert", s(&lead4["id"])),
            Some(&marketing),
            Some(json!({})),
            &[],
        )
        .await;
    assert_eq!(r.expect(403)["code"], "FORBIDDEN");
}

#[actix_web::test]
async fn opportunities_move_through_stages_with_history_and_exact_amounts() {
    let app = spawn().await;
    let p = pipeline(&app, "New business").await;
    let acme = app.account("Acme", json!({})).await;
    let prod = app
        .post(
            "/api/v1/products",
            json!({"sku": "PRO", "name": "Pro", "list_price": {"amount_minor": 1999, "currency": "EUR"}}),
        )
        .await
        .expect(201);
    let o = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "Acme Pro", "account_id": acme["id"],
            "expected_close_date": "2026-12-15", "line_items": [
                {"product_id": prod["id"], "quantity": 3, "discount": {"amount_minor": 97, "currency": "EUR"}},
                {"sku": "pro", "quantity": 2, "unit_price": {"amount_minor": 1500, "currency": "EUR"}}
            ]}),
        )
        .await
        .expect(201);
    assert_eq!(o["amount"], json!({"amount_minor": 8900, "currency": "EUR"}), "3 × 19.99 − 0.97 + 2 × 15.00");
    assert_eq!((o["probability"].as_i64(), o["forecast_category"].as_str()), (Some(10), Some("pipeline")));
    let bad = app
        .post(
            "/api/v1/opportunities",
            json!({"name": "X", "amount": {"amount_minor": 1, "currency": "EUR"},
            "line_items": [{"product_id": prod["id"], "quantity": 1}]}),
        )
        .await
        .expect(422);
    assert_eq!(error_fields(&bad), vec!["amount"]);
    let id = s(&o["id"]).to_string();
    let path = format!("/api/v1/opportunities/{id}");
    app.patch(&path, json!({"stage_id": stage(&p, "Propose")})).await.expect(200);
    // Changing the stage's probability later does not rewrite the deal's history.
    let mut stages = p["stages"].clone();
    stages[1]["probability"] = json!(55);
    app.patch(&format!("/api/v1/pipelines/{}", s(&p["id"])), json!({"stages": stages})).await.expect(200);
    let lost = app.patch(&path, json!({"stage_id": stage(&p, "Lost")})).await.expect(422);
    assert_eq!(error_fields(&lost), vec!["loss_reason"]);
    let won = app.patch(&path, json!({"stage_id": stage(&p, "Won")})).await.expect(200);
    assert_eq!(won["won"], true);
    assert!(won["closed_at"].is_string());
    let h = app.get(&format!("{path}/stages")).await.expect(200);
    let visits: Vec<(String, i64)> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (s(&v["stage_name"]).to_string(), v["probability"].as_i64().unwrap()))
        .collect();
    assert_eq!(visits, [("Qualify".to_string(), 10), ("Propose".to_string(), 40), ("Won".to_string(), 100)]);
    assert!(h[0]["left_at"].is_string() && h[2]["left_at"].is_null());
    // Sending the same pipeline changes nothing about the stage.
    let same = app.patch(&path, json!({"pipeline_id": p["id"], "next_step": "Kick-off"})).await.expect(200);
    assert_eq!((same["won"].as_bool(), same["stage_id"].clone()), (Some(true), stage(&p, "Won")));
    // A stage holding a won deal cannot become an open one.
    let mut flipped = p["stages"].clone();
    flipped[1]["probability"] = json!(55);
    flipped[3]["forecast_category"] = json!("commit");
    let bad = app.patch(&format!("/api/v1/pipelines/{}", s(&p["id"])), json!({"stages": flipped})).await.expect(422);
    assert_eq!(error_fields(&bad), vec!["stages[3].forecast_category"]);
    // Reopening clears the close.
    let reopened = app.patch(&path, json!({"stage_id": stage(&p, "Commit")})).await.expect(200);
    assert!(reopened["closed_at"].is_null() && reopened["won"].is_null());
    assert_eq!(reopened["probability"], 80);
    // A stage that holds deals cannot be removed.
    let mut fewer = p["stages"].clone();
    fewer.as_array_mut().unwrap().remove(2);
    let bad = app.patch(&format!("/api/v1/pipelines/{}", s(&p["id"])), json!({"stages": fewer})).await.expect(422);
    assert_eq!(error_fields(&bad), vec!["stages"]);
    let a = app.get(&format!("{path}/assessment")).await.expect(200);
    assert_eq!(a["health"], "healthy", "{a}");
    app.patch(&path, json!({"expected_close_date": "2020-01-31"})).await.expect(200);
    let a = app.get(&format!("{path}/assessment")).await.expect(200);
    assert_eq!((a["health"].as_str(), a["close_date_passed"].as_bool()), (Some("at_risk"), Some(true)), "{a}");
    assert!(a["days_since_last_interaction"].is_null());
    app.post("/api/v1/interactions", json!({"type": "call", "account_id": acme["id"], "opportunity_id": id}))
        .await
        .expect(201);
    let a = app.get(&format!("{path}/assessment")).await.expect(200);
    assert_eq!(a["days_since_last_interaction"], 0);
    let other = app
        .post(
            "/api/v1/pipelines",
            json!({"name": "Other", "stages": [{"name": "Only", "probability": 5, "forecast_category": "pipeline"}]}),
        )
        .await
        .expect(201);
    let bad = app.patch(&path, json!({"stage_id": stage(&other, "Only")})).await.expect(422);
    assert_eq!(error_fields(&bad), vec!["stage_id"]);
}

#[actix_web::test]
async fn activities_make_an_agenda_complete_with_a_log_and_remind_once() {
    let app = spawn_quiet().await;
    let rep = user(&app, "Rep", json!({})).await;
    user(&app, "Other", json!({})).await;
    let me = token(&app.keys, "rep", &["sales"], &[]);
    let ann = app.contact("Ann", "Lee", json!({})).await;
    for (subject, due, assignee) in [
        ("Call Ann", "2026-11-20T09:00:00Z", None),
        ("Send deck", "2026-11-25T09:00:00Z", None),
        ("Later", "2027-01-10T09:00:00Z", None),
        ("Month end", "2026-11-30T17:00:00Z", None),
        ("Not mine", "2026-11-20T09:00:00Z", Some("other")),
    ] {
        let mut body = json!({"type": "call", "subject": subject, "due_at": due, "contact_id": ann["id"]});
        if assignee.is_some() {
            let others = app.get("/api/v1/users?filter=subject[eq]:other").await.expect(200);
            body["assignee_id"] = others["data"][0]["id"].clone();
        }
        app.call(Method::POST, "/api/v1/activities", Some(&me), Some(body), &[]).await.expect(201);
    }
    let agenda = app
        .call(Method::GET, "/api/v1/activities?assignee=me&due%5Blte%5D=2026-11-30&sort=due_at", Some(&me), None, &[])
        .await
        .expect(200);
    let subjects: Vec<&str> = agenda["data"].as_array().unwrap().iter().map(|a| s(&a["subject"])).collect();
    assert_eq!(subjects, ["Call Ann", "Send deck", "Month end"], "a bare date includes that whole day");
    assert!(agenda["data"].as_array().unwrap().iter().all(|a| a["assignee_id"] == rep["id"]));
    let g = app
        .gql(&me, "{ agenda(dueLte: \"2026-11-30\", orderBy: [{field: DUE_AT}]) { nodes { subject } } }", json!({}))
        .await;
    let g_subjects: Vec<&str> = g["data"]["agenda"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{g}"))
        .iter()
        .map(|n| s(&n["subject"]))
        .collect();
    assert_eq!(g_subjects, subjects, "GraphQL gives the same agenda");

    // Completing the call logs it.
    let call_id = agenda["data"][0]["id"].as_str().unwrap().to_string();
    let done = app
        .call(
            Method::POST,
            &format!("/api/v1/activities/{call_id}/complete"),
            Some(&me),
            Some(json!({"log": {"outcome": "connected", "body": "Agreed on a demo"}})),
            &[],
        )
        .await
        .expect(200);
    assert_eq!(done["status"], "done");
    assert!(done["completed_at"].is_string());
    let x = app.get(&format!("/api/v1/interactions/{}", s(&done["interaction_id"]))).await.expect(200);
    assert_eq!((x["type"].as_str(), x["outcome"].as_str()), (Some("call"), Some("connected")));
    assert_eq!(x["contact_ids"], json!([ann["id"]]));
    assert_eq!(x["author_id"], rep["id"]);
    let again = app
        .call(Method::POST, &format!("/api/v1/activities/{call_id}/complete"), Some(&me), Some(json!({})), &[])
        .await;
    assert_eq!(again.expect(422)["code"], "INVALID_TRANSITION");

    // Reminders: two instances fire together; each reminder fires exactly once.
    let past = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let future = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    for n in 0..6 {
        app.post(
            "/api/v1/activities",
            json!({"type": "task", "subject": format!("R{n}"), "remind_at": past,
            "assignee_id": rep["id"]}),
        )
        .await
        .expect(201);
    }
    app.post("/api/v1/activities", json!({"type": "task", "subject": "Not yet", "remind_at": future}))
        .await
        .expect(201);
    // On PostgreSQL a second instance (its own pool); SQLite serves one instance, so there two
    // workers share it.
    let second = if app.database_url.starts_with("postgres") { Some(spawn_on(&app.database_url).await) } else { None };
    let other_db = second.as_ref().map(|s| s.db.clone()).unwrap_or_else(|| app.db.clone());
    let (a, b) = tokio::join!(crm_gateway::app::fire_reminders(&app.db), crm_gateway::app::fire_reminders(&other_db));
    assert_eq!(a.unwrap() + b.unwrap(), 6);
    assert_eq!(crm_gateway::app::fire_reminders(&app.db).await.unwrap(), 0, "nothing fires twice");
    let feed = app.get("/api/v1/changes?types=activity.reminder_due&limit=100").await.expect(200);
    assert_eq!(feed["data"].as_array().unwrap().len(), 6);
}

#[actix_web::test]
async fn the_forecast_and_reports_equal_hand_computed_figures() {
    let app = spawn().await;
    let p = pipeline(&app, "New business").await;
    let ann = user(&app, "Ann", json!({"team": "east"})).await;
    let bob = user(&app, "Bob", json!({"team": "west"})).await;
    let as_ann = token(&app.keys, "ann", &["sales"], &[]);
    let as_bob = token(&app.keys, "bob", &["sales"], &[]);
    // Deals are won and lost today, so the figures are for this quarter; close dates are days
    // into it (day 100 is the next quarter).
    use chrono::Datelike;
    let today = chrono::Utc::now().date_naive();
    let q_start = chrono::NaiveDate::from_ymd_opt(today.year(), (today.month0() / 3) * 3 + 1, 1).unwrap();
    let quarter = format!("{}-Q{}", today.year(), today.month0() / 3 + 1);
    let day = |n: i64| (q_start + chrono::Duration::days(n)).to_string();
    let deal = |name: &str, amount: i64, close: &str| json!({"name": name, "amount": {"amount_minor": amount, "currency": "USD"}, "expected_close_date": close, "pipeline_id": p["id"]});
    let mut ids = std::collections::HashMap::new();
    for (who, name, amount, close) in [
        (&as_ann, "A1", 100_000, 40), // -> commit (80 %)
        (&as_ann, "A2", 50_000, 61),  // -> best case (40 %)
        (&as_ann, "A3", 33_333, 4),   // stays pipeline (10 %)
        (&as_ann, "A4", 70_000, 50),  // -> won in the period
        (&as_ann, "A5", 9_999, 100),  // closes next quarter: not in the forecast
        (&as_bob, "B1", 20_000, 89),  // -> won
        (&as_bob, "B2", 45_000, 41),  // -> lost
        (&as_bob, "B3", 12_345, 0),   // stays pipeline (10 %)
    ] {
        let body = deal(name, amount, &day(close));
        let o = app.call(Method::POST, "/api/v1/opportunities", Some(who), Some(body), &[]).await.expect(201);
        ids.insert(name, s(&o["id"]).to_string());
    }
    for (name, st, extra) in [
        ("A1", "Commit", json!({})),
        ("A2", "Propose", json!({})),
        ("A4", "Won", json!({})),
        ("B1", "Won", json!({})),
        ("B2", "Lost", json!({"loss_reason": "price"})),
    ] {
        let mut body = json!({"stage_id": stage(&p, st)});
        merge(&mut body, extra);
        app.patch(&format!("/api/v1/opportunities/{}", ids[name]), body).await.expect(200);
    }
    app.post(
        "/api/v1/quotas",
        json!({"owner_id": ann["id"], "period": quarter.replace("-Q", "-Q0"), "amount": {"amount_minor": 250_000, "currency": "USD"}}),
    )
    .await
    .expect(201);

    let f = app.get(&format!("/api/v1/forecast?period={quarter}&group_by=owner")).await.expect(200);
    let group = |id: &Value| f["groups"].as_array().unwrap().iter().find(|g| g["key"] == *id).unwrap().clone();
    let ga = group(&ann["id"]);
    let usd = |v: i64| json!({"amount_minor": v, "currency": "USD"});
    assert_eq!(ga["closed_won"], usd(70_000));
    assert_eq!(ga["commit"], usd(100_000));
    assert_eq!(ga["best_case"], usd(50_000));
    assert_eq!(ga["pipeline"], usd(33_333));
    // 100000 × 0.8 + 50000 × 0.4 + 33333 × 0.1 = 80000 + 20000 + 3333.3 → 103333
    assert_eq!(ga["weighted"], usd(103_333));
    assert_eq!(ga["quota"], usd(250_000));
    assert_eq!(ga["label"], "Ann");
    let gb = group(&bob["id"]);
    assert_eq!((gb["closed_won"].clone(), gb["pipeline"].clone()), (usd(20_000), usd(12_345)));
    // 12345 × 0.1 = 1234.5 → 1235 (half up)
    assert_eq!(gb["weighted"], usd(1_235));
    let by_team = app.get(&format!("/api/v1/forecast?period={quarter}&group_by=team")).await.expect(200);
    let keys: Vec<&str> = by_team["groups"].as_array().unwrap().iter().map(|g| s(&g["key"])).collect();
    assert_eq!(keys, ["east", "west"]);
    app.get("/api/v1/forecast?period=2026-Q5").await.expect(422);

    let r = app.get(&format!("/api/v1/reports/sales?period={quarter}")).await.expect(200);
    assert_eq!((r["won"].as_i64(), r["lost"].as_i64()), (Some(2), Some(1)));
    assert_eq!(r["win_rate_bp"], 6667, "2 / 3");
    let usd_fig = &r["by_currency"][0];
    assert_eq!(usd_fig["won_amount"], usd(90_000));
    assert_eq!(usd_fig["average_deal_size"], usd(45_000));
    assert_eq!(usd_fig["open_deals"], 5, "A1, A2, A3, A5, B3");
    assert_eq!(r["average_sales_cycle_days"], 0, "won the day they were created");
    // 5 open × 45000 × 2/3 / max(0, 1) day = 150000
    assert_eq!(usd_fig["pipeline_velocity_per_day"], usd(150_000));
    let funnel: Vec<(String, i64)> = r["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (s(&f["name"]).to_string(), f["entered"].as_i64().unwrap()))
        .collect();
    assert_eq!(funnel[0], ("Qualify".to_string(), 8));
    assert_eq!(funnel[1], ("Propose".to_string(), 1));
    // Qualify → Propose: 1 of 8 = 1250 bp.
    assert_eq!(r["funnel"][0]["to_next_bp"], 1250);
    let mine = app.get(&format!("/api/v1/reports/sales?period={quarter}&owner_id={}", s(&bob["id"]))).await.expect(200);
    assert_eq!(
        (mine["won"].as_i64(), mine["lost"].as_i64(), mine["win_rate_bp"].as_i64()),
        (Some(1), Some(1), Some(5000))
    );

    // GraphQL gives the same figures.
    let g = app
        .gql(
            &app.admin,
            "query($q: String!) { forecast(period: $q, groupBy: OWNER) { groups { key weighted { amountMinor } closedWon { amountMinor } } } salesReport(period: $q) { winRateBp won lost } }",
            json!({"q": quarter}),
        )
        .await;
    assert!(g["errors"].is_null(), "{g}");
    let gg =
        g["data"]["forecast"]["groups"].as_array().unwrap().iter().find(|x| x["key"] == ann["id"]).unwrap().clone();
    assert_eq!(gg["weighted"]["amountMinor"], 103_333);
    assert_eq!(g["data"]["salesReport"], json!({"winRateBp": 6667, "won": 2, "lost": 1}));

    // Target account lists: coverage against a goal.
    let acme = app.account("Acme", json!({})).await;
    app.patch(&format!("/api/v1/opportunities/{}", ids["A1"]), json!({"account_id": acme["id"]})).await.expect(200);
    let t = app
        .post(
            "/api/v1/target-lists",
            json!({"name": "Quarter targets", "account_ids": [acme["id"]], "period_start": day(0),
            "period_end": day(89), "goal": {"amount_minor": 400_000, "currency": "USD"}}),
        )
        .await
        .expect(201);
    let cov = app.get(&format!("/api/v1/target-lists/{}/coverage", s(&t["id"]))).await.expect(200);
    assert_eq!(cov["open_pipeline"], usd(100_000));
    assert_eq!(cov["weighted_pipeline"], usd(80_000));
    assert_eq!(cov["coverage_bp"], 2500);
    let empty = app
        .post("/api/v1/target-lists", json!({"name": "Empty", "period_start": day(0), "period_end": day(89)}))
        .await
        .expect(201);
    let cov = app.get(&format!("/api/v1/target-lists/{}/coverage", s(&empty["id"]))).await.expect(200);
    assert!(cov["open_pipeline"].is_null() && cov["won"].is_null() && cov["coverage_bp"].is_null(), "{cov}");
}

#[actix_web::test]
async fn sales_scopes_per_role() {
    let app = spawn().await;
    pipeline(&app, "P").await;
    let lead = json!({"last_name": "X"});
    for (role, write) in [("sales", true), ("marketing", true), ("support", false), ("readonly", false)] {
        let t = token(&app.keys, &format!("{role}-u"), &[role], &[]);
        let r = app.call(Method::POST, "/api/v1/leads", Some(&t), Some(lead.clone()), &[]).await;
        assert_eq!(r.status.as_u16(), if write { 201 } else { 403 }, "{role}");
        for path in [
            "/api/v1/leads",
            "/api/v1/opportunities",
            "/api/v1/pipelines",
            "/api/v1/activities",
            "/api/v1/forecast?period=2026",
        ] {
            let r = app.call(Method::GET, path, Some(&t), None, &[]).await;
            assert_eq!(r.status, 200, "{role} reads {path}");
        }
    }
    let none = token(&app.keys, "x", &[], &["contacts:read"]);
    app.call(Method::GET, "/api/v1/forecast?period=2026", Some(&none), None, &[]).await.expect(403);
}

#[actix_web::test]
async fn interactions_with_a_lead_feed_its_score() {
    let app = spawn().await;
    app.call(
        Method::PUT,
        "/api/v1/lead-scoring-rules",
        Some(&app.admin),
        Some(json!({"rules": [
            {"field": "interactions", "op": "present", "points": 5},
            {"field": "interactions", "op": "gte", "value": "2", "points": 20}
        ]})),
        &[],
    )
    .await
    .expect(200);
    let lead = app.post("/api/v1/leads", json!({"last_name": "Kim", "company": "Hanbit"})).await.expect(201);
    let path = format!("/api/v1/leads/{}", s(&lead["id"]));
    assert_eq!(lead["score"], 0);
    let call = json!({"type": "call", "lead_id": lead["id"]});
    let first = app.post("/api/v1/interactions", call.clone()).await.expect(201);
    assert_eq!(app.get(&path).await.expect(200)["score"], 5);
    app.post("/api/v1/interactions", call.clone()).await.expect(201);
    assert_eq!(app.get(&path).await.expect(200)["score"], 25);
    // Archiving one counts too.
    app.delete(&format!("/api/v1/interactions/{}", s(&first["id"]))).await.expect(204);
    assert_eq!(app.get(&path).await.expect(200)["score"], 5);
    let listed = app.get(&format!("/api/v1/interactions?filter=lead_id[eq]:{}", s(&lead["id"]))).await.expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let bad =
        app.post("/api/v1/interactions", json!({"type": "call", "lead_id": uuid::Uuid::now_v7()})).await.expect(422);
    assert_eq!(error_fields(&bad), vec!["lead_id"]);
    let bad = app
        .call(
            Method::PUT,
            "/api/v1/lead-scoring-rules",
            Some(&app.admin),
            Some(json!({"rules": [{"field": "interactions", "op": "eq", "value": "x", "points": 1},
                                  {"field": "title", "op": "gte", "value": "2", "points": 1}]})),
            &[],
        )
        .await
        .expect(422);
    assert_eq!(error_fields(&bad), vec!["rules[0].op", "rules[1].op"]);
}

#[actix_web::test]
async fn lists_filter_deals_by_status_and_forecast_category() {
    let app = spawn().await;
    let p = pipeline(&app, "New business").await;
    let acme = app.account("Acme", json!({})).await;
    let mut ids = std::collections::HashMap::new();
    for (name, stage_name) in
        [("q", "Qualify"), ("p", "Propose"), ("c1", "Commit"), ("c2", "Commit"), ("w", "Won"), ("l", "Lost")]
    {
        let o = app.opportunity(name, &acme, &p, json!({})).await;
        assert_eq!((o["status"].as_str(), o["forecast_category"].as_str()), (Some("open"), Some("pipeline")));
        let mut patch = json!({"stage_id": stage(&p, stage_name)});
        if stage_name == "Lost" {
            patch["loss_reason"] = json!("price");
        }
        let moved = app.patch(&format!("/api/v1/opportunities/{}", s(&o["id"])), patch).await.expect(200);
        ids.insert(name, s(&moved["id"]).to_string());
    }
    let names = |body: Value| -> Vec<String> {
        let mut v: Vec<String> = body["data"].as_array().unwrap().iter().map(|o| s(&o["name"]).to_string()).collect();
        v.sort();
        v
    };
    let list = |f: &str| format!("/api/v1/opportunities?filter={}", enc(f));
    assert_eq!(names(app.get(&list("status[eq]:won")).await.expect(200)), ["w"]);
    assert_eq!(names(app.get(&list("status[eq]:open")).await.expect(200)), ["c1", "c2", "p", "q"]);
    assert_eq!(names(app.get(&list("status[in]:[won,lost]")).await.expect(200)), ["l", "w"]);
    assert_eq!(names(app.get(&list("forecast_category[eq]:commit")).await.expect(200)), ["c1", "c2"]);
    let bad = app.get(&list("status[eq]:closed")).await.expect(400);
    assert_eq!(bad["code"], "INVALID_FILTER", "{bad}");
    // Sorting by status: lost < open < won as text.
    let sorted = app.get("/api/v1/opportunities?sort=status,name").await.expect(200);
    let order: Vec<&str> = sorted["data"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(order, ["l", "c1", "c2", "p", "q", "w"]);

    // The pipeline moves Propose from best case to commit: its deal follows, in lists too.
    let mut stages = p["stages"].clone();
    stages[1]["forecast_category"] = json!("commit");
    app.patch(&format!("/api/v1/pipelines/{}", s(&p["id"])), json!({"stages": stages})).await.expect(200);
    assert_eq!(names(app.get(&list("forecast_category[eq]:commit")).await.expect(200)), ["c1", "c2", "p"]);
    let one = app.get(&format!("/api/v1/opportunities/{}", ids["p"])).await.expect(200);
    assert_eq!(one["forecast_category"], "commit");

    // GraphQL: typed conditions on both.
    let g = app
        .gql(
            &app.admin,
            "{ opportunities(where: {status: {eq: WON}}) { nodes { name status forecastCategory } } \
               commit: opportunities(where: {forecastCategory: {in: [COMMIT]}}, orderBy: [{field: NAME}]) { nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        g["data"]["opportunities"]["nodes"],
        json!([{"name": "w", "status": "WON", "forecastCategory": "CLOSED_WON"}]),
        "{g}"
    );
    assert_eq!(g["data"]["commit"]["nodes"], json!([{"name": "c1"}, {"name": "c2"}, {"name": "p"}]), "{g}");
    // Reopening a won deal makes it open again.
    let reopened = app
        .patch(&format!("/api/v1/opportunities/{}", ids["w"]), json!({"stage_id": stage(&p, "Qualify")}))
        .await
        .expect(200);
    assert_eq!((reopened["status"].as_str(), reopened["forecast_category"].as_str()), (Some("open"), Some("pipeline")));
}

#[actix_web::test]
async fn the_customer_timeline_and_summary_hold_deals_stage_moves_and_activities() {
    let app = spawn().await;
    let p = pipeline(&app, "New business").await;
    let acme = app.account("Acme", json!({})).await;
    let ann = app.contact("Ann", "Lee", json!({"account_id": acme["id"]})).await;
    let deal = |name: &str, amount: Value| {
        let extra = json!({"contact_id": ann["id"], "amount": amount});
        let (app, acme, p, name) = (&app, &acme, &p, name.to_string());
        async move { app.opportunity(&name, acme, p, extra).await }
    };
    let won = deal("Won deal", json!({"amount_minor": 500_000, "currency": "EUR"})).await;
    deal("Open EUR", json!({"amount_minor": 120_000, "currency": "EUR"})).await;
    let open2 = deal("Open USD", json!({"amount_minor": 99_999, "currency": "USD"})).await;
    let lost = deal("Lost deal", json!({"amount_minor": 7_000, "currency": "EUR"})).await;
    let path = |o: &Value| format!("/api/v1/opportunities/{}", s(&o["id"]));
    app.patch(&path(&won), json!({"stage_id": stage(&p, "Propose")})).await.expect(200);
    app.patch(&path(&won), json!({"stage_id": stage(&p, "Won")})).await.expect(200);
    app.patch(&path(&lost), json!({"stage_id": stage(&p, "Lost"), "loss_reason": "price"})).await.expect(200);
    app.patch(&path(&open2), json!({"stage_id": stage(&p, "Commit")})).await.expect(200);
    let on = json!({"contact_id": ann["id"], "account_id": acme["id"]});
    let mut overdue = on.clone();
    merge(&mut overdue, json!({"due_at": "2020-01-01T09:00:00Z"}));
    app.activity("Call back", overdue).await;
    let mut later = on.clone();
    merge(&mut later, json!({"due_at": "2099-03-01T09:00:00Z"}));
    app.activity("Send the offer", later).await;
    let mut soon = on.clone();
    merge(&mut soon, json!({"due_at": "2098-06-01T09:00:00Z"}));
    let done = app.activity("Demo", soon).await;
    let done = app.post(&format!("/api/v1/activities/{}/complete", s(&done["id"])), json!({})).await.expect(200);
    app.case("Unrelated", json!({"contact_id": ann["id"]})).await;

    // The contact's sales history, newest first: every deal opened, every move, each activity once.
    let t = app
        .get(&format!("/api/v1/contacts/{}/timeline?kinds=opportunity,stage_change,activity&limit=200", s(&ann["id"])))
        .await
        .expect(200);
    let entries: Vec<(String, String)> = t["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let what = match s(&e["kind"]) {
                "opportunity" => s(&e["item"]["name"]).to_string(),
                "stage_change" => {
                    format!("{} → {}", &e["item"]["opportunity_id"].as_str().unwrap()[..8], s(&e["item"]["stage_name"]))
                }
                _ => format!("{} ({})", s(&e["item"]["subject"]), s(&e["item"]["status"])),
            };
            assert_eq!(e["id"], e["item"]["id"], "{e}");
            (s(&e["kind"]).to_string(), what)
        })
        .collect();
    let short = |o: &Value| s(&o["id"])[..8].to_string();
    let expected: Vec<(String, String)> = [
        ("activity", "Demo (done)".to_string()),
        ("activity", "Send the offer (open)".to_string()),
        ("activity", "Call back (open)".to_string()),
        ("stage_change", format!("{} → Commit", short(&open2))),
        ("stage_change", format!("{} → Lost", short(&lost))),
        ("stage_change", format!("{} → Won", short(&won))),
        ("stage_change", format!("{} → Propose", short(&won))),
        ("opportunity", "Lost deal".to_string()),
        ("opportunity", "Open USD".to_string()),
        ("opportunity", "Open EUR".to_string()),
        ("opportunity", "Won deal".to_string()),
    ]
    .into_iter()
    .map(|(k, w)| (k.to_string(), w))
    .collect();
    assert_eq!(entries, expected);
    assert_eq!(done["status"], "done");
    // The account's timeline has them too; pages of 3 walk it without gaps or repeats.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let url = format!("/api/v1/accounts/{}/timeline?limit=3{cursor}", s(&acme["id"]));
        let page = app.get(&url).await.expect(200);
        seen.extend(page["data"].as_array().unwrap().iter().map(|e| s(&e["id"]).to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let unique: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "{seen:?}");
    // The 11 sales entries, the case, and the account's own change (its creation).
    assert_eq!(seen.len(), 13, "{seen:?}");
    // Without sales:read the sales kinds are left out, and asking for them is 403.
    let narrow = token(&app.keys, "agent", &[], &["contacts:read", "cases:read"]);
    let r =
        app.call(Method::GET, &format!("/api/v1/contacts/{}/timeline", s(&ann["id"])), Some(&narrow), None, &[]).await;
    let kinds: std::collections::HashSet<String> =
        r.expect(200)["data"].as_array().unwrap().iter().map(|e| s(&e["kind"]).to_string()).collect();
    assert_eq!(kinds, ["case", "change"].into_iter().map(String::from).collect());
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/contacts/{}/timeline?kinds=activity", s(&ann["id"])),
            Some(&narrow),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status.as_u16(), 403);

    // The summary's sales figures, worked out by hand from what was written above.
    for who in
        [format!("/api/v1/contacts/{}/summary", s(&ann["id"])), format!("/api/v1/accounts/{}/summary", s(&acme["id"]))]
    {
        let sum = app.get(&who).await.expect(200);
        assert_eq!(
            (sum["open_opportunities"].as_i64(), sum["won_opportunities"].as_i64(), sum["lost_opportunities"].as_i64()),
            (Some(2), Some(1), Some(1)),
            "{sum}"
        );
        assert_eq!(
            sum["pipeline_value"],
            json!([{"amount_minor": 120_000, "currency": "EUR"}, {"amount_minor": 99_999, "currency": "USD"}])
        );
        assert_eq!(sum["won_value"], json!([{"amount_minor": 500_000, "currency": "EUR"}]));
        assert_eq!(sum["last_opportunity_at"], lost["created_at"]);
        assert_eq!((sum["open_activities"].as_i64(), sum["overdue_activities"].as_i64()), (Some(2), Some(1)));
        assert_eq!(sum["next_activity_due_at"], "2020-01-01T09:00:00Z");
        assert_eq!(sum["last_activity_done_at"], done["completed_at"]);
    }
    let sum = app
        .call(Method::GET, &format!("/api/v1/contacts/{}/summary", s(&ann["id"])), Some(&narrow), None, &[])
        .await
        .expect(200);
    assert!(sum["open_opportunities"].is_null() && sum["open_activities"].is_null() && sum["open_cases"] == 1, "{sum}");

    // GraphQL: the same entries and figures.
    let g = app
        .gql(
            &app.admin,
            "query($id: UUID!) { contact(id: $id) { summary { openOpportunities pipelineValue { amountMinor currency } overdueActivities }
               timeline(kinds: [STAGE_CHANGE, OPPORTUNITY], first: 2) { nodes { kind stageChange { stageName forecastCategory } opportunity { name } } } } }",
            json!({"id": ann["id"]}),
        )
        .await;
    let c = &g["data"]["contact"];
    assert_eq!(c["summary"]["openOpportunities"], 2, "{g}");
    assert_eq!(c["summary"]["overdueActivities"], 1, "{g}");
    assert_eq!(
        c["timeline"]["nodes"][0],
        json!({"kind": "STAGE_CHANGE", "stageChange": {"stageName": "Commit", "forecastCategory": "COMMIT"}, "opportunity": null}),
        "{g}"
    );
}
