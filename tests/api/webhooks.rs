//! Webhooks end to end, against a real HTTP receiver started here: it checks nothing itself, it
//! records what arrives (and fails, answers 410 or goes away on purpose); the tests verify the
//! signatures with their own HMAC, count messages by `webhook-id`, and check the order per record.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use awc::http::Method;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::*;

#[derive(Clone, Debug)]
struct Received {
    path: String,
    id: String,
    timestamp: String,
    signature: String,
    raw: String,
    body: Value,
}

#[derive(Default)]
struct Inbox {
    received: Vec<Received>,
    /// Requests to answer 500 before answering normally.
    fail_next: usize,
    /// The status answered otherwise (200 unless set).
    status: Option<u16>,
    requests: usize,
}

struct Receiver {
    inbox: Arc<Mutex<Inbox>>,
    port: u16,
    server: Option<actix_web::dev::ServerHandle>,
}

async fn receive(req: HttpRequest, body: web::Bytes, inbox: web::Data<Arc<Mutex<Inbox>>>) -> HttpResponse {
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let mut inbox = inbox.lock().unwrap();
    inbox.requests += 1;
    if inbox.fail_next > 0 {
        inbox.fail_next -= 1;
        return HttpResponse::InternalServerError().body("try later");
    }
    let status = inbox.status.unwrap_or(200);
    if status == 200 {
        let raw = String::from_utf8_lossy(&body).into_owned();
        inbox.received.push(Received {
            path: req.path().to_string(),
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body: serde_json::from_str(&raw).unwrap_or(Value::Null),
            raw,
        });
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body(format!("answered {status}"))
}

impl Receiver {
    async fn start() -> Receiver {
        let mut r = Receiver { inbox: Arc::default(), port: 0, server: None };
        r.listen(0);
        r
    }

    fn listen(&mut self, port: u16) {
        let inbox = self.inbox.clone();
        let server = HttpServer::new(move || {
            App::new().app_data(web::Data::new(inbox.clone())).default_service(web::to(receive))
        })
        .workers(1)
        .bind(("127.0.0.1", port))
        .unwrap();
        self.port = server.addrs()[0].port();
        let server = server.run();
        self.server = Some(server.handle());
        actix_web::rt::spawn(server);
    }

    async fn stop(&mut self) {
        if let Some(h) = self.server.take() {
            h.stop(false).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn set(&self, f: impl FnOnce(&mut Inbox)) {
        f(&mut self.inbox.lock().unwrap());
    }

    fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().received.clone()
    }

    /// The messages received, once each (the first arrival of each `webhook-id`).
    fn unique(&self) -> Vec<Received> {
        let mut seen = std::collections::HashSet::new();
        self.received().into_iter().filter(|r| seen.insert(r.id.clone())).collect()
    }
}

/// Whether `signature` (a `webhook-signature` header) holds a valid signature of the message
/// under `secret`, computed here as the Standard Webhooks specification says.
fn signed_by(secret: &str, r: &Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.raw).as_bytes());
    let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
    r.signature.split(' ').any(|s| s == expected)
}

async fn spawn_webhooks() -> TestApp {
    spawn_with(webhook_settings).await
}

fn webhook_settings(s: &mut crm_gateway::Settings) {
    s.webhook_allow = vec!["127.0.0.1/32".parse().unwrap()];
    s.webhook_interval = Duration::from_millis(50);
    s.webhook_retry_scale = 0.001;
}

