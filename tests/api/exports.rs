//! Bulk exports: lists streamed as CSV or NDJSON with the list grammar, large ones as jobs with
//! a file to download, every export logged; an exported file imports back.

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::support::*;

async fn raw_get(app: &TestApp, token: &str, path: &str) -> (u16, String, String) {
    let mut res = app
        .client
        .get(format!("{}{path}", app.base))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .expect("sent");
    let bytes = res.body().limit(256 << 20).await.expect("body");
    let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    (res.status().as_u16(), ct, String::from_utf8_lossy(&bytes).into_owned())
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[actix_web::test]
async fn small_lists_stream_with_the_list_grammar() {
    let app = spawn().await;
    let a = app
        .contact("Ada", "Lovelace", json!({"email": "ada@example.com", "tags": ["math", "vip"], "city": "London"}))
        .await;
    let b = app.contact("Grace", "Hopper", json!({"email": "grace@example.com", "city": "New York"})).await;
    let c = app.contact("Old", "Timer", json!({"email": "old@example.com", "city": "London"})).await;
    app.delete(&format!("/api/v1/contacts/{}", s(&c["id"]))).await.expect(204);

    let (status, ct, text) = raw_get(
        &app,
        &app.admin,
        "/api/v1/exports/stream?resource=contacts&fields=first_name,email,tags&sort=first_name",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert_eq!(
        csv_rows(&text),
        vec![
            vec!["id", "first_name", "email", "tags"].into_iter().map(String::from).collect::<Vec<_>>(),
            vec![s(&a["id"]), "Ada", "ada@example.com", "math;vip"].into_iter().map(String::from).collect(),
            vec![s(&b["id"]), "Grace", "grace@example.com", ""].into_iter().map(String::from).collect(),
        ]
    );

    // NDJSON, filtered, archived included: whole records with only the chosen fields.
    let (status, ct, text) = raw_get(
        &app,
        &app.admin,
        "/api/v1/exports/stream?resource=contacts&format=ndjson&filter=city[eq]:London&archived=true&fields=email,archived_at&sort=email",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(ct, "application/x-ndjson");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], json!({"id": a["id"], "email": "ada@example.com", "archived_at": null}));
    assert_eq!(lines[1]["email"], "old@example.com");
    assert!(lines[1]["archived_at"].is_string());

    // Nested fields by path in CSV; an empty list is a header.
    let (_, _, text) = raw_get(
        &app,
        &app.admin,
        "/api/v1/exports/stream?resource=contacts&fields=lifetime_value&filter=city[eq]:Paris",
    )
    .await;
    assert_eq!(text, "id,lifetime_value.amount_minor,lifetime_value.currency\n");

    // Bad requests, before anything streams.
    let bad = app.get("/api/v1/exports/stream?resource=contacts&fields=shoe_size").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(error_fields(&bad.body), vec!["fields"]);
    let bad = app.get("/api/v1/exports/stream?resource=widgets").await;
    assert_eq!(error_fields(&bad.body), vec!["resource"]);
    let bad = app.get("/api/v1/exports/stream?resource=contacts&filter=nope[eq]:1").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let accounts_only = token(&app.keys, "reader", &[], &["accounts:read"]);
    let (status, _, _) = raw_get(&app, &accounts_only, "/api/v1/exports/stream?resource=contacts").await;
    assert_eq!(status, 403);

    // The audit log: who exported what, and how many rows.
    let log = app.get("/api/v1/exports").await.expect(200);
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(log.iter().all(|e| e["direct"] == true && e["created_by"] == "admin-user"));
    let rows: Vec<i64> = log.iter().map(|e| e["rows"].as_i64().unwrap()).collect();
    assert_eq!(rows, vec![0, 2, 2]);
    assert_eq!(log[1]["filter"], "city[eq]:London");
}

#[actix_web::test]
async fn large_exports_run_as_jobs_and_import_back() {
    let app = spawn().await;
    let n = 2500;
    for part in 0..3 {
        let ops: Vec<Value> = (part * 1000..((part + 1) * 1000).min(n))
            .map(|i| json!({"op": "create", "data": {"first_name": "P", "last_name": format!("N{i:04}"), "email": format!("p{i:04}@example.com"), "tags": ["x", "y"]}}))
            .collect();
        app.post("/api/v1/contacts/batch", json!({"operations": ops})).await.expect(200);
    }
    let started = app.post("/api/v1/exports", json!({"resource": "contacts", "sort": "email"})).await;
    assert_eq!(started.header("location"), Some(format!("/api/v1/exports/{}", s(&started.body["id"]))));
    let id = s(&started.expect(202)["id"]).to_string();
    let t = std::time::Instant::now();
    let export = loop {
        let e = app.get(&format!("/api/v1/exports/{id}")).await.expect(200);
        if e["status"] == "succeeded" || e["status"] == "failed" {
            break e;
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(60), "{e}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(export["status"], "succeeded", "{export}");
    assert_eq!(export["rows"], n);
    assert_eq!(export["direct"], false);
    let url = s(&export["download_url"]).to_string();
    let (status, ct, text) = raw_get(&app, &app.admin, &url).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/csv"));
    assert_eq!(export["bytes"].as_i64().unwrap(), text.len() as i64);
    let rows = csv_rows(&text);
    assert_eq!(rows.len(), n as usize + 1);
    let header = &rows[0];
    assert_eq!(header[0], "id");
    let email = header.iter().position(|h| h == "email").unwrap();
    let tags = header.iter().position(|h| h == "tags").unwrap();
    let emails: Vec<&str> = rows[1..].iter().map(|r| r[email].as_str()).collect();
    let expected: Vec<String> = (0..n).map(|i| format!("p{i:04}@example.com")).collect();
    assert_eq!(emails, expected.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(rows[1..].iter().all(|r| r[tags] == "x;y"));

    // The file imports into another database, only the columns mapped.
    let other = spawn().await;
    let import = json!({"resource": "contacts", "mode": "create",
        "mapping": {"first_name": "first_name", "last_name": "last_name", "email": "email", "tags": "tags"}});
    let import = import.to_string();
    let parts: [(&str, &[u8]); 2] = [("import", import.as_bytes()), ("file", text.as_bytes())];
    let started = post_form(&other, &other.admin, "/api/v1/imports", &parts).await.expect(202);
    let t = std::time::Instant::now();
    let done = loop {
        let i = other.get(&format!("/api/v1/imports/{}", s(&started["id"]))).await.expect(200);
        if i["status"] != "queued" && i["status"] != "running" {
            break i;
        }
        assert!(t.elapsed() < std::time::Duration::from_secs(60), "{i}");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(done["counts"]["created"], n, "{done}");
    let one = other.get("/api/v1/contacts?filter=email[eq]:p0042@example.com").await.expect(200);
    assert_eq!(one["data"][0]["last_name"], "N0042");
    assert_eq!(one["data"][0]["tags"], json!(["x", "y"]));

    // Someone else cannot see the export.
    let other_user = token(&app.keys, "someone-else", &["sales"], &[]);
    let r = app.call(Method::GET, &format!("/api/v1/exports/{id}"), Some(&other_user), None, &[]).await;
    assert_eq!(r.status, 404);
}
