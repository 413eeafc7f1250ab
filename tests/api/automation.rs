//! Workflow automation end to end: rules made over REST and GraphQL, triggered by real writes,
//! executed by the engine of the running app (or of two apps on one database), and checked
//! through the records they wrote, the change feed and the run log.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

fn fast(s: &mut crm_gateway::Settings) {
    s.automation_interval = Duration::from_millis(40);
}

/// Waits (up to 30 s) until `check` answers something.
async fn until<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(v) = check().await {
            return v;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

/// The runs of a rule, oldest first.
async fn runs(app: &TestApp, rule: &str) -> Vec<Value> {
    let page = app.get(&format!("/api/v1/automation-runs?rule_id={rule}&limit=500")).await.expect(200);
    let mut v = page["data"].as_array().unwrap().clone();
    v.reverse();
    v
}

/// The runs of a rule once none is pending or waiting and there are at least `n`.
async fn settled(app: &TestApp, rule: &str, n: usize) -> Vec<Value> {
    until(&format!("{n} runs of {rule} ended"), async || {
        let r = runs(app, rule).await;
        let open = r.iter().any(|x| x["status"] == "pending" || x["status"] == "waiting");
        (r.len() >= n && !open).then_some(r)
    })
    .await
}

#[actix_web::test]
async fn an_event_rule_acts_once_as_its_own_actor_and_logs_each_run() {
    let app = spawn_with(fast).await;
    let agent = app.user("Ada Agent", json!({"email": "ada@example.com"})).await;
    let rule = app
        .created(
            "/api/v1/automation-rules",
            json!({
                "name": "Escalate urgent cases",
                "entity": "case",
                "events": ["created"],
                "filter": "priority[eq]:urgent",
                "max_runs_per_hour": 2,
                "actions": [
                    {"type": "add_note", "body": "Escalated: {{subject}}"},
                    {"type": "create_activity", "activity_type": "call", "subject": "Call back on {{subject}}",
                     "due_in": "1h", "assignee": agent["id"]},
                    {"type": "set_fields", "fields": {"tags": ["escalated"]}}
                ]
            }),
        )
        .await;
    let id = s(&rule["id"]).to_string();
    assert_eq!(rule["scopes"], json!(["cases:read", "cases:write", "interactions:write", "sales:write"]));
    assert_eq!(rule["enabled_by"], "admin-user");

    let acme = app.account("Acme", json!({})).await;
    let urgent = app.case("Server down", json!({"priority": "urgent", "account_id": acme["id"]})).await;
    let low = app.case("Typo on invoice", json!({"priority": "low"})).await;
    let r = settled(&app, &id, 2).await;
    assert_eq!(r.len(), 2, "{r:?}");
    let done = r.iter().find(|x| x["record_id"] == urgent["id"]).unwrap();
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["trigger"], "event");
    assert_eq!(done["event_type"], "case.created");
    assert_eq!(done["caused_by"], "admin-user");
    assert_eq!(done["depth"], 0);
    assert_eq!(done["conditions"], json!([{"condition": "filter", "expression": "priority[eq]:urgent", "held": true}]));
    let actions: Vec<&str> = done["steps"].as_array().unwrap().iter().map(|s| s["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["add_note", "create_activity", "set_fields"]);
    assert!(done["steps"].as_array().unwrap().iter().all(|s| s["status"] == "done"));
    let skipped = r.iter().find(|x| x["record_id"] == low["id"]).unwrap();
    assert_eq!(skipped["status"], "skipped");
    assert_eq!(skipped["conditions"][0]["held"], false);

    // What the actions wrote, once: the note, the call (due an hour after the run, to the
    // named agent), the tag; and the automation is the actor of each write.
    let case_id = s(&urgent["id"]);
    let notes = app.get(&format!("/api/v1/interactions?filter=case_id[eq]:{case_id}")).await.expect(200);
    assert_eq!(notes["data"].as_array().unwrap().len(), 1, "{notes}");
    assert_eq!(notes["data"][0]["body"], "Escalated: Server down");
    assert_eq!(notes["data"][0]["type"], "note");
    let calls = app.get(&format!("/api/v1/activities?filter=case_id[eq]:{case_id}")).await.expect(200);
    let call = &calls["data"][0];
    assert_eq!(calls["data"].as_array().unwrap().len(), 1);
    assert_eq!((call["subject"].as_str(), call["type"].as_str()), (Some("Call back on Server down"), Some("call")));
    assert_eq!(call["assignee_id"], agent["id"]);
    let due = chrono::DateTime::parse_from_rfc3339(s(&call["due_at"])).unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(s(&call["created_at"])).unwrap();
    let lag = (due - created).num_seconds();
    assert!((3599..=3601).contains(&lag), "due {lag} s after the call was made");
    let case = app.get(&format!("/api/v1/cases/{case_id}")).await.expect(200);
    assert_eq!(case["tags"], json!(["escalated"]));
    let feed = app.get(&format!("/api/v1/cases/{case_id}/history")).await.expect(200);
    let actors: Vec<&str> = feed["data"].as_array().unwrap().iter().map(|e| s(&e["actor"])).collect();
    assert!(actors.contains(&format!("automation:{id}").as_str()), "{feed}");
    // The urgent case's own update (the tag) did not start the rule again: it reacts to
    // `created` only, and never to its own writes.
    assert_eq!(runs(&app, &id).await.len(), 2);

    // The hourly rate: two runs made, the third urgent case is logged as skipped.
    let third = app.case("Database down", json!({"priority": "urgent", "account_id": acme["id"]})).await;
    let fourth = app.case("Disk full", json!({"priority": "urgent", "account_id": acme["id"]})).await;
    let r = settled(&app, &id, 4).await;
    let status = |c: &Value| r.iter().find(|x| x["record_id"] == c["id"]).unwrap()["status"].clone();
    assert_eq!((status(&third), status(&fourth)), (json!("succeeded"), json!("skipped")));
    let limited = r.iter().find(|x| x["record_id"] == fourth["id"]).unwrap();
    assert!(s(&limited["error"]).contains("rate of 2 runs an hour"), "{limited}");
    // Per record, and one run.
    let per = app.get(&format!("/api/v1/automation-runs?record_id={case_id}")).await.expect(200);
    assert_eq!(per["data"].as_array().unwrap().len(), 1);
    let one = app.get(&format!("/api/v1/automation-runs/{}", s(&done["id"]))).await.expect(200);
    assert_eq!(one["id"], done["id"]);
    // Reading the log takes `automation:read`.
    let sales = app.token(&["sales"]);
    let denied = app.call(awc::http::Method::GET, "/api/v1/automation-runs", Some(&sales), None, &[]).await;
    assert_eq!(denied.status, 403);
}

#[actix_web::test]
async fn conditions_read_the_record_before_and_after_and_owners_go_round() {
    let app = spawn_with(fast).await;
    let u1 = app.user("Una One", json!({"email": "una@example.com", "team": "inside"})).await;
    let u2 = app.user("Ugo Two", json!({"email": "ugo@example.com", "team": "inside"})).await;
    app.user("Out Side", json!({"email": "out@example.com", "team": "field"})).await;
    let rule = app
        .created(
            "/api/v1/automation-rules",
            json!({
                "name": "Contacted leads go to inside sales",
                "entity": "lead",
                "events": ["updated"],
                "changed_fields": ["status"],
                "before_filter": "status[eq]:new",
                "filter": "status[eq]:contacted",
                "actions": [{"type": "assign_owner", "strategy": "round_robin", "team": "inside"}]
            }),
        )
        .await;
    let id = s(&rule["id"]).to_string();
    let mut leads = Vec::new();
    for name in ["Alpha", "Beta", "Gamma"] {
        let l = app.lead(name, json!({})).await;
        app.patch(&format!("/api/v1/leads/{}", s(&l["id"])), json!({"status": "contacted"})).await.expect(200);
        leads.push(l);
    }
    // Moved from contacted (not new): the before condition does not hold.
    let back = app.lead("Delta", json!({"status": "qualified"})).await;
    app.patch(&format!("/api/v1/leads/{}", s(&back["id"])), json!({"status": "contacted"})).await.expect(200);
    // A change of another field: no run at all.
    app.patch(&format!("/api/v1/leads/{}", s(&leads[0]["id"])), json!({"company": "Alpha Group"})).await.expect(200);

    let r = settled(&app, &id, 4).await;
    assert_eq!(r.len(), 4, "{r:?}");
    let skipped = r.iter().find(|x| x["record_id"] == back["id"]).unwrap();
    assert_eq!(skipped["status"], "skipped");
    let held: Vec<Value> = skipped["conditions"].as_array().unwrap().iter().map(|c| c["held"].clone()).collect();
    assert_eq!(held, [json!(true), json!(false)], "after held, before did not: {skipped}");
    // Users of the team in turn (ordered by id: u1 was created first).
    let mut owners = Vec::new();
    for l in &leads {
        owners.push(app.get(&format!("/api/v1/leads/{}", s(&l["id"]))).await.expect(200)["owner_id"].clone());
    }
    assert_eq!(owners, [u1["id"].clone(), u2["id"].clone(), u1["id"].clone()]);
    let back_now = app.get(&format!("/api/v1/leads/{}", s(&back["id"]))).await.expect(200);
    assert_eq!(back_now["owner_id"], Value::Null);
}

#[actix_web::test]
async fn rules_do_not_run_away() {
    let app = spawn_with(|s| {
        fast(s);
        s.automation.max_depth = 3;
        s.automation.disable_after_failures = 2;
    })
    .await;
    let contact_rule = |name: &str, title: &str| {
        json!({"name": name, "entity": "contact", "events": ["updated"], "changed_fields": ["title"],
               "actions": [{"type": "set_fields", "fields": {"title": title}}]})
    };
    // Its own write never triggers it again.
    let own = app.created("/api/v1/automation-rules", contact_rule("Normalise", "Buyer")).await;
    let c = app.contact("Cleo", "Moon", json!({})).await;
    app.patch(&format!("/api/v1/contacts/{}", s(&c["id"])), json!({"title": "buyer"})).await.expect(200);
    let r = settled(&app, s(&own["id"]), 1).await;
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(runs(&app, s(&own["id"])).await.len(), 1, "{r:?}");
    assert_eq!(app.get(&format!("/api/v1/contacts/{}", s(&c["id"]))).await.expect(200)["title"], "Buyer");
    app.patch(&format!("/api/v1/automation-rules/{}", s(&own["id"])), json!({"enabled": false})).await.expect(200);

    // Two rules that undo each other: the chain stops at the depth, with the reason logged.
    let ping = app.created("/api/v1/automation-rules", contact_rule("Ping", "ping")).await;
    let pong = app.created("/api/v1/automation-rules", contact_rule("Pong", "pong")).await;
    let d = app.contact("Dan", "Loop", json!({})).await;
    app.patch(&format!("/api/v1/contacts/{}", s(&d["id"])), json!({"title": "start"})).await.expect(200);
    let failed = until("a chain stopped at the depth", async || {
        let mut all = runs(&app, s(&ping["id"])).await;
        all.extend(runs(&app, s(&pong["id"])).await);
        all.into_iter().find(|x| x["status"] == "failed")
    })
    .await;
    assert!(s(&failed["error"]).contains("past the limit of 3"), "{failed}");
    assert_eq!(failed["depth"], 4);
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let total = runs(&app, s(&ping["id"])).await.len() + runs(&app, s(&pong["id"])).await.len();
    assert!(total <= 10, "{total} runs");

    // A rule whose runs keep failing is turned off, with the reason and an event.
    let bad = app
        .created(
            "/api/v1/automation-rules",
            json!({"name": "Bad email", "entity": "contact", "events": ["created"],
                   "actions": [{"type": "set_fields", "fields": {"email": "not an address"}}]}),
        )
        .await;
    let bad_id = s(&bad["id"]).to_string();
    app.contact("Eve", "One", json!({})).await;
    app.contact("Fay", "Two", json!({})).await;
    let r = settled(&app, &bad_id, 2).await;
    assert!(r.iter().all(|x| x["status"] == "failed"), "{r:?}");
    assert_eq!(r[0]["steps"][0]["status"], "failed");
    assert!(r[0]["steps"][0]["error"].as_str().unwrap().contains("email"), "{}", r[0]);
    let now = app.get(&format!("/api/v1/automation-rules/{bad_id}")).await.expect(200);
    assert_eq!(now["enabled"], false);
    assert!(s(&now["disabled_reason"]).contains("last 2 runs failed"), "{now}");
    let feed = app.get("/api/v1/changes?types=automation_rule.updated").await.expect(200);
    assert!(feed["data"].as_array().unwrap().iter().any(|e| e["entity_id"] == bad["id"] && e["actor"] == "system"));
    // Nothing of the failed runs was written.
    let eves = app.get("/api/v1/contacts?filter=last_name[eq]:One").await.expect(200);
    assert_eq!(eves["data"][0]["email"], Value::Null);
}

#[actix_web::test]
async fn a_dry_run_shows_what_the_real_run_does_and_writes_nothing() {
    let app = spawn_with(fast).await;
    let rule = app
        .created(
            "/api/v1/automation-rules",
            json!({"name": "Welcome VIPs", "entity": "contact", "trigger": "manual",
            "actions": [
                {"type": "branch", "filter": "tags[eq]:vip",
                 "then": [{"type": "add_note", "subject": "Welcome", "body": "Welcome {{first_name}}"}],
                 "otherwise": [{"type": "set_fields", "fields": {"tags": ["regular"]}}]},
                {"type": "set_fields", "fields": {"title": "Customer"}}
            ]}),
        )
        .await;
    let id = s(&rule["id"]).to_string();
    let vip = app.contact("Vera", "Vip", json!({"tags": ["vip"]})).await;
    let reg = app.contact("Rex", "Reg", json!({})).await;
    let head = app.get("/api/v1/changes?limit=1000").await.expect(200)["data"].as_array().unwrap().len();

    let selection = json!({"record_ids": [vip["id"], reg["id"]]});
    let dry = app.post(&format!("/api/v1/automation-rules/{id}/dry-run"), selection.clone()).await.expect(200);
    assert_eq!(dry["results"].as_array().unwrap().len(), 2);
    let plan = |r: &Value| -> Vec<(String, String, String)> {
        r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["step"].as_str().unwrap().to_string(),
                    s["action"].as_str().unwrap().to_string(),
                    s["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let dry_vip = dry["results"].as_array().unwrap().iter().find(|r| r["record_id"] == vip["id"]).unwrap().clone();
    assert_eq!(
        plan(&dry_vip),
        [
            ("1".into(), "branch".into(), "done".into()),
            ("1.then.1".into(), "add_note".into(), "done".into()),
            ("2".into(), "set_fields".into(), "done".into())
        ]
    );
    assert_eq!(dry_vip["steps"][0]["detail"], json!({"took": "then"}));
    // Nothing was written: no note, no title, no event.
    let notes = app.get(&format!("/api/v1/interactions?filter=contact_ids[eq]:{}", s(&vip["id"]))).await;
    assert_eq!(notes.expect(200)["data"].as_array().unwrap().len(), 0);
    assert_eq!(app.get(&format!("/api/v1/contacts/{}", s(&vip["id"]))).await.expect(200)["title"], Value::Null);
    assert_eq!(app.get("/api/v1/changes?limit=1000").await.expect(200)["data"].as_array().unwrap().len(), head);

    // The real run (manual) does what the dry run said, step for step.
    let queued = app.post(&format!("/api/v1/automation-rules/{id}/run"), selection).await.expect(202);
    assert_eq!(queued["queued"].as_array().unwrap().len(), 2);
    let r = settled(&app, &id, 2).await;
    for real in &r {
        assert_eq!(real["status"], "succeeded", "{real}");
        assert_eq!(real["trigger"], "manual");
        let dry_one = dry["results"].as_array().unwrap().iter().find(|d| d["record_id"] == real["record_id"]).unwrap();
        assert_eq!(plan(real), plan(dry_one));
        let changed = |r: &Value| {
            r["steps"].as_array().unwrap().iter().map(|s| s["detail"]["changed_fields"].clone()).collect::<Vec<_>>()
        };
        assert_eq!(changed(real), changed(dry_one));
    }
    let vip_now = app.get(&format!("/api/v1/contacts/{}", s(&vip["id"]))).await.expect(200);
    assert_eq!(vip_now["title"], "Customer");
    let reg_now = app.get(&format!("/api/v1/contacts/{}", s(&reg["id"]))).await.expect(200);
    assert_eq!((reg_now["title"].as_str(), &reg_now["tags"]), (Some("Customer"), &json!(["regular"])));
    let notes = app.get(&format!("/api/v1/interactions?filter=contact_ids[eq]:{}", s(&vip["id"]))).await.expect(200);
    assert_eq!(notes["data"][0]["body"], "Welcome Vera");

    // The same through GraphQL: the dry run, the rule's runs.
    let gql = app
        .gql(
            &app.admin,
            "mutation($id: ID!, $sel: AutomationSelection!) { dryRunAutomationRule(id: $id, selection: $sel) { results { recordId wouldRun steps { step action status } } } }",
            json!({"id": id, "sel": {"filter": "tags[eq]:vip"}}),
        )
        .await;
    let results = &gql["data"]["dryRunAutomationRule"]["results"];
    assert_eq!(results.as_array().unwrap().len(), 1, "{gql}");
    assert_eq!(results[0]["recordId"], vip["id"]);
    let listed = app
        .gql(
            &app.admin,
            "query($id: ID!) { automationRule(id: $id) { name runs { data { status trigger } } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(listed["data"]["automationRule"]["runs"]["data"].as_array().unwrap().len(), 2, "{listed}");
}

#[actix_web::test]
async fn bad_rules_are_refused_with_the_field_that_is_wrong() {
    let app = spawn_with(fast).await;
    let refused = |body: Value| {
        let app = &app;
        async move { app.post("/api/v1/automation-rules", body).await.expect(422) }
    };
    let base = json!({"name": "R", "entity": "contact", "events": ["created"]});
    let with = |extra: Value| {
        let mut b = base.clone();
        merge(&mut b, extra);
        b
    };
    let e = refused(with(json!({"entity": "galaxy", "actions": [{"type": "add_note", "body": "x"}]}))).await;
    assert_eq!(error_fields(&e), ["entity"]);
    let e = refused(with(json!({"actions": [{"type": "launch_rocket"}]}))).await;
    assert_eq!(error_fields(&e), ["actions[0]"]);
    let e = refused(with(json!({"actions": [{"type": "branch", "filter": "title[eq]:x",
        "then": [{"type": "wait", "duration": "1d"}]}]})))
    .await;
    assert_eq!(error_fields(&e), ["actions[0].then[0].type"]);
    let e = refused(with(json!({"actions": [{"type": "set_fields", "fields": {"no_such_field": 1}}]}))).await;
    assert_eq!(error_fields(&e), ["actions[0].fields"]);
    let e = refused(with(
        json!({"before_filter": "account.tier[eq]:gold", "actions": [{"type": "add_note", "body": "x"}]}),
    ))
    .await;
    assert_eq!(error_fields(&e), ["before_filter"]);
    let e = refused(with(json!({"actions": [{"type": "wait", "duration": "soon"}]}))).await;
    assert_eq!(error_fields(&e), ["actions[0].duration"]);
    // A rule never acts with a scope its enabler lacks.
    let limited = token(&app.keys, "ops", &[], &["automation:write", "automation:read", "contacts:read"]);
    let body = with(json!({"actions": [{"type": "set_fields", "fields": {"title": "x"}}]}));
    let r = app.call(awc::http::Method::POST, "/api/v1/automation-rules", Some(&limited), Some(body), &[]).await;
    let e = r.expect(422);
    assert_eq!(error_fields(&e), ["scopes"]);
    assert!(e.to_string().contains("contacts:write"), "{e}");
}

#[actix_web::test]
async fn waits_live_in_the_database_and_each_run_happens_once_across_instances() {
    // No engine in the app itself: the test drives it, as two processes would.
    let app = spawn_with(|s| s.automation_interval = Duration::ZERO).await;
    let settings = crm_automation::engine::Settings::default();
    let rule = app
        .created(
            "/api/v1/automation-rules",
            json!({"name": "Nurture", "entity": "contact", "events": ["created"],
                   "actions": [{"type": "add_note", "body": "day 0"}, {"type": "wait", "duration": "1s"},
                               {"type": "add_note", "body": "day 3"}]}),
        )
        .await;
    let id = s(&rule["id"]).to_string();
    let c = app.contact("Wes", "Wait", json!({})).await;
    crm_gateway::automation::round(&app.db, settings, "process-1").await.unwrap();
    let r = runs(&app, &id).await;
    assert_eq!(r[0]["status"], "waiting", "{r:?}");
    assert_eq!(r[0]["steps"][1]["status"], "waiting");
    // "process-1" is gone; another process resumes the run once it is due.
    crm_gateway::automation::round(&app.db, settings, "process-2").await.unwrap();
    assert_eq!(runs(&app, &id).await[0]["status"], "waiting", "not due yet");
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
    crm_gateway::automation::round(&app.db, settings, "process-2").await.unwrap();
    let r = runs(&app, &id).await;
    assert_eq!(r[0]["status"], "succeeded", "{r:?}");
    assert_eq!(r[0]["attempts"], 2);
    let notes = app.get(&format!("/api/v1/interactions?filter=contact_ids[eq]:{}&sort=created_at", s(&c["id"]))).await;
    let bodies: Vec<Value> = notes.expect(200)["data"].as_array().unwrap().iter().map(|n| n["body"].clone()).collect();
    assert_eq!(bodies, [json!("day 0"), json!("day 3")]);

    // A process that claimed a run and died: the lease runs out, another executes it once.
    let d = app.contact("Dee", "Dead", json!({})).await;
    let claimed = app
        .db
        .transaction(|c| -> Result<Vec<uuid::Uuid>, crm_records::RecordError> {
            crm_automation::engine::match_events(c, 1000, crm_automation::engine::Settings::default())?;
            crm_automation::engine::claim_due(c, "dead", crm_db::now(), chrono::Duration::milliseconds(300), 10)
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    crm_gateway::automation::round(&app.db, settings, "alive").await.unwrap();
    assert_eq!(runs(&app, &id).await.last().unwrap()["status"], "pending", "leased to the dead process");
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    crm_gateway::automation::round(&app.db, settings, "alive").await.unwrap();
    let notes = app.get(&format!("/api/v1/interactions?filter=contact_ids[eq]:{}", s(&d["id"]))).await.expect(200);
    assert_eq!(notes["data"].as_array().unwrap().len(), 1, "day 0 once; day 3 waits");

    // Two instances with their engines on one database: every run once.
    app.patch(&format!("/api/v1/automation-rules/{id}"), json!({"enabled": false})).await.expect(200);
    let once = app
        .created(
            "/api/v1/automation-rules",
            json!({"name": "Once", "entity": "account", "events": ["created"],
                   "actions": [{"type": "add_note", "subject": "hello {{name}}", "body": "hi"}]}),
        )
        .await;
    let a = spawn_on_with(&app.database_url, |s| s.automation_interval = Duration::from_millis(20)).await;
    let b = spawn_on_with(&app.database_url, |s| s.automation_interval = Duration::from_millis(20)).await;
    let n = 24;
    for i in 0..n {
        let via = if i % 2 == 0 { &a } else { &b };
        via.account(&format!("Acme {i}"), json!({})).await;
    }
    let r = settled(&app, s(&once["id"]), n).await;
    assert_eq!(r.len(), n);
    assert!(r.iter().all(|x| x["status"] == "succeeded" && x["attempts"] == 1), "{r:?}");
    let notes = app.all_ids("/api/v1/interactions?filter=subject[starts_with]:hello").await;
    assert_eq!(notes.len(), n, "one note per account");
}

/// Fires the clock rules as the engine would at `now` (the test's clock): the runs written.
async fn fire(app: &TestApp, now: chrono::NaiveDateTime) -> usize {
    app.db.transaction(move |c| crm_automation::engine::fire_due(c, now)).await.map(|f| f.runs).unwrap()
}

#[actix_web::test]
async fn schedules_and_relative_times_fire_once_on_the_clock_they_are_given() {
    use chrono::{Duration as D, NaiveTime, Utc};
    let app = spawn_with(|s| s.automation_interval = Duration::ZERO).await;
    let settings = crm_automation::engine::Settings::default();
    // Every day at 09:00 in Seoul (UTC+9 all year): midnight UTC.
    let daily = app
        .created(
            "/api/v1/automation-rules",
            json!({"name": "Daily VIP check", "entity": "contact", "trigger": "schedule",
                   "schedule": "0 9 * * *", "time_zone": "Asia/Seoul", "filter": "tags[eq]:vip",
                   "actions": [{"type": "add_note", "subject": "Daily check", "body": "Check on {{first_name}}"}]}),
        )
        .await;
    let vips = [
        app.contact("Vic", "One", json!({"tags": ["vip"]})).await,
        app.contact("Val", "Two", json!({"tags": ["vip"]})).await,
    ];
    app.contact("Reg", "Ular", json!({})).await;
    let midnight = (Utc::now().date_naive() + D::days(1)).and_time(NaiveTime::MIN);
    assert_eq!(fire(&app, midnight - D::minutes(1)).await, 0, "not 09:00 in Seoul yet");
    assert_eq!(fire(&app, midnight + D::minutes(1)).await, 2, "one run per VIP");
    assert_eq!(fire(&app, midnight + D::minutes(2)).await, 0, "once a day");
    // The engine was down for two days: the missed firings make one.
    assert_eq!(fire(&app, midnight + D::days(2) + D::minutes(5)).await, 2);
    crm_gateway::automation::round_at(&app.db, settings, "p", Some(midnight + D::days(2) + D::minutes(5)))
        .await
        .unwrap();
    let r = runs(&app, s(&daily["id"])).await;
    assert_eq!(r.len(), 4);
    assert!(
        r.iter().all(|x| x["trigger"] == "schedule" && x["caused_by"] == "clock" && x["status"] == "succeeded"),
        "{r:?}"
    );
    for v in &vips {
        let notes = app.get(&format!("/api/v1/interactions?filter=contact_ids[eq]:{}", s(&v["id"]))).await.expect(200);
        assert_eq!(notes["data"].as_array().unwrap().len(), 2);
    }

    app.patch(&format!("/api/v1/automation-rules/{}", s(&daily["id"])), json!({"enabled": false})).await.expect(200);
    assert_eq!(fire(&app, midnight + D::days(9)).await, 0, "a rule turned off does not fire");

    // An hour before an activity is due, on its own clock; and three days before a deal's
    // expected close date (a date: from its midnight UTC).
    let soon = app
        .created(
            "/api/v1/automation-rules",
            json!({"name": "Due soon", "entity": "activity", "trigger": "relative", "date_field": "due_at",
                   "offset": "-1h", "actions": [{"type": "set_fields", "fields": {"tags": ["due-soon"]}}]}),
        )
        .await;
    let closing = app
        .created(
            "/api/v1/automation-rules",
            json!({"name": "Prepare the close", "entity": "opportunity", "trigger": "relative",
                   "date_field": "expected_close_date", "offset": "-3d",
                   "actions": [{"type": "create_activity", "activity_type": "task", "subject": "Prepare {{name}}"}]}),
        )
        .await;
    let base = Utc::now().naive_utc();
    let iso = |t: chrono::NaiveDateTime| format!("{}Z", t.format("%Y-%m-%dT%H:%M:%S"));
    let a = app.activity("Call A", json!({"due_at": iso(base + D::hours(3))})).await;
    let b = app.activity("Call B", json!({"due_at": iso(base + D::hours(30))})).await;
    let acme = app.account("Acme", json!({})).await;
    let pipe = app.pipeline("New", json!({})).await;
    let close = base.date() + D::days(10);
    let deal = app.opportunity("Big deal", &acme, &pipe, json!({"expected_close_date": close.to_string()})).await;
    assert_eq!(fire(&app, base + D::hours(1)).await, 0);
    assert_eq!(fire(&app, base + D::hours(2) + D::minutes(1)).await, 1, "A is due within the hour");
    assert_eq!(fire(&app, base + D::hours(2) + D::minutes(2)).await, 0, "once");
    assert_eq!(fire(&app, base + D::hours(29) + D::minutes(1)).await, 1, "B");
    let three_days_before = (close - D::days(3)).and_time(NaiveTime::MIN);
    assert_eq!(fire(&app, three_days_before - D::minutes(1)).await, 0);
    assert_eq!(fire(&app, three_days_before + D::minutes(1)).await, 1, "the deal");
    crm_gateway::automation::round_at(&app.db, settings, "p", Some(three_days_before + D::minutes(1))).await.unwrap();
    let r = runs(&app, s(&soon["id"])).await;
    assert_eq!(r.iter().map(|x| x["record_id"].clone()).collect::<Vec<_>>(), [a["id"].clone(), b["id"].clone()]);
    assert_eq!(app.get(&format!("/api/v1/activities/{}", s(&a["id"]))).await.expect(200)["tags"], json!(["due-soon"]));
    let r = runs(&app, s(&closing["id"])).await;
    assert_eq!((r.len(), &r[0]["record_id"], &r[0]["status"]), (1, &deal["id"], &json!("succeeded")));
    let tasks = app.get(&format!("/api/v1/activities?filter=opportunity_id[eq]:{}", s(&deal["id"]))).await.expect(200);
    assert_eq!(tasks["data"][0]["subject"], "Prepare Big deal");

    // Clock fields belong to their trigger.
    let e = app
        .post(
            "/api/v1/automation-rules",
            json!({"name": "X", "entity": "contact", "trigger": "schedule",
            "schedule": "every day", "time_zone": "Mars/Base", "actions": [{"type": "add_note", "body": "x"}]}),
        )
        .await
        .expect(422);
    assert_eq!(error_fields(&e), ["schedule", "time_zone"]);
    let e = app
        .post(
            "/api/v1/automation-rules",
            json!({"name": "X", "entity": "contact", "trigger": "relative",
            "date_field": "first_name", "offset": "-3d", "actions": [{"type": "add_note", "body": "x"}]}),
        )
        .await
        .expect(422);
    assert_eq!(error_fields(&e), ["date_field"]);
}

/// The bodies of the interactions `filter` selects, oldest first.
async fn bodies(app: &TestApp, filter: &str) -> Vec<String> {
    let page = app.get(&format!("/api/v1/interactions?filter={filter}&sort=created_at")).await.expect(200);
    page["data"].as_array().unwrap().iter().map(|n| s(&n["body"]).to_string()).collect()
}

/// The fields a rule's 422 names, in order.
async fn refused_fields(app: &TestApp, rule: Value) -> Vec<String> {
    error_fields(&app.post("/api/v1/automation-rules", rule).await.expect(422))
}

/// One engine round as a process named `who` runs it.
async fn round(app: &TestApp, who: &str) {
    crm_gateway::automation::round(&app.db, crm_automation::engine::Settings::default(), who).await.unwrap();
}

#[actix_web::test]
async fn an_approval_pauses_the_run_until_its_approver_decides() {
    let app = spawn_with(|s| s.automation_interval = Duration::ZERO).await;
    let val = app.user("Val Approver", json!({"email": "val@example.com", "subject": "val-sub"})).await;
    app.user("Otto Other", json!({"email": "otto@example.com", "subject": "otto-sub"})).await;
    let val_token = token(&app.keys, "val-sub", &["sales"], &[]);
    let otto_token = token(&app.keys, "otto-sub", &["sales"], &[]);
    let rule = app
        .created(
            "/api/v1/automation-rules",
            json!({"name": "Escalate with approval", "entity": "case", "events": ["created"],
                   "actions": [
                       {"type": "add_note", "body": "asked"},
                       {"type": "request_approval", "approver": val["id"], "reason": "Escalate {{subject}}?"},
                       {"type": "set_fields", "fields": {"priority": "urgent"}},
                       {"type": "add_note", "body": "escalated"}]}),
        )
        .await;
    let id = s(&rule["id"]).to_string();
    let acme = app.account("Acme", json!({})).await;
    let on = json!({"account_id": acme["id"]});
    let (yes, no) = (app.case("Yes case", on.clone()).await, app.case("No case", on).await);
    round(&app, "p1").await;
    let r = runs(&app, &id).await;
    assert!(r.iter().all(|x| x["status"] == "awaiting_approval"), "{r:?}");
    assert_eq!(r[0]["steps"][1]["status"], "waiting");
    // Nothing goes on while nobody decides, whatever the engine does.
    round(&app, "p1").await;
    assert!(runs(&app, &id).await.iter().all(|x| x["status"] == "awaiting_approval"));

    // The approver sees the requests addressed to them; someone else sees none of them.
    let mine = app
        .call(awc::http::Method::GET, "/api/v1/automation-approvals?status=pending", Some(&val_token), None, &[])
        .await
        .expect(200);
    let mine = mine["data"].as_array().unwrap().clone();
    assert_eq!(mine.len(), 2, "{mine:?}");
    let req = |case: &Value| mine.iter().find(|a| a["record_id"] == case["id"]).unwrap().clone();
    let (yes_req, no_req) = (req(&yes), req(&no));
    assert_eq!(yes_req["reason"], "Escalate Yes case?");
    assert_eq!(yes_req["approver_id"], val["id"]);
    assert_eq!(yes_req["step"], "2");
    let theirs = app
        .call(awc::http::Method::GET, "/api/v1/automation-approvals", Some(&otto_token), None, &[])
        .await
        .expect(200);
    assert_eq!(theirs["data"], json!([]));
    let path = |a: &Value| format!("/api/v1/automation-approvals/{}/decision", s(&a["id"]));
    let approve = json!({"decision": "approve", "comment": "fine"});
    let denied =
        app.call(awc::http::Method::POST, &path(&yes_req), Some(&otto_token), Some(approve.clone()), &[]).await;
    assert_eq!(denied.status, 404, "{}", denied.body);

    // Approved: the run goes on from the next action.
    let decided =
        app.call(awc::http::Method::POST, &path(&yes_req), Some(&val_token), Some(approve.clone()), &[]).await;
    assert_eq!(decided.status, 200, "{}", decided.body);
    assert_eq!(
        (decided.body["status"].as_str(), decided.body["decided_by"].as_str()),
        (Some("approved"), Some("val-sub"))
    );
    let again = app.call(awc::http::Method::POST, &path(&yes_req), Some(&val_token), Some(approve), &[]).await;
    assert_eq!((again.status.as_u16(), s(&again.body["code"])), (409, "APPROVAL_DECIDED"));
    // Rejected (over GraphQL): the run stops there.
    let q = "mutation($id: UUID!) { decideAutomationApproval(id: $id, decision: {decision: REJECT, comment: \"too soon\"}) { status comment } }";
    let g = app.gql(&val_token, q, json!({"id": no_req["id"]})).await;
    assert_eq!(g["data"]["decideAutomationApproval"], json!({"status": "REJECTED", "comment": "too soon"}), "{g}");
    round(&app, "p2").await;
    let r = runs(&app, &id).await;
    let of = |case: &Value| r.iter().find(|x| x["record_id"] == case["id"]).unwrap().clone();
    let (ran, stopped) = (of(&yes), of(&no));
    assert_eq!(ran["status"], "succeeded", "{ran}");
    let log: Vec<(&str, &str)> =
        ran["steps"].as_array().unwrap().iter().map(|x| (s(&x["action"]), s(&x["status"]))).collect();
    assert_eq!(
        log,
        [
            ("add_note", "done"),
            ("request_approval", "waiting"),
            ("request_approval", "done"),
            ("set_fields", "done"),
            ("add_note", "done")
        ]
    );
    assert_eq!(stopped["status"], "stopped");
    assert_eq!(stopped["error"], "rejected by val-sub: too soon");
    assert_eq!(stopped["steps"][2]["status"], "rejected");
    let priority = |case: &Value| format!("/api/v1/cases/{}", s(&case["id"]));
    assert_eq!(app.get(&priority(&yes)).await.expect(200)["priority"], "urgent");
    assert_ne!(app.get(&priority(&no)).await.expect(200)["priority"], "urgent");
    let notes = |case: &Value| format!("case_id[eq]:{}", s(&case["id"]));
    assert_eq!(bodies(&app, &notes(&yes)).await, ["asked", "escalated"]);
    assert_eq!(bodies(&app, &notes(&no)).await, ["asked"]);

    // A request nobody decides expires, and its run stops.
    let brief = app
        .created(
            "/api/v1/automation-rules",
            json!({"name": "Brief approval", "entity": "account", "events": ["created"],
                   "actions": [{"type": "request_approval", "reason": "ok?", "expires_in": "1s"},
                               {"type": "add_note", "body": "never"}]}),
        )
        .await;
    app.patch(&format!("/api/v1/automation-rules/{id}"), json!({"enabled": false})).await.expect(200);
    let owned = app.account("Owned", json!({"owner_id": val["id"]})).await;
    round(&app, "p3").await;
    let r = runs(&app, s(&brief["id"])).await;
    assert_eq!(r[0]["status"], "awaiting_approval", "{r:?}");
    assert_eq!(r[0]["steps"][0]["detail"]["approver_id"], val["id"], "the owner approves by default");
    actix_web::rt::time::sleep(Duration::from_millis(1200)).await;
    round(&app, "p3").await;
    let r = runs(&app, s(&brief["id"])).await;
    assert_eq!(r[0]["status"], "stopped");
    assert!(s(&r[0]["error"]).contains("expired"), "{}", r[0]);
    let expired = app.get(&format!("/api/v1/automation-approvals?record_id={}", s(&owned["id"]))).await.expect(200);
    assert_eq!(expired["data"][0]["status"], "expired");

    // Refused when saved: an approval inside a branch, an approver who is not an id.
    let fields = refused_fields(
        &app,
        json!({"name": "Bad", "entity": "case", "events": ["created"],
                   "actions": [{"type": "branch", "filter": "priority[eq]:low",
                                "then": [{"type": "request_approval", "reason": "x", "approver": "boss"}]}]}),
    )
    .await;
    assert_eq!(fields, ["actions[0].then[0].type", "actions[0].then[0].approver"]);
}

#[actix_web::test]
async fn a_sequence_stops_when_the_person_replies_opts_out_or_buys() {
    let app = spawn_with(|s| s.automation_interval = Duration::ZERO).await;
    let rule = app
        .created(
            "/api/v1/automation-rules",
            json!({"name": "Nurture", "entity": "contact", "events": ["created"],
                   "stop_when": ["replied", "opted_out", "converted"],
                   "actions": [{"type": "add_note", "body": "day 0"}, {"type": "wait", "duration": "1s"},
                               {"type": "add_note", "body": "day 3"}, {"type": "wait", "duration": "1s"},
                               {"type": "add_note", "body": "day 7"}]}),
        )
        .await;
    assert_eq!(rule["stop_when"], json!(["converted", "opted_out", "replied"]));
    let id = s(&rule["id"]).to_string();
    let mail = |n: &str| json!({"email": format!("{n}@example.com")});
    let quiet = app.contact("Quinn", "Quiet", mail("quinn")).await;
    let replier = app.contact("Rae", "Replies", mail("rae")).await;
    let leaver = app.contact("Leo", "Leaves", mail("leo")).await;
    let buyer = app.contact("Bea", "Buys", mail("bea")).await;
    round(&app, "p").await;
    // Between day 0 and day 3: one replies, one opts out, one buys.
    app.interaction(&replier, json!({"type": "email", "direction": "inbound", "subject": "Re: hello"})).await;
    app.patch(&format!("/api/v1/contacts/{}", s(&leaver["id"])), json!({"email_consent": "opted_out"}))
        .await
        .expect(200);
    let acme = app.account("Acme", json!({})).await;
    let product = app.product("SEQ-1", json!({})).await;
    app.purchase(&acme, &product, json!({"contact_id": buyer["id"]})).await;
    for _ in 0..2 {
        actix_web::rt::time::sleep(Duration::from_millis(1100)).await;
        round(&app, "p").await;
    }
    let r = runs(&app, &id).await;
    let of = |c: &Value| r.iter().find(|x| x["record_id"] == c["id"]).unwrap().clone();
    assert_eq!(of(&quiet)["status"], "succeeded", "{r:?}");
    for (c, why) in [(&replier, "replied"), (&leaver, "opted out"), (&buyer, "converted")] {
        let run = of(c);
        assert_eq!(run["status"], "stopped", "{run}");
        assert_eq!(run["error"], format!("the sequence stopped: the contact {why}"));
    }
    let notes = |c: &Value| format!("contact_ids[eq]:{},type[eq]:note", s(&c["id"]));
    assert_eq!(bodies(&app, &notes(&quiet)).await, ["day 0", "day 3", "day 7"]);
    for c in [&replier, &leaver, &buyer] {
        assert_eq!(bodies(&app, &notes(c)).await, ["day 0"]);
    }

    // The runs are on the person's timeline.
    let t = app.get(&format!("/api/v1/contacts/{}/timeline?kinds=automation", s(&quiet["id"]))).await.expect(200);
    let items = t["data"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{t}");
    assert_eq!((s(&items[0]["kind"]), s(&items[0]["item"]["status"])), ("automation", "succeeded"));
    assert_eq!(items[0]["item"]["rule_id"], rule["id"]);
    let q = "query($id: ID!) { contact(id: $id) { timeline(kinds: [AUTOMATION]) { nodes { kind automation { status } } } } }";
    let g = app.gql(&app.admin, q, json!({"id": replier["id"]})).await;
    let nodes = &g["data"]["contact"]["timeline"]["nodes"];
    assert_eq!(nodes, &json!([{"kind": "AUTOMATION", "automation": {"status": "STOPPED"}}]), "{g}");

    // Only leads and contacts answer.
    let fields = refused_fields(
        &app,
        json!({"name": "Bad", "entity": "case", "events": ["created"], "stop_when": ["replied"],
                   "actions": [{"type": "add_note", "body": "x"}]}),
    )
    .await;
    assert_eq!(fields, ["stop_when"]);
}

#[actix_web::test]
async fn rules_add_contacts_to_campaigns_and_take_them_out() {
    let app = spawn_with(|s| s.automation_interval = Duration::ZERO).await;
    let campaign = app.campaign("Spring", json!({})).await;
    let cid = s(&campaign["id"]).to_string();
    let rule = app
        .created(
            "/api/v1/automation-rules",
            json!({"name": "Enrol VIPs", "entity": "contact", "events": ["created", "updated"],
                   "actions": [{"type": "branch", "filter": "tags[eq]:vip",
                                "then": [{"type": "add_to_campaign", "campaign_id": cid}],
                                "otherwise": [{"type": "remove_from_campaign", "campaign_id": cid}]}]}),
        )
        .await;
    assert_eq!(rule["scopes"], json!(["campaigns:read", "campaigns:write", "contacts:read"]));
    let vip = app.contact("Vi", "Pi", json!({"email": "vi@example.com", "tags": ["vip"]})).await;
    app.contact("No", "Body", json!({"email": "no@example.com"})).await;
    round(&app, "p").await;
    let members = async |app: &TestApp| -> Vec<String> {
        let page = app.get(&format!("/api/v1/campaigns/{cid}/members?limit=1000")).await.expect(200);
        page["data"].as_array().unwrap().iter().map(|m| s(&m["contact_id"]).to_string()).collect()
    };
    assert_eq!(members(&app).await, [s(&vip["id"]).to_string()], "{:?}", runs(&app, s(&rule["id"])).await);
    app.patch(&format!("/api/v1/contacts/{}", s(&vip["id"])), json!({"tags": []})).await.expect(200);
    round(&app, "p").await;
    assert!(members(&app).await.is_empty());
    let r = runs(&app, s(&rule["id"])).await;
    assert!(r.iter().all(|x| x["status"] == "succeeded"), "{r:?}");
    assert_eq!(r.last().unwrap()["steps"][1]["detail"]["removed"], true);

    // Only contacts are members; the campaign must exist.
    let fields = refused_fields(
        &app,
        json!({"name": "Bad", "entity": "account", "events": ["created"],
                   "actions": [{"type": "add_to_campaign", "campaign_id": uuid::Uuid::now_v7()}]}),
    )
    .await;
    assert_eq!(fields, ["actions[0].type", "actions[0].campaign_id"]);
}

#[actix_web::test]
async fn a_change_condition_compares_the_record_before_and_after_an_update() {
    let app = spawn_with(|s| s.automation_interval = Duration::ZERO).await;
    let rule = app
        .created(
            "/api/v1/automation-rules",
            json!({"name": "Revenue jumped", "entity": "account", "events": ["updated"],
                   "changed_fields": ["annual_revenue"],
                   "change_conditions": [{"field": "annual_revenue", "direction": "increased", "more_than_percent": 20}],
                   "actions": [{"type": "add_note", "body": "Revenue up: {{name}}"}]}),
        )
        .await;
    let eur = |minor: i64| json!({"annual_revenue": {"amount_minor": minor, "currency": "EUR"}});
    let (up, flat) = (app.account("Up", eur(100_000)).await, app.account("Flat", eur(100_000)).await);
    // +25% against +20% exactly (not more than 20%).
    app.patch(&format!("/api/v1/accounts/{}", s(&up["id"])), eur(125_000)).await.expect(200);
    app.patch(&format!("/api/v1/accounts/{}", s(&flat["id"])), eur(120_000)).await.expect(200);
    round(&app, "p").await;
    let r = runs(&app, s(&rule["id"])).await;
    let of = |a: &Value| r.iter().find(|x| x["record_id"] == a["id"]).unwrap().clone();
    let (ran, skipped) = (of(&up), of(&flat));
    assert_eq!(ran["status"], "succeeded", "{ran}");
    let expected =
        json!([{"condition": "change", "expression": "annual_revenue increased by more than 20%", "held": true}]);
    assert_eq!(ran["conditions"], expected);
    assert_eq!((skipped["status"].as_str(), &skipped["conditions"][0]["held"]), (Some("skipped"), &json!(false)));
    assert_eq!(bodies(&app, &format!("account_id[eq]:{}", s(&up["id"]))).await, ["Revenue up: Up"]);
    assert!(bodies(&app, &format!("account_id[eq]:{}", s(&flat["id"]))).await.is_empty());

    // Only numbers, and only updates.
    let fields = refused_fields(
        &app,
        json!({"name": "Bad", "entity": "account", "events": ["created"],
                   "change_conditions": [{"field": "name", "direction": "increased", "more_than": -1}],
                   "actions": [{"type": "add_note", "body": "x"}]}),
    )
    .await;
    assert_eq!(fields, ["change_conditions", "change_conditions[0].field", "change_conditions[0].more_than"]);
}
