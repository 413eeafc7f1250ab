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
