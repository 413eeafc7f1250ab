//! The OWASP API Security Top 10 (2023) across every route: broken function-level authorization
//! (API5) and broken authentication (API2) for each operation of the served document. Object-
//! and property-level authorization (API1, API3) are in `visibility.rs`, resource consumption
//! (API4) in `limits.rs` and `security.rs`, SSRF (API7) in `webhooks.rs`.

use actix_web::http::Method;
use serde_json::json;

use crate::support::*;

/// The operations any authenticated caller may use whatever its scopes, with what they answer
/// a caller holding none: its own identity (it has no user record), and its own jobs, exports
/// and imports (none yet, so a made-up id is not found); saved import mappings are names.
const OPEN_TO_EVERY_CALLER: &[(&str, &str, u16)] = &[
    ("get", "/api/v1/exports", 200),
    ("get", "/api/v1/exports/{id}", 404),
    ("get", "/api/v1/exports/{id}/file", 404),
    ("get", "/api/v1/import-mappings", 200),
    ("get", "/api/v1/imports", 200),
    ("get", "/api/v1/imports/{id}", 404),
    ("post", "/api/v1/imports/{id}/cancel", 404),
    ("get", "/api/v1/imports/{id}/errors", 404),
    ("get", "/api/v1/jobs", 200),
    ("get", "/api/v1/jobs/{id}", 404),
    ("get", "/api/v1/users/me", 404),
];

/// `path` with its parameters filled in: a resource's collection where one is named, a name,
/// and otherwise an id no record has (so a refusal must come before any lookup).
fn fill(path: &str, id: &str) -> String {
    let mut url = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e + 1);
        url.push_str(&rest[..start]);
        url.push_str(match &rest[start..end] {
            "{resource}" => "contacts",
            "{name}" => "erp",
            _ => id,
        });
        rest = &rest[end..];
    }
    url.push_str(rest);
    url
}

#[actix_web::test]
async fn every_operation_refuses_callers_without_credentials_or_its_scope() {
    let app = spawn().await;
    let nobody = token(&app.keys, "nobody", &[], &[]);
    let doc = crm_gateway::openapi::document();
    let id = uuid::Uuid::now_v7().to_string();
    let mut open = Vec::new();
    let mut checked = 0;
    for (method, path, op) in crate::contracts::operations(&doc) {
        if path == "/healthz" || path == "/readyz" {
            continue;
        }
        let mut url = fill(&path, &id);
        // Where the scope depends on the resource asked for, ask for contacts.
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        if params.iter().any(|p| p["in"] == "query" && p["name"] == "resource") {
            url.push_str("?resource=contacts");
        }
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        // A body naming contacts as what it is about (`resource`, or `resources`).
        let schema = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str().unwrap_or("");
        let takes = &doc["components"]["schemas"][schema.rsplit('/').next().unwrap_or("")]["properties"];
        let body = op.get("requestBody").map(|_| match takes.get("resources") {
            Some(_) => json!({"resources": ["contacts"]}),
            None => json!({"resource": "contacts"}),
        });
        let anonymous = app.call(m.clone(), &url, None, body.clone(), &[]).await;
        assert_eq!(anonymous.status.as_u16(), 401, "{method} {path} without credentials: {}", anonymous.body);
        let r = if path == "/api/v1/imports" && method == "post" {
            let import = json!({"resource": "contacts", "mode": "create"}).to_string();
            post_form(&app, &nobody, &url, &[("import", import.as_bytes()), ("file", b"last_name\nKim\n")]).await
        } else {
            app.call(m, &url, Some(&nobody), body, &[]).await
        };
        match r.status.as_u16() {
            403 => assert_eq!(r.body["code"], "FORBIDDEN", "{method} {path}: {}", r.body),
            status => open.push((method.clone(), path.clone(), status)),
        }
        checked += 1;
    }
    assert!(checked > 150, "only {checked} operations");
    let expected: Vec<(String, String, u16)> =
        OPEN_TO_EVERY_CALLER.iter().map(|(m, p, s)| (m.to_string(), p.to_string(), *s)).collect();
    assert_eq!(open, expected, "what did not answer 403 to a caller without scopes");
}
