//! Request identity, the access log and what logs must never hold, checked on the `crm` command
//! line itself: the CLI runs in a child process (this test binary again, running
//! `cli_for_another_test` only, which hands its arguments to `crm_gateway::cli::main_from`),
//! with stderr in a file, as a service manager would start it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::support::*;

/// The child side: run the `crm` command line given in `CRM_TEST_CLI` (a JSON array).
#[test]
fn cli_for_another_test() {
    let Ok(args) = std::env::var("CRM_TEST_CLI") else { return };
    let args: Vec<String> = serde_json::from_str(&args).expect("CRM_TEST_CLI is a JSON array");
    std::process::exit(if crm_gateway::cli::main_from(args) == std::process::ExitCode::SUCCESS { 0 } else { 1 });
}

pub(crate) struct Cli {
    child: Child,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Cli {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until stderr holds `needle` (the server is up), at most 60 s.
    fn wait_for(&self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "`{needle}` never came; stderr:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `crm <args>` in a child process with `env`, stdout piped, stderr to a file (not a terminal).
pub(crate) fn crm(args: &[&str], env: &[(&str, &str)]) -> Cli {
    let dir = tempfile::tempdir().unwrap();
    let stderr = dir.path().join("stderr.log");
    let mut all = vec!["crm".to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "observability::cli_for_another_test", "--nocapture", "--test-threads", "1"])
        .env("CRM_TEST_CLI", serde_json::to_string(&all).unwrap())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Cli { child: cmd.spawn().expect("the test binary starts again"), stderr, _dir: dir }
}

/// The child's stdout to its end (it exits).
pub(crate) fn stdout_of(mut cli: Cli) -> (String, String) {
    let mut out = String::new();
    for line in BufReader::new(cli.child.stdout.take().unwrap()).lines() {
        out.push_str(&line.unwrap());
        out.push('\n');
    }
    let status = cli.child.wait().unwrap();
    assert!(status.success(), "the command failed: {out}\n{}", cli.log());
    (out, cli.log())
}

fn server_env<'a>(database_url: &'a str, log_format: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("DATABASE_URL", database_url),
        ("CRM_JWT_SECRET", SECRET),
        ("CRM_JWT_ISSUER", ISSUER),
        ("CRM_JWT_AUDIENCE", AUDIENCE),
        ("CRM_LOG_FORMAT", log_format),
        ("CRM_REMINDER_INTERVAL", "0s"),
    ]
}

fn port_in(log: &str) -> String {
    let at = log.find("CRM API on http://127.0.0.1:").expect("the banner names the address") + 28;
    log[at..].chars().take_while(char::is_ascii_digit).collect()
}

/// What a client may send that is personal data; none of it may reach a log line.
const PERSONAL: [&str; 5] = ["hana.secret@example.com", "Zyxwvut", "+82 10 9876 5432", "Quuxington", "C-SECRET-77"];

/// Requests full of personal data, each failing or succeeding in its own way.
async fn personal_traffic(app: &TestApp) {
    let t = app.admin.clone();
    let person = json!({"first_name": "Zyxwvut", "last_name": "Quuxington", "email": "hana.secret@example.com",
        "phone": "+82 10 9876 5432", "external_ids": [{"source": "erp", "id": "C-SECRET-77"}]});
    let created = app.post("/api/v1/contacts", person.clone()).await.expect(201);
    // A duplicate (409), an invalid value (422), a filter and a path holding personal data.
    app.post("/api/v1/contacts", person.clone()).await.expect(409);
    let bad = json!({"first_name": "Zyxwvut", "email": "hana.secret@@example.com", "phone": "+82 10 9876 5432"});
    app.post("/api/v1/contacts", bad).await.expect(422);
    app.get(&format!("/api/v1/contacts?filter={}", enc("email[eq]:hana.secret@example.com"))).await.expect(200);
    app.get(&format!("/api/v1/contacts?filter={}", enc("email[zz]:hana.secret@example.com"))).await.expect(400);
    app.get("/api/v1/contacts/by-external-id/erp/C-SECRET-77").await.expect(200);
    app.get("/api/v1/contacts/hana.secret@example.com").await.expect(404);
    app.get("/api/v1/contacts/by-external-id/erp/Quuxington").await.expect(404);
    app.get("/api/v1/contacts?Zyxwvut=1").await.expect(400);
    let patch = json!({"last_name": "Quuxington", "email": "not-an-email Zyxwvut"});
    app.patch(&format!("/api/v1/contacts/{}", s(&created["id"])), patch).await.expect(422);
    let q = "mutation($i: ContactInput!) { createContact(input: $i) { id } }";
    let g = app.gql(&t, q, json!({"i": {"firstName": "Zyxwvut", "email": "hana.secret@example.com"}})).await;
    assert_eq!(g["errors"][0]["extensions"]["code"], "DUPLICATE_RECORD", "{g}");
    let g = app.gql(&t, "{ contacts(search: \"Quuxington\") { nodes { email } } }", json!({})).await;
    assert_eq!(g["data"]["contacts"]["nodes"][0]["email"], "hana.secret@example.com", "{g}");
    // A batch whose items fail, and an unauthenticated call with a forged token.
    let ops = json!({"operations": [{"op": "create", "data": {"first_name": "Zyxwvut", "email": "Quuxington"}}]});
    app.post("/api/v1/contacts/batch", ops).await.expect(200);
    let r = app.call(Method::GET, "/api/v1/contacts", Some("hana.secret@example.com"), None, &[]).await;
    assert_eq!(r.status, 401);
}

