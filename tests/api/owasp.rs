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

/// API1 across every resource with an owner: a record made `private` to its owner is, for a
/// member of another team holding every scope but administration, not found on each of its
/// routes (get, update, delete, restore, history, GraphQL) and absent from its list; its owner
/// keeps it.
#[actix_web::test]
async fn a_private_record_of_any_owned_resource_is_not_found_by_another_team_on_each_route() {
    let app = spawn().await;
    let owner = app.user("Owner", json!({"subject": "owner-a", "role": "sales", "team": "north"})).await;
    app.user("Other", json!({"subject": "other-b", "role": "sales", "team": "south"})).await;
    let other = token(&app.keys, "other-b", &["sales", "marketing", "support"], &[]);
    let mine = token(&app.keys, "owner-a", &["sales", "marketing", "support"], &[]);
    let mut checked = Vec::new();
    for r in crm_gateway::registry::RESOURCES {
        let Some(owned) = crm_records::visibility::owned_entity(r.entity) else { continue };
        if owned.owner == "granted_by" {
            continue; // a share's owner is whoever granted it: `visibility.rs` covers it
        }
        let record = app.build(r.entity, 1).await;
        let path = format!("/api/v1{}/{}", r.collection, s(&record["id"]));
        app.patch(&path, json!({ (owned.owner): owner["id"] })).await.expect(200);
        app.post("/api/v1/sharing-rules", json!({"entity": r.entity, "level": "private"})).await.expect(201);

        let call = |method: Method, p: String, body: Option<serde_json::Value>, who: &str| {
            let app = &app;
            let who = who.to_string();
            async move { app.call(method, &p, Some(&who), body, &[]).await }
        };
        for (method, p, body) in [
            (Method::GET, path.clone(), None),
            (Method::PATCH, path.clone(), Some(json!({}))),
            (Method::DELETE, path.clone(), None),
            (Method::POST, format!("{path}/restore"), Some(json!({}))),
            (Method::GET, format!("{path}/history"), None),
        ] {
            let got = call(method.clone(), p.clone(), body, &other).await;
            assert_eq!(got.status.as_u16(), 404, "{} {method} {p}: {}", r.entity, got.body);
        }
        let listed = call(Method::GET, format!("/api/v1{}?limit=1000", r.collection), None, &other).await.expect(200);
        assert!(listed["data"].as_array().unwrap().iter().all(|x| x["id"] != record["id"]), "{} listed", r.entity);
        let one = camel(r.graphql_one);
        let q = format!("query($id: ID!) {{ {one}(id: $id) {{ id }} }}");
        let g = app.gql(&other, &q, json!({"id": record["id"]})).await;
        assert!(g["errors"].is_null() && g["data"][one.as_str()].is_null(), "{} over GraphQL: {g}", r.entity);
        let g = app.gql(&mine, &q, json!({"id": record["id"]})).await;
        assert_eq!(g["data"][one.as_str()]["id"], record["id"], "{} over GraphQL, its owner: {g}", r.entity);
        call(Method::GET, path.clone(), None, &mine).await.expect(200);
        checked.push(r.entity);
    }
    checked.sort_unstable();
    let mut expected =
        vec!["account", "contact", "case", "lead", "opportunity", "activity", "target_list", "quota", "campaign"];
    expected.sort_unstable();
    assert_eq!(checked, expected);
}
