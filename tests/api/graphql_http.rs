//! GraphQL over HTTP: media types and statuses, `extensions.code` on every error (equal to the
//! REST problem code for the same failure), automatic persisted queries.

use actix_web::http::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::*;

const MODERN: (&str, &str) = ("Accept", "application/graphql-response+json");

fn content_type(r: &Resp) -> String {
    r.header("content-type").unwrap_or_default()
}

fn code(r: &Resp) -> &str {
    r.body["errors"][0]["extensions"]["code"].as_str().unwrap_or_else(|| panic!("no code: {}", r.body))
}

#[actix_web::test]
async fn without_credentials_a_graphql_client_gets_a_graphql_error_with_the_rest_code() {
    let app = spawn().await;
    let rest = app.call(Method::GET, "/api/v1/accounts", None, None, &[]).await;
    assert_eq!(rest.status, 401);
    let query = Some(json!({"query": "{ accounts { nodes { id } } }"}));
    let modern = app.call(Method::POST, "/graphql", None, query.clone(), &[MODERN]).await;
    assert_eq!(modern.status, 401);
    assert!(content_type(&modern).starts_with("application/graphql-response+json"), "{}", content_type(&modern));
    assert_eq!(code(&modern), rest.body["code"].as_str().unwrap());
    assert!(modern.body.get("data").is_none(), "{}", modern.body);
    assert_eq!(modern.header("www-authenticate").as_deref(), Some("Bearer"));
    let legacy = app.call(Method::POST, "/graphql", None, query, &[]).await;
    assert_eq!(legacy.status, 401);
    assert_eq!(content_type(&legacy), "application/json");
    assert_eq!(code(&legacy), "UNAUTHENTICATED");
    let bad_token = app
        .call(Method::POST, "/graphql", Some("not-a-jwt"), Some(json!({"query": "{ __typename }"})), &[MODERN])
        .await;
    assert_eq!((bad_token.status.as_u16(), code(&bad_token)), (401, "UNAUTHENTICATED"));
}

#[actix_web::test]
async fn request_errors_are_400_for_the_graphql_media_type_and_200_for_json() {
    let app = spawn().await;
    let admin = Some(app.admin.as_str());
    let cases = [
        (json!({"query": "{ accounts { nodes { id } "}), "GRAPHQL_PARSE_FAILED"),
        (json!({"query": "{ accounts { nodes { shoeSize } } }"}), "GRAPHQL_VALIDATION_FAILED"),
        (json!({"query": "{ contacts(where: {shoe: {eq: \"x\"}}) { nodes { id } } }"}), "GRAPHQL_VALIDATION_FAILED"),
    ];
    for (body, want) in cases {
        let modern = app.call(Method::POST, "/graphql", admin, Some(body.clone()), &[MODERN]).await;
        assert_eq!((modern.status.as_u16(), code(&modern)), (400, want), "{body}: {}", modern.body);
        assert!(modern.body.get("data").is_none(), "a request error has no data: {}", modern.body);
        assert!(content_type(&modern).starts_with("application/graphql-response+json"));
        let legacy = app.call(Method::POST, "/graphql", admin, Some(body.clone()), &[]).await;
        assert_eq!((legacy.status.as_u16(), code(&legacy)), (200, want), "{body}: {}", legacy.body);
    }
    // A body that is not JSON: the code REST gives the same body.
    let raw = app
        .client
        .post(format!("{}/graphql", app.base))
        .insert_header(("Authorization", format!("Bearer {}", app.admin)))
        .insert_header(("Content-Type", "application/json"))
        .insert_header(MODERN)
        .send_body("{\"query\": ")
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let rest = app
        .client
        .post(format!("{}/api/v1/accounts", app.base))
        .insert_header(("Authorization", format!("Bearer {}", app.admin)))
        .insert_header(("Content-Type", "application/json"))
        .send_body("{\"name\": ")
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(raw["errors"][0]["extensions"]["code"], rest["code"]);
    assert_eq!(rest["code"], "MALFORMED_JSON");
    // A variable that is not a UUID, and a field error: both coded; the field error is 200.
    let not_uuid = app
        .call(
            Method::POST,
            "/graphql",
            admin,
            Some(json!({"query": "query($id: UUID!) { account(id: $id) { id } }", "variables": {"id": "nope"}})),
            &[MODERN],
        )
        .await;
    assert!(not_uuid.body["errors"][0]["extensions"]["code"].is_string(), "{}", not_uuid.body);
    let readonly = app.token(&["readonly"]);
    let forbidden = app
        .call(
            Method::POST,
            "/graphql",
            Some(&readonly),
            Some(json!({"query": "mutation { createAccount(input: {name: \"G\"}) { id } }"})),
            &[MODERN],
        )
        .await;
    assert_eq!((forbidden.status.as_u16(), code(&forbidden)), (200, "FORBIDDEN"));
}

