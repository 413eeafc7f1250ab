//! Rate limits: each caller's bucket and each address's on the public endpoints, the IETF
//! `RateLimit` headers on every answer they apply to, and `429` past them with nothing run.

use actix_web::http::Method;
use serde_json::json;

use crate::support::*;

/// `(r, t)` of a `RateLimit` header (`"caller";r=4;t=12`).
fn standing(r: &Resp) -> (u64, u64) {
    let h = r.header("ratelimit").unwrap_or_else(|| panic!("no RateLimit header: {:?}", r.headers));
    let field = |name: &str| {
        h.split(';')
            .find_map(|p| p.strip_prefix(name))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{h}"))
    };
    (field("r="), field("t="))
}

#[actix_web::test]
async fn a_caller_past_its_limit_gets_429_with_when_to_retry_and_nothing_runs() {
    let app = spawn_with(|s| s.rate_limit = 5).await;
    let ada = token(&app.keys, "ada", &["sales"], &[]);
    let bob = token(&app.keys, "bob", &["sales"], &[]);
    // 5 per 60 s: one request's share is 12 s, so `t` grows by 12 with each request spent.
    for i in 1..=4u64 {
        let r = app.call(Method::GET, "/api/v1/contacts", Some(&ada), None, &[]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("ratelimit-policy").as_deref(), Some("\"caller\";q=5;w=60"));
        assert_eq!(standing(&r), (5 - i, 12 * i));
    }
    let created = app
        .call(Method::POST, "/api/v1/contacts", Some(&ada), Some(json!({"last_name": "Last one in"})), &[])
        .await
        .expect(201);
    assert!(created["id"].is_string());
    // The sixth is refused before it runs: the contact is not written.
    let r = app.call(Method::POST, "/api/v1/contacts", Some(&ada), Some(json!({"last_name": "Too many"})), &[]).await;
    assert_eq!((r.status.as_u16(), r.body["code"].as_str()), (429, Some("RATE_LIMITED")), "{}", r.body);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((11..=12).contains(&retry), "{retry}");
    assert_eq!(standing(&r), (0, retry));
    assert_eq!((r.body["limit"].as_u64(), r.body["window_seconds"].as_u64()), (Some(5), Some(60)), "{}", r.body);
    assert_eq!(r.header("content-type").as_deref(), Some("application/problem+json"));
    // GraphQL draws from the same bucket.
    let r = app
        .call(Method::POST, "/graphql", Some(&ada), Some(json!({"query": "{ contacts { totalCount } }"})), &[])
        .await;
    assert_eq!(r.status, 429);
    // Another caller has a bucket of its own, and sees one contact only.
    let r = app.call(Method::GET, "/api/v1/contacts?count=true", Some(&bob), None, &[]).await.expect(200);
    assert_eq!(r["total"], 1, "{r}");
    // Health checks and failed sign-ins draw from no bucket.
    let r = app.call(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!((r.status.as_u16(), r.header("ratelimit")), (200, None));
    let r = app.call(Method::GET, "/api/v1/contacts", Some("not-a-token"), None, &[]).await;
    assert_eq!((r.status.as_u16(), r.header("ratelimit")), (401, None));
}

#[actix_web::test]
async fn an_api_key_has_its_own_limit_and_public_endpoints_one_per_address() {
    let app = spawn_with(|s| {
        s.rate_limit = 1000;
        s.public_rate_limit = 3;
    })
    .await;
    let made = app
        .post("/api/v1/api-keys", json!({"name": "slow", "scopes": ["contacts:read"], "rate_limit_per_minute": 2}))
        .await
        .expect(201);
    let key = s(&made["key"]).to_string();
    for left in [1, 0] {
        let r = app.call(Method::GET, "/api/v1/contacts", Some(&key), None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("ratelimit-policy").as_deref(), Some("\"caller\";q=2;w=60"));
        assert_eq!(standing(&r).0, left);
    }
    let r = app.call(Method::GET, "/api/v1/contacts", Some(&key), None, &[]).await;
    assert_eq!(r.status, 429);
    assert!((29..=30).contains(&r.header("retry-after").unwrap().parse::<u64>().unwrap()));

    // Campaign links and the unsubscribe page: per client address, whatever the link.
    for i in 0..3 {
        let r = app.call(Method::GET, &format!("/t/o/no-such-link-{i}"), None, None, &[]).await;
        assert_eq!(r.status, 404);
        assert_eq!(r.header("ratelimit-policy").as_deref(), Some("\"public\";q=3;w=60"));
    }
    let r = app.call(Method::GET, "/t/u/another-link", None, None, &[]).await;
    assert_eq!((r.status.as_u16(), r.body["code"].as_str()), (429, Some("RATE_LIMITED")), "{}", r.body);
    // Web-form capture too: every visitor of a site shares its token, so the address counts.
    let capture = token(&app.keys, "website", &[], &["leads:capture"]);
    let r = app
        .call(Method::POST, "/api/v1/leads/capture", Some(&capture), Some(json!({"last_name": "Visitor"})), &[])
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    // The admin's own bucket is untouched by all this: 998 after its own two requests, plus one
    // back every 60 ms the test took (a bucket of 1000 a minute refills); the nine requests above,
    // were they drawn from it, would leave at most 990 plus that.
    let r = app.get("/api/v1/contacts").await;
    assert_eq!(r.status, 200);
    assert!(standing(&r).0 >= 995, "{:?}", standing(&r));
}