#[actix_web::test]
async fn json_logs_have_one_access_line_per_request_and_no_personal_data() {
    let db = crm_db::testing::TestDatabase::create().unwrap();
    let env = server_env(&db.url, "json");
    let mut env = env.clone();
    // Every level: no debug line may hold personal data either.
    env.push(("RUST_LOG", "debug"));
    let cli = crm(&["serve", "--bind", "127.0.0.1:0"], &env);
    let log = cli.wait_for("CRM API on http://");
    let app = spawn_on(&db.url).await.at(&format!("http://127.0.0.1:{}", port_in(&log)));
    personal_traffic(&app).await;
    let traced = app
        .call(
            Method::GET,
            "/api/v1/accounts",
            Some(&app.admin),
            None,
            &[
                ("X-Request-Id", "client-42"),
                ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ],
        )
        .await;
    assert_eq!(traced.status, 200);
    app.get("/healthz").await.expect(200);
    let log = cli.wait_for("\"route\":\"/healthz\"");

    let mut access = Vec::new();
    for line in log.lines() {
        assert!(!line.contains('\u{1b}'), "a colour code in a JSON log: {line}");
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        for p in PERSONAL {
            assert!(!line.contains(p), "personal data `{p}` in the log: {line}");
        }
        if v["target"] == "crm::access" {
            access.push(v);
        }
    }
    // The banner is a JSON line too.
    assert!(log.lines().any(|l| l.contains("\"rest_docs\":\"http://127.0.0.1:")), "{log}");
    // One access line per request, with the route template, never the path.
    assert_eq!(access.len(), 16, "{access:#?}");
    for a in &access {
        for k in ["method", "route", "status", "duration_ms", "request_id"] {
            assert!(!a[k].is_null(), "access line without {k}: {a}");
        }
        assert!(a["duration_ms"].as_f64().unwrap() >= 0.0);
    }
    let find = |route: &str, status: u16| {
        access
            .iter()
            .find(|a| a["route"] == route && a["status"] == status)
            .unwrap_or_else(|| panic!("{route} {status}: {access:#?}"))
    };
    let created = find("/api/v1/contacts", 201);
    assert_eq!((created["method"].as_str(), created["subject"].as_str()), (Some("POST"), Some("admin-user")));
    assert_eq!(find("/api/v1/contacts", 409)["code"], "DUPLICATE_RECORD");
    assert_eq!(find("/api/v1/contacts/{id}", 404)["code"], "NOT_FOUND");
    assert_eq!(find("/api/v1/contacts/by-external-id/{source}/{external_id}", 200)["method"], "GET");
    assert_eq!(find("/api/v1/contacts", 401)["subject"], "", "no subject without a valid token");
    let t = find("/api/v1/accounts", 200);
    assert_eq!(
        (t["request_id"].as_str(), t["trace_id"].as_str()),
        (Some("client-42"), Some("4bf92f3577b34da6a3ce929d0e0e4736"))
    );
    assert_eq!(access.iter().filter(|a| a["route"] == "/graphql").count(), 2);
}

