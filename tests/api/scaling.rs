//! Several stateless instances on one database, each its own process: writes, idempotency keys
//! and the change feed stay correct. On PostgreSQL that is how the service scales out; on SQLite
//! it is two processes sharing one file (one machine), which must be just as correct.
//!
//! The second process is this test binary again, started to run `serve_for_another_test` only:
//! with `CRM_TEST_SERVE` set, that "test" serves the application on the database it names until
//! it is killed.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use actix_web::http::Method;
use serde_json::json;

use crate::support::*;

/// The child side: serve on `CRM_TEST_SERVE` (a database URL), print the port, run forever.
#[test]
fn serve_for_another_test() {
    let Ok(url) = std::env::var("CRM_TEST_SERVE") else { return };
    actix_web::rt::System::new().block_on(async move {
        let settings = crm_gateway::settings::Settings {
            bind: "127.0.0.1:0".into(),
            database_url: url,
            jwt: jwt_settings(),
            pool_size: Some(4),
            workers: Some(1),
            ..Default::default()
        };
        let app = crm_gateway::app::Application::build(settings).await.expect("the second instance starts");
        println!("PORT={}", app.port());
        app.run_until_stopped().await.expect("serves");
    });
}

/// Another process serving `database_url`, killed when dropped.
struct OtherProcess(Child);

impl Drop for OtherProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn other_process(database_url: &str) -> (OtherProcess, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "scaling::serve_for_another_test", "--nocapture", "--test-threads", "1"])
        .env("CRM_TEST_SERVE", database_url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the test binary starts again");
    let stdout = child.stdout.take().unwrap();
    let mut port = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        // libtest writes `test … ... ` before it on the same line.
        if let Some((_, p)) = line.split_once("PORT=") {
            port = Some(p.trim().to_string());
            break;
        }
    }
    let port = port.expect("the second process says its port");
    (OtherProcess(child), format!("http://127.0.0.1:{port}"))
}

#[actix_web::test]
async fn two_processes_share_one_database() {
    let a = spawn().await;
    let (_process, base) = other_process(&a.database_url);
    let b = a.at(&base);
    // Tokens signed with the shared secret work on both instances.
    let token = a.admin.clone();

    // Concurrent writes through both instances.
    let (x, y, z, w) =
        futures_util::join!(write(&a, &token, 0), write(&b, &token, 1), write(&a, &token, 2), write(&b, &token, 3));
    assert_eq!(x + y + z + w, 40);

    // One Idempotency-Key sent to both instances at once writes once.
    let body = json!({"name": "Shared Key Inc", "domain": "shared-key.example.com"});
    let key = [("Idempotency-Key", "two-instances")];
    let (r1, r2, r3, r4) = futures_util::join!(
        a.call(Method::POST, "/api/v1/accounts", Some(&token), Some(body.clone()), &key),
        b.call(Method::POST, "/api/v1/accounts", Some(&token), Some(body.clone()), &key),
        a.call(Method::POST, "/api/v1/accounts", Some(&token), Some(body.clone()), &key),
        b.call(Method::POST, "/api/v1/accounts", Some(&token), Some(body.clone()), &key),
    );
    let ids: HashSet<String> = [&r1, &r2, &r3, &r4]
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.body["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 1, "{} {} {} {}", r1.body, r2.body, r3.body, r4.body);
    for r in [&r1, &r2, &r3, &r4] {
        assert!(r.status == 201 || r.body["code"] == "IDEMPOTENCY_KEY_IN_USE", "{}", r.body);
    }
    let replay = b.call(Method::POST, "/api/v1/accounts", Some(&token), Some(body), &key).await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.header("idempotent-replayed").as_deref(), Some("true"));

    // The feed read through one instance has every write from both, in order, once.
    let feed = b.get("/api/v1/changes?after=0&limit=1000").await.expect(200);
    let seqs: Vec<i64> = feed["data"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=41).collect::<Vec<i64>>());
}

async fn write(app: &TestApp, token: &str, w: usize) -> usize {
    let mut ok = 0;
    for i in 0..10 {
        let body = json!({"first_name": format!("I{w}"), "last_name": format!("N{i}")});
        let r = app.call(Method::POST, "/api/v1/contacts", Some(token), Some(body), &[]).await;
        assert_eq!(r.status, 201, "writer {w}, write {i}: {}", r.body);
        ok += 1;
    }
    ok
}
