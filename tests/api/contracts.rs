//! The committed contracts are exactly what the code generates. Fix drift with `make contracts`.

fn root(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel)
}

#[test]
fn openapi_document_matches_the_committed_file() {
    let generated = crm_gateway::openapi::document_json();
    let committed = std::fs::read_to_string(root("openapi/openapi.json")).unwrap_or_default();
    assert!(generated == committed, "openapi/openapi.json is out of date: run `make contracts`");
    let doc: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/contacts",
        "/api/v1/contacts/{id}",
        "/api/v1/accounts/{id}/contacts",
        "/api/v1/accounts/{id}/restore",
        "/readyz",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[test]
fn graphql_schema_matches_the_committed_file() {
    let generated = crm_gateway::graphql::schema_builder().finish().sdl();
    let committed = std::fs::read_to_string(root("schema.graphql")).unwrap_or_default();
    assert!(generated == committed, "schema.graphql is out of date: run `make contracts`");
    assert!(generated.contains("scalar Long"));
    assert!(!generated.contains("AccountFields"), "internal field types must stay hidden");
}

/// Every operation of the document, as (method, path, operation).
pub(crate) fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

#[test]
fn the_document_states_errors_statuses_and_security_exactly() {
    let doc = crm_gateway::openapi::document();
    let mut checked = 0;
    for (method, path, op) in operations(&doc) {
        let public = path == "/healthz" || path == "/readyz";
        assert_eq!(op["security"] == serde_json::json!([]), public, "{method} {path}: security");
        for (status, r) in op["responses"].as_object().unwrap() {
            assert!(r["description"].as_str().is_some_and(|d| !d.is_empty()), "{method} {path} {status}: description");
            if status.starts_with('4') || status.starts_with('5') {
                let content = r["content"].as_object().unwrap();
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/problem+json"],
                    "{method} {path} {status}"
                );
            }
        }
        if !public {
            for status in ["401", "403", "500", "503"] {
                assert!(op["responses"].get(status).is_some(), "{method} {path} lacks {status}");
            }
        }
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        if params.iter().any(|p| p["in"] == "path") {
            assert!(op["responses"].get("404").is_some(), "{method} {path} lacks 404");
        }
        if params.iter().any(|p| p["name"] == "If-Match") {
            assert!(op["responses"].get("412").is_some(), "{method} {path} lacks 412");
        }
        if op.get("requestBody").is_some() {
            for status in ["400", "413", "415", "422"] {
                assert!(op["responses"].get(status).is_some(), "{method} {path} lacks {status}");
            }
        }
        checked += 1;
    }
    assert!(checked > 150, "only {checked} operations");
    // The timeline entry is discriminated by `kind`; field history values are any JSON.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["TimelineItem"]["discriminator"]["propertyName"], "kind");
    assert_eq!(schemas["TimelineItem"]["oneOf"].as_array().unwrap().len(), 8);
    assert!(schemas["FieldChange"]["properties"]["from"].get("type").is_none(), "{}", schemas["FieldChange"]);
    // Request bodies refuse unknown fields; list parameters state their formats.
    assert_eq!(schemas["ContactInput"]["additionalProperties"], false);
    let list = &doc["paths"]["/api/v1/contacts"]["get"]["parameters"];
    let param = |n: &str| list.as_array().unwrap().iter().find(|p| p["name"] == n).unwrap()["schema"].clone();
    assert!(param("sort")["pattern"].as_str().unwrap().contains("last_name"));
    assert_eq!(param("limit")["minimum"], 1);
    assert_eq!(param("archived")["enum"], serde_json::json!(["false", "true", "only"]));
}