#[actix_web::test]
async fn text_logs_have_no_colours_off_a_terminal_and_no_personal_data() {
    let db = crm_db::testing::TestDatabase::create().unwrap();
    let cli = crm(&["serve", "--bind", "127.0.0.1:0"], &server_env(&db.url, "text"));
    let log = cli.wait_for("CRM API on http://");
    let app = spawn_on(&db.url).await.at(&format!("http://127.0.0.1:{}", port_in(&log)));
    personal_traffic(&app).await;
    app.get("/healthz").await.expect(200);
    let log = cli.wait_for("GET /healthz 200");
    assert!(!log.contains('\u{1b}'), "colour codes written to a file:\n{log}");
    for p in PERSONAL {
        assert!(!log.contains(p), "personal data `{p}` in the log:\n{log}");
    }
    assert!(log.contains("REST docs:"), "the banner: {log}");
    assert!(log.contains("POST /api/v1/contacts 409"), "{log}");
}

#[actix_web::test]
async fn request_ids_and_trace_ids_reach_responses_events_history_and_errors() {
    let app = spawn().await;
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let tp = format!("00-{trace}-b7ad6b7169203331-01");
    let headers = [("X-Request-Id", "sync-run-7.item-3"), ("traceparent", tp.as_str())];
    let body = json!({"first_name": "Ada", "last_name": "Lovelace"});
    let r = app.call(Method::POST, "/api/v1/contacts", Some(&app.admin), Some(body), &headers).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("x-request-id").as_deref(), Some("sync-run-7.item-3"));
    let id = s(&r.body["id"]).to_string();
    let feed = app.get("/api/v1/changes?after=0").await.expect(200);
    let ev = &feed["data"][0];
    assert_eq!((ev["request_id"].as_str(), ev["trace_id"].as_str()), (Some("sync-run-7.item-3"), Some(trace)), "{ev}");
    let h = app.get(&format!("/api/v1/contacts/{id}/history")).await.expect(200);
    assert_eq!(
        (h["data"][0]["request_id"].as_str(), h["data"][0]["trace_id"].as_str()),
        (Some("sync-run-7.item-3"), Some(trace))
    );

    // Ids that could forge a log line, and invalid traceparents, are replaced or ignored.
    for (rid, tp) in [
        ("two words", "00-00000000000000000000000000000000-b7ad6b7169203331-01"),
        ("a\"b", "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"),
        (&"x".repeat(129)[..], "garbage"),
    ] {
        let headers = [("X-Request-Id", rid), ("traceparent", tp)];
        let body = json!({"first_name": "Bad", "last_name": "Ids"});
        let r = app.call(Method::POST, "/api/v1/contacts", Some(&app.admin), Some(body), &headers).await;
        assert_eq!(r.status, 201);
        let given = r.header("x-request-id").unwrap();
        assert!(uuid::Uuid::parse_str(&given).is_ok(), "{rid:?} was not replaced: {given}");
        let h = app.get(&format!("/api/v1/contacts/{}/history", s(&r.body["id"]))).await.expect(200);
        assert_eq!(
            (h["data"][0]["request_id"].as_str(), h["data"][0]["trace_id"].as_str()),
            (Some(given.as_str()), None)
        );
    }

    // Errors, batch item errors (REST and GraphQL) carry the request id.
    let headers = [("X-Request-Id", "req-err-1")];
    let r = app.call(Method::GET, "/api/v1/contacts?limit=0", Some(&app.admin), None, &headers).await;
    assert_eq!((r.status.as_u16(), r.body["request_id"].as_str()), (400, Some("req-err-1")));
    let ops = json!({"operations": [{"op": "create", "data": {"first_name": "X", "email": "bad"}}]});
    let r = app
        .call(Method::POST, "/api/v1/contacts/batch", Some(&app.admin), Some(ops), &[("X-Request-Id", "req-batch-1")])
        .await;
    assert_eq!(r.body["results"][0]["error"]["request_id"], "req-batch-1", "{}", r.body);
    let q = json!({"query": "mutation { batchContacts(operations: [{create: {firstName: \"X\", email: \"bad\"}}]) { status error { code requestId } } }"});
    let r = app.call(Method::POST, "/graphql", Some(&app.admin), Some(q), &[("X-Request-Id", "req-batch-2")]).await;
    let item = &r.body["data"]["batchContacts"][0];
    assert_eq!(
        (item["status"].as_i64(), item["error"]["requestId"].as_str()),
        (Some(422), Some("req-batch-2")),
        "{}",
        r.body
    );
}

