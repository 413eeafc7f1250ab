//! The published contracts used the way frontends use them, with the tools in `tests/js`:
//! GraphiQL in a real browser (Debian's headless chromium, driven by playwright-core), and a
//! TypeScript client generated from `openapi/openapi.json` by openapi-typescript, type-checked
//! by `tsc` and run against the server. Without chromium, node or `tests/js/node_modules` the
//! tests say they were skipped; CI sets `CRM_REQUIRE_JS=1`, which makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::support::*;

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/js")
}

/// Why a test needing node (and `browser`: chromium) cannot run here, if it cannot.
fn missing(browser: bool) -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if browser && !Path::new(&chromium).exists() {
        return Some(format!("no chromium at {chromium} (apt-get install chromium)"));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no node on PATH".into());
    }
    if !js_dir().join("node_modules/playwright-core").exists() {
        return Some("tests/js has no node_modules (run `npm ci` in tests/js)".into());
    }
    None
}

#[actix_web::test]
async fn graphiql_runs_an_authenticated_query_in_headless_chromium() {
    if skipped("graphiql_runs_an_authenticated_query_in_headless_chromium", true) {
        return;
    }
    let app = spawn().await;
    app.account("Browser Co", json!({"tier": "gold"})).await;
    let (base, token) = (app.base.clone(), app.admin.clone());
    let stdout = run(&["120", "node", "graphiql.mjs", &base, &token, "Browser Co"]).await;
    assert!(stdout.contains("\"Browser Co\""), "{stdout}");
}

#[actix_web::test]
async fn swagger_ui_shows_the_operations_under_the_content_security_policy_in_headless_chromium() {
    if skipped("swagger_ui_shows_the_operations_under_the_content_security_policy_in_headless_chromium", true) {
        return;
    }
    let app = spawn().await;
    let stdout = run(&["120", "node", "swagger.mjs", &app.base]).await;
    assert!(stdout.starts_with("ok: Swagger UI shows"), "{stdout}");
}

/// Says why a test is skipped, or fails when CI requires it to run.
fn skipped(test: &str, browser: bool) -> bool {
    let Some(why) = missing(browser) else { return false };
    assert!(std::env::var("CRM_REQUIRE_JS").is_err(), "CRM_REQUIRE_JS is set, but {why}");
    eprintln!("SKIPPED {test}: {why}");
    true
}

/// Runs `timeout <args>` in `tests/js` off the server's thread; its stdout, or a failure with
/// both streams.
async fn run(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let shown = args.join(" ");
    let out =
        actix_web::rt::task::spawn_blocking(move || Command::new("timeout").args(&args).current_dir(js_dir()).output())
            .await
            .unwrap()
            .expect("timeout and node run");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "`{shown}` failed:\n{stdout}\n{stderr}");
    stdout
}

#[actix_web::test]
async fn a_typescript_client_generated_from_the_document_type_checks_and_runs() {
    if skipped("a_typescript_client_generated_from_the_document_type_checks_and_runs", false) {
        return;
    }
    // Generate from the committed document (equal to the served one: contracts.rs) and compile.
    run(&["300", "npm", "run", "--silent", "client:check"]).await;
    let app = spawn().await;
    let stdout = run(&["60", "node", "out/client.js", &app.base, &app.admin]).await;
    assert!(stdout.starts_with("ok: Typed Co"), "{stdout}");
    // What the script wrote is there.
    let listed = app.get("/api/v1/contacts?filter=city[eq]:Seoul").await.expect(200);
    assert_eq!(listed["data"][0]["email"], "minjun@typed.example");
}

#[actix_web::test]
async fn address_labels_print_on_a4_sheets_in_headless_chromium() {
    if skipped("address_labels_print_on_a4_sheets_in_headless_chromium", true) {
        return;
    }
    let app = spawn().await;
    // 25 letters: a full sheet of 21 and 4 on a second.
    for n in 0..25 {
        app.contact(
            &format!("Person{n}"),
            "Label",
            json!({"street": format!("{n} Long Street Name That Goes On"), "postal_code": format!("1{n:04}"),
                   "city": "Berlin", "country": "DE", "tags": ["labels"]}),
        )
        .await;
    }
    let seg = app.segment("Labels", json!({"criteria": "tags[eq]:labels"})).await;
    let c = app.campaign("Labels", json!({"channel": "post", "segment_ids": [seg["id"]]})).await;
    app.patch(&format!("/api/v1/campaigns/{}", s(&c["id"])), json!({"status": "scheduled"})).await.expect(200);
    let stdout = run(&["120", "node", "labels.mjs", &app.base, &app.admin, s(&c["id"])]).await;
    assert_eq!(stdout.trim(), "ok: 25 labels on 2 pages");
}
