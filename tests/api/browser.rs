//! GraphiQL in a real browser (Debian's headless chromium, driven by playwright-core from
//! `tests/js`): the page loads with nothing from outside the server, a query typed in its
//! editor with the token typed in its Headers tab returns data, and the docs explorer reads the
//! schema. Without chromium, node or `tests/js/node_modules` the test says it was skipped; CI
//! sets `CRM_REQUIRE_BROWSER=1`, which makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::support::*;

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/js")
}

/// Why the browser test cannot run here, if it cannot.
fn missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
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
    if let Some(why) = missing() {
        assert!(std::env::var("CRM_REQUIRE_BROWSER").is_err(), "CRM_REQUIRE_BROWSER is set, but {why}");
        eprintln!("SKIPPED graphiql_runs_an_authenticated_query_in_headless_chromium: {why}");
        return;
    }
    let app = spawn().await;
    app.account("Browser Co", json!({"tier": "gold"})).await;
    let (base, token) = (app.base.clone(), app.admin.clone());
    let out = actix_web::rt::task::spawn_blocking(move || {
        Command::new("timeout")
            .args(["120", "node", "graphiql.mjs", &base, &token, "Browser Co"])
            .current_dir(js_dir())
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser check failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("\"Browser Co\""), "{stdout}");
}