#[test]
fn seed_shows_progress_off_a_terminal_and_help_shows_only_its_options() {
    let db = crm_db::testing::TestDatabase::create().unwrap();
    let env = [("DATABASE_URL", db.url.as_str())];
    let (out, err) = stdout_of(crm(&["seed", "--accounts", "4", "--contacts", "12", "--interactions", "30"], &env));
    assert!(out.contains("seeded 4 accounts and 12 contacts, 8 users, 12 products, 30 interactions"), "{out}");
    for phase in
        ["accounts: 4 done in", "staff and products: 20 done in", "interactions: 30 done in", "campaigns: 5 done in"]
    {
        assert!(err.contains(phase), "no `{phase}` line in:\n{err}");
    }
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "a terminal bar written to a file:\n{err}");
    // JSON lines with the JSON log format.
    let db2 = crm_db::testing::TestDatabase::create().unwrap();
    let env = [("DATABASE_URL", db2.url.as_str()), ("CRM_LOG_FORMAT", "json")];
    let (_, err) = stdout_of(crm(&["seed", "--accounts", "2", "--contacts", "2"], &env));
    let done: Vec<Value> = err.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("{l}"))).collect();
    assert_eq!(done[0]["phase"], "accounts");
    assert_eq!((done[0]["done"].as_u64(), done[0]["total"].as_u64()), (Some(2), Some(2)));

    let (help, _) = stdout_of(crm(&["seed", "--help"], &[]));
    for opt in ["--demo", "--accounts", "--contacts", "--interactions", "--database-url"] {
        assert!(help.contains(opt), "seed --help lacks {opt}:\n{help}");
    }
    for opt in ["--jwt-secret", "--cors-origins", "--bind", "--idempotency-ttl"] {
        assert!(!help.contains(opt), "seed --help shows {opt}:\n{help}");
    }
    let (help, _) = stdout_of(crm(&["serve", "--help"], &[]));
    for opt in ["--bind", "--jwt-secret", "--cors-origins", "--event-retention", "--log-format"] {
        assert!(help.contains(opt), "serve --help lacks {opt}:\n{help}");
    }
}

/// A sample's value in the OpenMetrics text (`name{labels} value`), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map(|v| v.parse().unwrap())
}

