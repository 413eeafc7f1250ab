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
pub struct OtherProcess(pub Child);

impl Drop for OtherProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn other_process(database_url: &str) -> (OtherProcess, String) {
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

/// `kill -9` of an instance in the middle of an atomic batch: the batch is all there or not at
/// all, the other instance goes on serving, and the database is intact.
#[actix_web::test]
async fn killing_an_instance_during_an_atomic_batch_leaves_nothing_half_written() {
    let a = spawn().await;
    let (process, base) = other_process(&a.database_url);
    let b = a.at(&base);
    let ops: Vec<_> = (0..1000)
        .map(|i| json!({"op": "create", "data": {"first_name": format!("K{i}"), "last_name": "Killed"}}))
        .collect();
    let batch = json!({"atomic": true, "operations": ops});
    let token = b.admin.clone();
    let sent = b.client.post(format!("{base}/api/v1/contacts/batch")).bearer_auth(token).send_json(&batch);
    let killed = async {
        // Long enough for the batch to be inside its transaction, well before it ends.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
        drop(process);
    };
    let (answer, ()) = futures_util::join!(sent, killed);
    let written = a.all_ids("/api/v1/contacts?filter=last_name[eq]:Killed&limit=1000").await.len();
    eprintln!(
        "killed during an atomic batch: {written} of 1000 written, answer {:?}",
        answer.as_ref().map(|r| r.status())
    );
    assert!(
        written == 0 || written == 1000,
        "half a batch was written: {written} (answer: {:?})",
        answer.map(|r| r.status())
    );
    // The survivor reads and writes, and the database checks out.
    a.contact("After", "Kill", json!({})).await;
    if a.database_url.starts_with("postgres") {
        return;
    }
    let check =
        a.db.run(|c| -> Result<Vec<String>, crm_db::DbError> {
            #[derive(diesel::QueryableByName)]
            struct Row {
                #[diesel(sql_type = diesel::sql_types::Text)]
                integrity_check: String,
            }
            use diesel::RunQueryDsl;
            match c {
                crm_db::AnyConnection::Sqlite(c) => Ok(diesel::sql_query("PRAGMA integrity_check")
                    .load::<Row>(c)
                    .map_err(crm_db::DbError::from)?
                    .into_iter()
                    .map(|r| r.integrity_check)
                    .collect()),
                _ => Ok(Vec::new()),
            }
        })
        .await
        .unwrap();
    assert_eq!(check, ["ok"]);
}

/// PostgreSQL's connections cut under the pool (a failover, a restart, an idle timeout): the
/// answers meanwhile are 503 with `Retry-After` (never another 5xx), and the service recovers
/// without a restart.
#[actix_web::test]
async fn a_cut_database_connection_is_503_and_recovers() {
    let app = spawn().await;
    if !app.database_url.starts_with("postgres") {
        eprintln!("SKIPPED a_cut_database_connection_is_503_and_recovers: PostgreSQL only");
        return;
    }
    app.contact("Before", "Cut", json!({})).await;
    let dbname = app.database_url.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();
    let admin_url = app.database_url.replace(&format!("/{dbname}"), "/postgres");
    let cut = actix_web::rt::task::spawn_blocking(move || {
        use diesel::{Connection, RunQueryDsl};
        let mut c = diesel::PgConnection::establish(&admin_url).unwrap();
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{dbname}' AND pid <> pg_backend_pid()"
        ))
        .execute(&mut c)
        .unwrap()
    })
    .await
    .unwrap();
    assert!(cut > 0, "no connection was cut");
    let mut recovered = false;
    for _ in 0..50 {
        let r = app.get("/api/v1/contacts").await;
        match r.status.as_u16() {
            200 => {
                recovered = true;
                break;
            }
            503 => assert!(r.header("retry-after").is_some(), "{}", r.body),
            other => panic!("{other}: {}", r.body),
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "still failing 5 s after the cut");
    app.contact("After", "Cut", json!({})).await;
}