/// Waits (up to 20 s) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..400 {
        if done() {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

/// The seqs of a receiver's messages per record, in arrival order.
fn seqs_per_record(messages: &[Received]) -> std::collections::HashMap<String, Vec<i64>> {
    let mut per: std::collections::HashMap<String, Vec<i64>> = Default::default();
    for m in messages {
        per.entry(s(&m.body["data"]["entity_id"]).to_string())
            .or_default()
            .push(m.body["data"]["seq"].as_i64().unwrap());
    }
    per
}

fn assert_in_order(messages: &[Received]) {
    for (record, seqs) in seqs_per_record(messages) {
        let mut sorted = seqs.clone();
        sorted.sort();
        assert_eq!(seqs, sorted, "the events of {record} arrived out of order");
    }
}

#[actix_web::test]
async fn every_event_is_delivered_signed_and_in_order_despite_failures() {
    let rx = Receiver::start().await;
    rx.set(|i| i.fail_next = 3);
    let app = spawn_webhooks().await;
    let w = app.created("/api/v1/webhooks", json!({"url": rx.url("/hooks"), "event_types": ["contact.*"]})).await;
    let secret = s(&w["secret"]).to_string();
    assert!(secret.starts_with("whsec_"));
    let id = s(&w["id"]).to_string();
    let read = app.get(&format!("/api/v1/webhooks/{id}")).await.expect(200);
    assert!(read.get("secret").is_none(), "the secret is shown once");

    let a = app.contact("Ann", "Lee", json!({})).await;
    let a_path = format!("/api/v1/contacts/{}", s(&a["id"]));
    app.patch(&a_path, json!({"title": "T1"})).await.expect(200);
    app.patch(&a_path, json!({"title": "T2"})).await.expect(200);
    let b = app.contact("Bob", "Kim", json!({})).await;
    assert_eq!(app.delete(&format!("/api/v1/contacts/{}", s(&b["id"]))).await.status, 204);
    app.account("Not a contact", json!({})).await;

    until("five messages arrived", || rx.unique().len() >= 5).await;
    let got = rx.unique();
    let types: Vec<&str> = got.iter().map(|m| s(&m.body["type"])).collect();
    let mut sorted_types = types.clone();
    sorted_types.sort();
    assert_eq!(
        sorted_types,
        ["contact.archived", "contact.created", "contact.created", "contact.updated", "contact.updated"]
    );
    for m in rx.received() {
        assert!(signed_by(&secret, &m), "bad signature on {}", m.id);
        assert_eq!(m.path, "/hooks");
        assert_eq!(m.body["type"], m.body["data"]["type"]);
        assert!(m.body["data"]["after"].is_object());
    }
    assert_in_order(&rx.received());
    // The same events as the change feed, none missing.
    let feed = app.get("/api/v1/changes?types=contact").await.expect(200);
    let mut feed_seqs: Vec<i64> = feed["data"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    let mut got_seqs: Vec<i64> = got.iter().map(|m| m.body["data"]["seq"].as_i64().unwrap()).collect();
    feed_seqs.sort();
    got_seqs.sort();
    assert_eq!(got_seqs, feed_seqs);
    let updated = got.iter().find(|m| m.body["type"] == "contact.updated").unwrap();
    assert_eq!(updated.body["data"]["changed_fields"], json!(["title"]));
    assert_eq!(updated.body["data"]["before"]["title"], Value::Null);

    // The log: every delivery delivered; the three failures are attempts of their own.
    let log = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await.expect(200);
    assert_eq!(
        (log["delivered"].as_i64(), log["pending"].as_i64(), log["failed"].as_i64()),
        (Some(5), Some(0), Some(0))
    );
    let attempts: i64 = log["data"].as_array().unwrap().iter().map(|d| d["attempts"].as_i64().unwrap()).sum();
    assert_eq!(attempts, 5 + 3);
    let retried = log["data"].as_array().unwrap().iter().find(|d| d["attempts"].as_i64().unwrap() > 1).unwrap();
    let detail = app.get(&format!("/api/v1/webhooks/{id}/deliveries/{}", s(&retried["id"]))).await.expect(200);
    let first = &detail["attempts"][0];
    assert_eq!((first["status_code"].as_i64(), first["response_excerpt"].as_str()), (Some(500), Some("try later")));
    let last = detail["attempts"].as_array().unwrap().last().unwrap();
    assert_eq!(last["status_code"], 200);
    assert_eq!(detail["payload"]["data"]["id"], detail["delivery"]["event_id"]);
}

#[actix_web::test]
async fn a_receiver_that_goes_away_and_comes_back_loses_nothing() {
    let mut rx = Receiver::start().await;
    let app = spawn_webhooks().await;
    let w = app
        .created("/api/v1/webhooks", json!({"url": rx.url("/"), "event_types": ["contact.*", "account.created"]}))
        .await;
    let id = s(&w["id"]).to_string();
    let port = rx.port;
    rx.stop().await;
    let acme = app.account("Acme", json!({})).await;
    let c = app.contact("Cy", "Park", json!({"account_id": acme["id"]})).await;
    for t in ["A", "B", "C"] {
        app.patch(&format!("/api/v1/contacts/{}", s(&c["id"])), json!({"title": t})).await.expect(200);
    }
    // Attempts fail meanwhile, and say why.
    let app2 = &app;
    let path = format!("/api/v1/webhooks/{id}/deliveries?status=pending");
    for _ in 0..100 {
        let log = app2.get(&path).await.expect(200);
        if log["data"].as_array().unwrap().iter().any(|d| d["attempts"].as_i64().unwrap() >= 2) {
            let e = log["data"].as_array().unwrap().iter().find_map(|d| d["last_error"].as_str().map(String::from));
            assert!(e.is_some(), "{log}");
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    rx.listen(port);
    until("all five arrived", || rx.unique().len() >= 5).await;
    let got = rx.unique();
    assert_eq!(got.len(), 5);
    assert_in_order(&rx.received());
    let titles: Vec<Value> = got
        .iter()
        .filter(|m| m.body["type"] == "contact.updated")
        .map(|m| m.body["data"]["after"]["title"].clone())
        .collect();
    assert_eq!(titles, [json!("A"), json!("B"), json!("C")]);
}

#[actix_web::test]
async fn types_filters_and_fields_choose_the_events() {
    let rx = Receiver::start().await;
    let app = spawn_webhooks().await;
    app.created(
        "/api/v1/webhooks",
        json!({"url": rx.url("/customers"), "event_types": ["contact.updated"],
               "filter": "lifecycle_stage[eq]:customer", "fields": ["title"]}),
    )
    .await;
    app.created("/api/v1/webhooks", json!({"url": rx.url("/archived"), "event_types": ["*.archived"]})).await;
    // Where the record is, in the same grammar: new contacts within 10 km of Seoul City Hall.
    app.created(
        "/api/v1/webhooks",
        json!({"url": rx.url("/seoul"), "event_types": ["contact.created"],
               "filter": "location[near]:[37.5665,126.978,10km]"}),
    )
    .await;
    let c1 =
        app.contact("Ann", "Lee", json!({"lifecycle_stage": "customer", "latitude": 37.57, "longitude": 126.98})).await;
    let c2 =
        app.contact("Bob", "Kim", json!({"lifecycle_stage": "lead", "latitude": 35.18, "longitude": 129.08})).await;
    let p1 = format!("/api/v1/contacts/{}", s(&c1["id"]));
    app.patch(&p1, json!({"title": "CEO"})).await.expect(200);
    app.patch(&p1, json!({"department": "Sales"})).await.expect(200);
    app.patch(&format!("/api/v1/contacts/{}", s(&c2["id"])), json!({"title": "CTO"})).await.expect(200);
    let acc = app.account("Gone Co", json!({})).await;
    assert_eq!(app.delete(&format!("/api/v1/accounts/{}", s(&acc["id"]))).await.status, 204);
    until("three messages arrived", || rx.unique().len() >= 3).await;
    // Give a wrong match time to show up.
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    let got: Vec<(String, String)> =
        rx.unique().iter().map(|m| (m.path.clone(), s(&m.body["type"]).to_string())).collect();
    let mut got = got;
    got.sort();
    assert_eq!(
        got,
        [
            ("/archived".to_string(), "account.archived".to_string()),
            ("/customers".into(), "contact.updated".into()),
            ("/seoul".into(), "contact.created".into())
        ]
    );
    let seoul = rx.unique().into_iter().find(|m| m.path == "/seoul").unwrap();
    assert_eq!(seoul.body["data"]["entity_id"], c1["id"], "Bob, in Busan, is 325 km away");
    let customer = rx.unique().into_iter().find(|m| m.path == "/customers").unwrap();
    assert_eq!(customer.body["data"]["entity_id"], c1["id"]);
    assert_eq!(customer.body["data"]["after"]["title"], "CEO");
}

#[actix_web::test]
async fn redelivery_rotation_and_ping() {
    let rx = Receiver::start().await;
    let app = spawn_webhooks().await;
    let w = app.created("/api/v1/webhooks", json!({"url": rx.url("/"), "event_types": ["contact.created"]})).await;
    let (id, old) = (s(&w["id"]).to_string(), s(&w["secret"]).to_string());

    // A ping: signed, answered at once, not a delivery.
    let ping = app.post(&format!("/api/v1/webhooks/{id}/ping"), json!({})).await.expect(200);
    assert_eq!(ping["status"], 200, "{ping}");
    assert_eq!(ping["excerpt"], "answered 200");
    let p = rx.received().pop().unwrap();
    assert_eq!(p.body["type"], "webhook.ping");
    assert!(signed_by(&old, &p));

    app.contact("Ann", "Lee", json!({})).await;
    until("the message arrived", || rx.unique().len() >= 2).await;
    let log = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await.expect(200);
    assert_eq!(log["data"].as_array().unwrap().len(), 1, "the ping is not logged");
    let delivery = s(&log["data"][0]["id"]).to_string();
    // Sent again on request, with the same message id.
    let r = app.post(&format!("/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver"), json!({})).await.expect(200);
    assert_eq!(r["status"], "pending");
    until("it arrived again", || rx.received().iter().filter(|m| m.id == delivery).count() == 2).await;

    // A new secret, shown once; messages carry both signatures during the overlap.
    let rotated =
        app.post(&format!("/api/v1/webhooks/{id}/rotate-secret"), json!({"overlap_hours": 1})).await.expect(200);
    let new = s(&rotated["secret"]).to_string();
    assert_ne!(new, old);
    assert!(rotated["secret_rotated_at"].is_string());
    app.contact("Bob", "Kim", json!({})).await;
    until("the next message arrived", || rx.unique().len() >= 3).await;
    let m = rx.unique().pop().unwrap();
    assert_eq!(m.signature.split(' ').count(), 2);
    assert!(signed_by(&new, &m) && signed_by(&old, &m));
    // Without an overlap, only the new one signs.
    let again =
        app.post(&format!("/api/v1/webhooks/{id}/rotate-secret"), json!({"overlap_hours": 0})).await.expect(200);
    let newest = s(&again["secret"]).to_string();
    app.contact("Cy", "Park", json!({})).await;
    until("one more arrived", || rx.unique().len() >= 4).await;
    let m = rx.unique().pop().unwrap();
    assert!(signed_by(&newest, &m) && !signed_by(&new, &m));
    // Everything after a seq, again.
    let seq = log["data"][0]["event_seq"].as_i64().unwrap();
    let r = app.post(&format!("/api/v1/webhooks/{id}/redeliver"), json!({"after": seq - 1})).await.expect(200);
    assert_eq!(r["redelivered"], 3);
    let before = rx.received().len();
    until("three more arrived", || rx.received().len() >= before + 3).await;

    // The secrets never reach the feed or the history.
    let feed = app.get("/api/v1/changes?types=webhook").await.expect(200);
    assert!(!feed.to_string().contains("whsec_"), "{feed}");
    let history = app.get(&format!("/api/v1/webhooks/{id}/history")).await.expect(200);
    assert!(!history.to_string().contains("whsec_"));
    assert_eq!(history["data"][0]["changes"][0]["field"], "secret_rotated_at");
}

#[actix_web::test]
async fn failing_subscriptions_are_turned_off_and_resume_when_turned_on() {
    let rx = Receiver::start().await;
    rx.set(|i| i.status = Some(503));
    let app = spawn_with(|s| {
        webhook_settings(s);
        s.webhook_disable_after = Duration::from_millis(300);
    })
    .await;
    let w = app.created("/api/v1/webhooks", json!({"url": rx.url("/"), "event_types": ["contact.created"]})).await;
    let path = format!("/api/v1/webhooks/{}", s(&w["id"]));
    let c = app.contact("Ann", "Lee", json!({})).await;
    let mut off = Value::Null;
    for _ in 0..200 {
        off = app.get(&path).await.expect(200);
        if off["enabled"] == false {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(off["enabled"], false, "{off}");
    assert!(s(&off["disabled_reason"]).contains("HTTP 503"), "{off}");
    let feed = app.get("/api/v1/changes?types=webhook.updated").await.expect(200);
    assert_eq!(feed["data"][0]["changed_fields"], json!(["disabled_reason", "enabled"]));
    // Its deliveries wait; turned on again (the receiver fixed), they go.
    let log = app.get(&format!("{path}/deliveries")).await.expect(200);
    assert_eq!(log["pending"], 1);
    rx.set(|i| i.status = None);
    let on = app.patch(&path, json!({"enabled": true})).await.expect(200);
    assert_eq!(on["disabled_reason"], Value::Null);
    until("the waiting message arrived", || rx.unique().len() == 1).await;
    assert_eq!(rx.unique()[0].body["data"]["entity_id"], c["id"]);
    // 410 Gone turns it off at once.
    rx.set(|i| i.status = Some(410));
    app.contact("Bob", "Kim", json!({})).await;
    let mut gone = Value::Null;
    for _ in 0..200 {
        gone = app.get(&path).await.expect(200);
        if gone["enabled"] == false {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(gone["disabled_reason"], "the receiver answered 410 Gone");
}

#[actix_web::test]
async fn subscriptions_are_checked_and_guarded() {
    let app = spawn().await;
    let bad = |body: Value| {
        let app = &app;
        async move {
            let r = app.post("/api/v1/webhooks", body).await;
            assert_eq!(r.status, 422, "{}", r.body);
            r.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| format!("{}:{}", s(&e["field"]), s(&e["code"])))
                .collect::<Vec<_>>()
        }
    };
    let types = json!(["contact.*"]);
    assert_eq!(
        bad(json!({"url": "http://169.254.169.254/latest", "event_types": types})).await,
        ["url:forbidden_address"]
    );
    assert_eq!(bad(json!({"url": "http://10.0.0.7/hook", "event_types": types})).await, ["url:forbidden_address"]);
    assert_eq!(bad(json!({"url": "http://127.0.0.1:9/hook", "event_types": types})).await, ["url:forbidden_address"]);
    assert_eq!(bad(json!({"url": "ftp://hooks.example.com/", "event_types": types})).await, ["url:invalid_url"]);
    assert_eq!(
        bad(
            json!({"url": "https://hooks.example.com/", "event_types": ["contact.*", "gizmo.created", "account.eaten"]})
        )
        .await,
        ["event_types[1]:invalid_value", "event_types[2]:invalid_value"]
    );
    assert_eq!(
        bad(json!({"url": "https://hooks.example.com/", "event_types": ["contact.*", "account.*"], "filter": "city[eq]:Seoul"}))
            .await,
        ["filter:not_applicable"]
    );
    assert_eq!(
        bad(json!({"url": "https://hooks.example.com/", "event_types": ["contact.*"], "filter": "shoe[eq]:1"})).await,
        ["filter:unknown_field"]
    );
    assert_eq!(bad(json!({"url": "https://hooks.example.com/", "event_types": []})).await, ["event_types:required"]);
    let ok = app
        .created("/api/v1/webhooks", json!({"url": "https://hooks.example.com/crm", "event_types": ["contact.*"], "filter": "account.tier[eq]:gold"}))
        .await;
    assert_eq!(ok["enabled"], true);
    // Admins only.
    let sales = app.token(&["sales"]);
    let r = app
        .call(
            Method::POST,
            "/api/v1/webhooks",
            Some(&sales),
            Some(json!({"url": "https://x.example.com/", "event_types": types})),
            &[],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app.call(Method::GET, "/api/v1/webhooks", Some(&sales), None, &[]).await;
    assert_eq!(r.status, 403);
}

#[actix_web::test]
async fn two_instances_send_each_message_once() {
    let rx = Receiver::start().await;
    let app = spawn_webhooks().await;
    let other = spawn_on_with(&app.database_url, webhook_settings).await;
    app.created("/api/v1/webhooks", json!({"url": rx.url("/"), "event_types": ["contact.created"]})).await;
    let ops: Vec<Value> = (0..60).map(|i| json!({"op": "create", "data": {"last_name": format!("P{i}")}})).collect();
    app.post("/api/v1/contacts/batch", json!({"operations": ops})).await.expect(200);
    until("sixty messages arrived", || rx.unique().len() >= 60).await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.received().len(), 60, "each message once: two instances never sent the same one");
    let _ = other;
}

#[actix_web::test]
async fn an_automation_rule_calls_a_webhook_signed_and_logged_like_any_delivery() {
    let rx = Receiver::start().await;
    rx.set(|i| i.fail_next = 1);
    let app = spawn_with(|s| {
        webhook_settings(s);
        s.automation_interval = Duration::from_millis(40);
    })
    .await;
    let w =
        app.created("/api/v1/webhooks", json!({"url": rx.url("/erp"), "event_types": ["automation.webhook"]})).await;
    let secret = s(&w["secret"]).to_string();
    let rule = app
        .created(
            "/api/v1/automation-rules",
            json!({"name": "Tell the ERP about gold accounts", "entity": "account", "events": ["updated"],
                   "changed_fields": ["tier"], "filter": "tier[eq]:gold",
                   "actions": [{"type": "call_webhook", "webhook_id": w["id"]}]}),
        )
        .await;
    assert_eq!(rule["scopes"], json!(["accounts:read", "webhooks:write"]));
    let acme = app.account("Acme", json!({"tier": "silver"})).await;
    app.patch(&format!("/api/v1/accounts/{}", s(&acme["id"])), json!({"tier": "gold"})).await.expect(200);
    until("the call arrived", || !rx.received().is_empty()).await;
    let got = rx.received();
    assert_eq!(got.len(), 1, "one message, after one failed attempt");
    let m = &got[0];
    assert!(signed_by(&secret, m));
    assert_eq!(m.path, "/erp");
    assert_eq!(m.body["type"], "automation.webhook");
    assert_eq!(m.body["data"]["rule_id"], rule["id"]);
    assert_eq!((m.body["data"]["entity"].as_str(), &m.body["data"]["record_id"]), (Some("account"), &acme["id"]));
    assert_eq!(m.body["data"]["record"]["tier"], "gold");
    // The run says which delivery it made; the subscription's log holds it, with its retry.
    let run = app.get(&format!("/api/v1/automation-runs?rule_id={}", s(&rule["id"]))).await.expect(200);
    let step = &run["data"][0]["steps"][0];
    assert_eq!(step["status"], "done");
    assert_eq!(m.body["data"]["run_id"], run["data"][0]["id"]);
    let delivery = s(&step["detail"]["delivery_id"]).to_string();
    assert_eq!(m.id, delivery);
    let path = format!("/api/v1/webhooks/{}/deliveries/{delivery}", s(&w["id"]));
    let mut log = app.get(&path).await.expect(200);
    for _ in 0..100 {
        if log["delivery"]["status"] == "delivered" {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        log = app.get(&path).await.expect(200);
    }
    assert_eq!(log["delivery"]["event_type"], "automation.webhook");
    assert_eq!(log["delivery"]["status"], "delivered", "{log}");
    let codes: Vec<i64> =
        log["attempts"].as_array().unwrap().iter().map(|a| a["status_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, [500, 200]);

    // A subscription that does not exist is refused when the rule is saved.
    let bad = app
        .post(
            "/api/v1/automation-rules",
            json!({"name": "Bad", "entity": "account", "events": ["created"],
                   "actions": [{"type": "call_webhook", "webhook_id": uuid::Uuid::now_v7()}]}),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["errors"][0]["field"], "actions[0].webhook_id");
}
