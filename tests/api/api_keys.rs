//! API keys for integrators: created by an administrator within their own scopes, shown once,
//! presented as a bearer token or in `X-Api-Key`, bounded by expiry and allowed networks,
//! revoked at once, and first-class callers everywhere else (idempotency, history).

use std::time::Duration;

use actix_web::http::Method;
use serde_json::{Value, json};

use crate::support::*;

/// A call with an API key in `X-Api-Key` (`bearer: false`) or as the bearer token.
async fn with_key(app: &TestApp, key: &str, bearer: bool, method: Method, path: &str, body: Option<Value>) -> Resp {
    with_key_from(app, key, bearer, method, path, body, &[]).await
}

async fn with_key_from(
    app: &TestApp,
    key: &str,
    bearer: bool,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Resp {
    if bearer {
        app.call(method, path, Some(key), body, headers).await
    } else {
        let mut all = vec![("X-Api-Key", key)];
        all.extend_from_slice(headers);
        app.call(method, path, None, body, &all).await
    }
}

#[actix_web::test]
async fn a_key_is_shown_once_works_within_its_scopes_and_stops_at_once_when_revoked() {
    let app = spawn_with(|s| s.provision_users = true).await;
    let created = app
        .post(
            "/api/v1/api-keys",
            json!({"name": "ERP nightly sync", "scopes": ["contacts:read", "contacts:write", "contacts:read"]}),
        )
        .await
        .expect(201);
    let key = s(&created["key"]).to_string();
    let id = s(&created["id"]).to_string();
    assert!(key.starts_with("crm_live_") && key.len() == 9 + 43, "{key}");
    assert_eq!(created["key_prefix"], key[..17]);
    assert_eq!(created["scopes"], json!(["contacts:read", "contacts:write"]));
    assert!(created.get("key_hash").is_none());
    // Never again: not on a read, not in the change feed.
    let read = app.get(&format!("/api/v1/api-keys/{id}")).await.expect(200);
    assert!(read.get("key").is_none(), "{read}");
    assert_eq!(read["last_used_at"], Value::Null);
    let feed = app.get("/api/v1/changes?after=0&limit=100").await.expect(200);
    let text = feed.to_string();
    assert!(text.contains("api_key.created") && !text.contains(&key[9..]), "{text}");

    // Both ways of presenting it work; the caller is the key.
    let made = with_key(&app, &key, true, Method::POST, "/api/v1/contacts", Some(json!({"last_name": "Keyed"})))
        .await
        .expect(201);
    let list = with_key(&app, &key, false, Method::GET, "/api/v1/contacts", None).await.expect(200);
    assert_eq!(list["data"][0]["id"], made["id"]);
    let feed = app.get("/api/v1/changes?after=0&limit=100").await.expect(200);
    let event = feed["data"].as_array().unwrap().iter().find(|e| e["type"] == "contact.created").unwrap().clone();
    assert_eq!(event["actor"], format!("api_key:{id}"));
    // An integration is not staff: writing with a key provisions no user for it.
    let users = app.get("/api/v1/users").await.expect(200);
    assert!(
        users["data"].as_array().unwrap().iter().all(|u| !u["subject"].as_str().unwrap_or("").starts_with("api_key:")),
        "{users}"
    );
    // Outside its scopes: 403.
    let r = with_key(&app, &key, false, Method::GET, "/api/v1/accounts", None).await;
    assert_eq!((r.status.as_u16(), r.body["code"].as_str()), (403, Some("FORBIDDEN")), "{}", r.body);
    // GraphQL takes it too.
    let r = with_key(&app, &key, true, Method::POST, "/graphql", Some(json!({"query": "{ contacts { totalCount } }"})))
        .await
        .expect(200);
    assert_eq!(r["data"]["contacts"]["totalCount"], 1, "{r}");

    // Retries with an Idempotency-Key are answered from the first answer, per key.
    let body = json!({"last_name": "Retried"});
    let headers = [("Idempotency-Key", "erp-row-17")];
    let first = with_key_from(&app, &key, false, Method::POST, "/api/v1/contacts", Some(body.clone()), &headers).await;
    let again = with_key_from(&app, &key, false, Method::POST, "/api/v1/contacts", Some(body), &headers).await;
    assert_eq!((first.status.as_u16(), again.status.as_u16()), (201, 201));
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(first.body["id"], again.body["id"]);

    // Its use is noted (after the answer, once a minute), without a new version.
    let mut seen = Value::Null;
    for _ in 0..50 {
        seen = app.get(&format!("/api/v1/api-keys/{id}")).await.expect(200);
        if seen["last_used_at"].is_string() {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen["last_used_at"].is_string(), "{seen}");
    assert_eq!((seen["last_used_ip"].as_str(), seen["version"].as_i64()), (Some("127.0.0.1"), Some(1)));

    // Unknown keys are 401, and so is the key once revoked, on the very next call.
    let r = with_key(&app, "crm_live_not-a-key", true, Method::GET, "/api/v1/contacts", None).await;
    assert_eq!((r.status.as_u16(), r.body["code"].as_str()), (401, Some("UNAUTHENTICATED")));
    assert_eq!(app.delete(&format!("/api/v1/api-keys/{id}")).await.status, 204);
    let r = with_key(&app, &key, false, Method::GET, "/api/v1/contacts", None).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(s(&r.body["detail"]).contains("revoked"), "{}", r.body);
    // And stays revoked.
    let r = app.post(&format!("/api/v1/api-keys/{id}/restore"), json!({})).await;
    assert_eq!((r.status.as_u16(), r.body["code"].as_str()), (409, Some("API_KEY_REVOKED")), "{}", r.body);
}

#[actix_web::test]
async fn a_key_never_gets_more_than_its_creator_expires_and_keeps_to_its_networks() {
    let app = spawn_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    // Only holders of api_keys:write make keys; what they hand on is what they hold.
    let sales = app.token(&["sales"]);
    let r = app
        .call(
            Method::POST,
            "/api/v1/api-keys",
            Some(&sales),
            Some(json!({"name": "x", "scopes": ["contacts:read"]})),
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let keeper = token(&app.keys, "keeper", &[], &["api_keys:write", "api_keys:read", "contacts:read"]);
    let r = app
        .call(
            Method::POST,
            "/api/v1/api-keys",
            Some(&keeper),
            Some(json!({"name": "too much", "scopes": ["contacts:read", "contacts:write", "nope"]})),
            &[],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let errors: Vec<(String, String)> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (s(&e["field"]).to_string(), s(&e["code"]).to_string()))
        .collect();
    assert_eq!(
        errors,
        [("scopes[1]".to_string(), "not_granted".to_string()), ("scopes[2]".to_string(), "invalid_value".to_string())]
    );
    let bad = app
        .post(
            "/api/v1/api-keys",
            json!({"name": "x", "scopes": ["contacts:read"], "expires_at": "2020-01-01T00:00:00Z",
                   "allowed_ips": ["10.0.0.0/33"], "rate_limit_per_minute": 0}),
        )
        .await;
    assert_eq!(bad.status, 422);
    let mut fields = error_fields(&bad.body);
    fields.sort();
    assert_eq!(fields, ["allowed_ips[0]", "expires_at", "rate_limit_per_minute"]);

    // Allowed networks: the peer, or behind a trusted proxy the client it names.
    let net = app
        .post(
            "/api/v1/api-keys",
            json!({"name": "office", "scopes": ["contacts:read"], "allowed_ips": ["10.20.30.40/16"]}),
        )
        .await
        .expect(201);
    assert_eq!(net["allowed_ips"], json!(["10.20.0.0/16"]));
    let key = s(&net["key"]).to_string();
    let from = |ip: &'static str| {
        let key = key.clone();
        let app = &app;
        async move {
            with_key_from(app, &key, false, Method::GET, "/api/v1/contacts", None, &[("X-Forwarded-For", ip)]).await
        }
    };
    assert_eq!(from("10.20.1.2").await.status, 200);
    assert_eq!(from("203.0.113.5, 10.20.1.2").await.status, 200, "the last hop before the proxy counts");
    let r = from("192.0.2.1").await;
    assert_eq!((r.status.as_u16(), r.body["code"].as_str()), (403, Some("ADDRESS_NOT_ALLOWED")), "{}", r.body);
    assert!(s(&r.body["detail"]).contains("192.0.2.1"));
    let r = with_key(&app, &key, false, Method::GET, "/api/v1/contacts", None).await;
    assert_eq!(r.status, 403, "from the proxy itself (127.0.0.1)");

    // Expiry: refused from that moment on.
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let short = app
        .post("/api/v1/api-keys", json!({"name": "short", "scopes": ["contacts:read"], "expires_at": soon}))
        .await
        .expect(201);
    let key = s(&short["key"]).to_string();
    with_key(&app, &key, true, Method::GET, "/api/v1/contacts", None).await.expect(200);
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    let r = with_key(&app, &key, true, Method::GET, "/api/v1/contacts", None).await;
    assert_eq!(r.status, 401);
    assert!(s(&r.body["detail"]).contains("expired"), "{}", r.body);

    // Someone without a scope the key has may still rename it; adding one they lack is refused.
    let kept = app.post("/api/v1/api-keys", json!({"name": "wide", "scopes": ["webhooks:read"]})).await.expect(201);
    let path = format!("/api/v1/api-keys/{}", s(&kept["id"]));
    let renamed = app.call(Method::PATCH, &path, Some(&keeper), Some(json!({"name": "wide, renamed"})), &[]).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let widened = app
        .call(Method::PATCH, &path, Some(&keeper), Some(json!({"scopes": ["webhooks:read", "cases:read"]})), &[])
        .await;
    assert_eq!(widened.status, 422, "{}", widened.body);
}

#[actix_web::test]
async fn keys_are_managed_over_graphql_too() {
    let app = spawn().await;
    let r = app
        .gql(
            &app.admin,
            "mutation($i: ApiKeyInput!) { createApiKey(input: $i) { id key keyPrefix scopes rateLimitPerMinute } }",
            json!({"i": {"name": "BI export", "scopes": ["analytics:read"], "rateLimitPerMinute": 30}}),
        )
        .await;
    let made = &r["data"]["createApiKey"];
    assert!(s(&made["key"]).starts_with("crm_live_"), "{r}");
    assert_eq!(made["rateLimitPerMinute"], 30);
    let r = app.gql(&app.admin, "{ apiKeys { nodes { name key keyPrefix } } }", json!({})).await;
    assert_eq!(r["data"]["apiKeys"]["nodes"][0]["name"], "BI export", "{r}");
    assert_eq!(r["data"]["apiKeys"]["nodes"][0]["key"], Value::Null, "shown once");
}
