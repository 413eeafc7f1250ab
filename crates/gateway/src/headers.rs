//! What every answer says to browsers: security headers, and CORS for the origins configured.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

use crate::settings::CorsSettings;

/// The API's answers are data, never a page: nothing may run, load or frame them.
const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The two documentation pages (Swagger UI, GraphiQL): their own scripts and styles only, the
/// inline style attributes their UI toolkits set, icons as data URIs, requests back to this
/// server, never framed.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; manifest-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The pages of campaign email's links (unsubscribe, the response form): their own inline
/// style, forms posting back here, nothing else.
const LINK_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Whether the path serves one of the documentation pages or their files.
fn is_page(req: &ServiceRequest) -> bool {
    let path = req.path();
    path == "/docs"
        || path.starts_with("/docs/")
        || path.starts_with("/graphql/assets/")
        || (path == "/graphql" && req.method() == actix_web::http::Method::GET)
}

/// `X-Content-Type-Options: nosniff`, frame denial, a referrer policy and a content security
/// policy on every answer; `Cache-Control: no-store` on the API's, which carry personal data
/// (unless the handler chose a policy).
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let page = is_page(&req);
    let link = req.path().starts_with("/t/");
    let static_doc = req.path() == "/openapi.json" || req.path() == "/healthz";
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    let policy = if page {
        PAGE_POLICY
    } else if link {
        LINK_POLICY
    } else {
        API_POLICY
    };
    // A handler that serves a page of its own (the address labels) states its own policy.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    }
    if !page && !static_doc && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

/// The CORS policy: closed (no CORS headers, a preflight is `405`) unless origins are
/// configured; then those origins may call with the API's methods and headers, preflights are
/// answered and cached for ten minutes, and credentials (cookies, client certificates) are
/// allowed only when configured, since the API authenticates with bearer tokens.
pub fn cors(settings: &CorsSettings) -> actix_web::middleware::Condition<actix_cors::Cors> {
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("x-api-key"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static(crate::idempotency::REPLAYED),
            header::HeaderName::from_static("ratelimit"),
            header::HeaderName::from_static("ratelimit-policy"),
        ])
        .max_age(600);
    if settings.origins.iter().any(|o| o == "*") {
        cors = cors.allow_any_origin();
    } else {
        for origin in &settings.origins {
            cors = cors.allowed_origin(origin);
        }
    }
    if settings.credentials {
        cors = cors.supports_credentials();
    }
    actix_web::middleware::Condition::new(!settings.origins.is_empty(), cors)
}