#[actix_web::test]
async fn metrics_count_answers_by_route_statements_limits_and_backlogs() {
    let app = spawn_with(|s| s.rate_limit = 1000).await;
    // Prometheus scrapes with an API key that can do nothing else.
    let key = app.post("/api/v1/api-keys", json!({"name": "prometheus", "scopes": ["metrics:read"]})).await.expect(201);
    let key = s(&key["key"]).to_string();
    let sales = app.token(&["sales"]);
    let r = app.call(Method::GET, "/metrics", Some(&sales), None, &[]).await;
    assert_eq!(r.status, 403);
    let contact = app.contact("Metered", "Person", json!({})).await;
    for _ in 0..3 {
        app.get("/api/v1/contacts").await.expect(200);
    }
    app.get(&format!("/api/v1/contacts/{}", s(&contact["id"]))).await.expect(200);
    let missing = app.get(&format!("/api/v1/contacts/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(missing.status, 404);
    // Made-up methods share one series.
    for m in ["BREW", "WHEN"] {
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        app.call(method, "/api/v1/contacts", Some(&app.admin), None, &[]).await;
    }
    let r = app.call(Method::GET, "/metrics", Some(&key), None, &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("application/openmetrics-text"));
    let text = r.body.as_str().unwrap().to_string();
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    // Counted by route template, not by path.
    let by = |route: &str, status: u16| {
        sample(&text, &format!("http_requests_total{{method=\"GET\",route=\"{route}\",status=\"{status}\"}}"))
    };
    assert_eq!(by("/api/v1/contacts", 200), Some(3.0), "{text}");
    assert!(!text.contains("BREW") && text.contains("method=\"OTHER\""), "{text}");
    assert_eq!(by("/api/v1/contacts/{id}", 200), Some(1.0));
    assert_eq!(by("/api/v1/contacts/{id}", 404), Some(1.0));
    assert_eq!(
        sample(&text, "http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/contacts\"}"),
        Some(3.0)
    );
    assert!(sample(&text, "db_statement_duration_seconds_count").unwrap() >= 5.0, "{text}");
    assert!(sample(&text, "db_pool_wait_seconds_count").unwrap() >= 5.0);
    assert!(sample(&text, "db_pool_connections{state=\"idle\"}").is_some());
    for queue in ["jobs_queued", "jobs_running", "webhook_deliveries", "campaign_messages"] {
        assert_eq!(sample(&text, &format!("backlog{{queue=\"{queue}\"}}")), Some(0.0), "{queue}");
    }
    // A refused request and a webhook's pending delivery show up at a later scrape.
    let slow = app
        .post("/api/v1/api-keys", json!({"name": "slow", "scopes": ["contacts:read"], "rate_limit_per_minute": 1}))
        .await
        .expect(201);
    let slow = s(&slow["key"]).to_string();
    app.call(Method::GET, "/api/v1/contacts", Some(&slow), None, &[]).await.expect(200);
    assert_eq!(app.call(Method::GET, "/api/v1/contacts", Some(&slow), None, &[]).await.status, 429);
    app.post("/api/v1/webhooks", json!({"url": "https://hooks.example.com/x", "event_types": ["contact.*"]}))
        .await
        .expect(201);
    app.contact("Pushed", "Person", json!({})).await;
    let started = Instant::now();
    loop {
        let text = app.call(Method::GET, "/metrics", Some(&key), None, &[]).await.body.as_str().unwrap().to_string();
        assert_eq!(sample(&text, "rate_limited_total{policy=\"caller\"}"), Some(1.0), "{text}");
        if sample(&text, "backlog{queue=\"webhook_deliveries\"}").unwrap() >= 1.0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no pending delivery counted: {text}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends SIGTERM to the child and waits (at most 30 s) for it to exit by itself.
fn terminate(cli: &mut Cli) -> std::process::ExitStatus {
    let pid = cli.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = Instant::now();
    loop {
        if let Some(status) = cli.child.try_wait().unwrap() {
            return status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "still running after SIGTERM:\n{}", cli.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[actix_web::test]
async fn sigterm_takes_readiness_off_first_finishes_what_is_in_flight_and_exits() {
    // Readiness goes off at once; the listener stays open for the drain delay.
    let db = crm_db::testing::TestDatabase::create().unwrap();
    let mut env = server_env(&db.url, "json");
    env.push(("CRM_DRAIN_DELAY", "1500ms"));
    let mut cli = crm(&["serve", "--bind", "127.0.0.1:0"], &env);
    let log = cli.wait_for("CRM API on http://");
    let local = spawn_on(&db.url).await;
    let app = local.at(&format!("http://127.0.0.1:{}", port_in(&log)));
    app.get("/readyz").await.expect(200);
    let pid = cli.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    cli.wait_for("stopping");
    let r = app.get("/readyz").await;
    assert_eq!((r.status.as_u16(), r.body["code"].as_str()), (503, Some("DRAINING")), "{}", r.body);
    app.get("/healthz").await.expect(200);
    app.get("/api/v1/contacts").await.expect(200);
    let status = terminate(&mut cli);
    assert!(status.success(), "{status:?}\n{}", cli.log());
    assert!(cli.log().contains("\"stopped\""), "{}", cli.log());

    // Without a delay, a request in flight still finishes, whole, before the process exits.
    let mut env = server_env(&db.url, "json");
    env.push(("CRM_DRAIN_DELAY", "0s"));
    let mut cli = crm(&["serve", "--bind", "127.0.0.1:0"], &env);
    let log = cli.wait_for("CRM API on http://");
    let app = local.at(&format!("http://127.0.0.1:{}", port_in(&log)));
    // The client's connection is open and kept alive, so the batch is at the server before the
    // signal comes (a connection still in the listener's queue is reset when it closes).
    app.get("/readyz").await.expect(200);
    let ops: Vec<Value> = (0..1000)
        .map(|i| json!({"op": "create", "data": {"last_name": format!("Drained{i}"), "city": "Seoul"}}))
        .collect();
    let batch = app.post("/api/v1/contacts/batch", json!({"operations": ops, "report_duplicates": true}));
    let stop = async {
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        let pid = cli.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    };
    let (done, ()) = futures_util::join!(batch, stop);
    assert_eq!(done.status, 200, "{}", done.body);
    let status = terminate(&mut cli);
    assert!(status.success(), "{status:?}\n{}", cli.log());
    assert!(cli.log().contains("finishing 1 connections"), "the batch was in flight at the signal:\n{}", cli.log());
    let count = local.get("/api/v1/contacts?count=true&limit=1&filter=city%5Beq%5D:Seoul").await.expect(200);
    assert_eq!(count["total"], 1000, "every contact of the batch in flight was written");
}