#[actix_web::test]
async fn persisted_queries_run_by_hash_once_registered() {
    let app = spawn().await;
    app.account("Hashed Co", json!({})).await;
    let query = "{ accounts(first: 5) { nodes { name } } }";
    let hash = format!("{:x}", Sha256::digest(query.as_bytes()));
    let ext = json!({"persistedQuery": {"version": 1, "sha256Hash": hash}});
    let by_hash = json!({"extensions": ext});
    let unknown = app.call(Method::POST, "/graphql", Some(&app.admin), Some(by_hash.clone()), &[]).await;
    assert_eq!((unknown.status.as_u16(), code(&unknown)), (200, "PERSISTED_QUERY_NOT_FOUND"));
    assert_eq!(unknown.body["errors"][0]["message"], "PersistedQueryNotFound");
    let register = app
        .call(Method::POST, "/graphql", Some(&app.admin), Some(json!({"query": query, "extensions": ext})), &[])
        .await;
    assert_eq!(register.body["data"]["accounts"]["nodes"], json!([{"name": "Hashed Co"}]), "{}", register.body);
    let known = app.call(Method::POST, "/graphql", Some(&app.admin), Some(by_hash), &[MODERN]).await;
    assert_eq!(known.status, 200);
    assert_eq!(known.body["data"]["accounts"]["nodes"], json!([{"name": "Hashed Co"}]));
    let wrong =
        json!({"query": "{ __typename }", "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "00"}}});
    let wrong = app.call(Method::POST, "/graphql", Some(&app.admin), Some(wrong), &[MODERN]).await;
    assert_eq!((wrong.status.as_u16(), code(&wrong)), (400, "PERSISTED_QUERY_INVALID"));
}

/// graphql-js's `getIntrospectionQuery()` (what GraphiQL and code generators send), whose type
/// references nest deepest of any query a client sends.
const INTROSPECTION: &str = "query IntrospectionQuery { __schema { description queryType { name } mutationType { name } \
    subscriptionType { name } types { ...FullType } directives { name description isRepeatable locations \
    args(includeDeprecated: true) { ...InputValue } } } } \
    fragment FullType on __Type { kind name description specifiedByURL fields(includeDeprecated: true) { name description \
    args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } \
    inputFields(includeDeprecated: true) { ...InputValue } interfaces { ...TypeRef } \
    enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } } \
    fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason } \
    fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name \
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } }";

#[actix_web::test]
async fn the_standard_introspection_query_passes_the_limits_and_describes_the_schema() {
    let app = spawn().await;
    let r = app.gql(&app.admin, INTROSPECTION, json!({})).await;
    assert!(r["errors"].is_null(), "{}", r["errors"]);
    let types = r["data"]["__schema"]["types"].as_array().unwrap();
    let named = |n: &str| types.iter().find(|t| t["name"] == n).unwrap_or_else(|| panic!("no type {n}"));
    let where_ = named("ContactWhere");
    assert_eq!(where_["kind"], "INPUT_OBJECT");
    let field = |t: &Value, n: &str| {
        t["inputFields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("no {n}"))
    };
    assert_eq!(field(where_, "account")["type"]["name"], "AccountWhere");
    assert_eq!(field(where_, "lifecycleStage")["type"]["name"], "LifecycleStageFilter");
    let stage_in = field(named("LifecycleStageFilter"), "in");
    assert_eq!(stage_in["type"]["ofType"]["ofType"]["name"], "LifecycleStage");
    // Every object, input and enum type, and every field of ours, says what it is.
    let mut undocumented = Vec::new();
    for t in types {
        let name = t["name"].as_str().unwrap();
        if name.starts_with("__") || t["kind"] == "SCALAR" {
            continue;
        }
        if t["description"].as_str().is_none_or(str::is_empty) {
            undocumented.push(name.to_string());
        }
    }
    assert!(undocumented.is_empty(), "types without a description: {undocumented:?}");
    // Every query and mutation, and each of their arguments, too: the docs explorer's entry points.
    for root in ["Query", "Mutation"] {
        for f in named(root)["fields"].as_array().unwrap() {
            let name = format!("{root}.{}", f["name"].as_str().unwrap());
            if f["description"].as_str().is_none_or(str::is_empty) {
                undocumented.push(name.clone());
            }
            for a in f["args"].as_array().unwrap() {
                if a["description"].as_str().is_none_or(str::is_empty) {
                    undocumented.push(format!("{name}({})", a["name"].as_str().unwrap()));
                }
            }
        }
    }
    assert!(undocumented.is_empty(), "root fields or arguments without a description: {undocumented:?}");
}

#[actix_web::test]
async fn text_with_nul_is_refused_the_same_on_every_database_and_transport() {
    let app = spawn().await;
    let rest = app.post("/api/v1/products", json!({"sku": "A\u{0}1", "name": "Nul"})).await;
    assert_eq!((rest.status.as_u16(), rest.body["code"].as_str()), (422, Some("INVALID_BODY")));
    let vars = json!({"query": "mutation($n: String!) { createAccount(input: {name: $n}) { id } }", "variables": {"n": "x\u{0}"}});
    let g = app.call(Method::POST, "/graphql", Some(&app.admin), Some(vars), &[MODERN]).await;
    assert_eq!(code(&g), "INVALID_BODY");
    let literal = json!({"query": "mutation { createAccount(input: {name: \"x\\u0000\"}) { id } }"});
    let g = app.call(Method::POST, "/graphql", Some(&app.admin), Some(literal), &[MODERN]).await;
    assert_eq!(code(&g), "INVALID_BODY");
    let f = app.get("/api/v1/accounts?filter=name[eq]:%00").await;
    // Every query value is checked for control characters once decoded, whatever it holds.
    assert_eq!((f.status.as_u16(), f.body["code"].as_str()), (400, Some("INVALID_PARAMETER")));
    assert_eq!(f.body["errors"][0]["field"], "filter");
    assert_eq!(app.get("/api/v1/accounts").await.expect(200)["data"], json!([]));
}
