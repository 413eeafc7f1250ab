//! `Idempotency-Key` on POST, PUT and PATCH: the first answer is stored per caller and
//! replayed for retries; the same key with another request is 422; a key whose first request
//! is still running is 409 (so two concurrent requests never both write).

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use crm_db::idempotency::{self, Claim};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::problem::ApiError;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";
/// Response headers kept with the stored answer.
const KEPT_HEADERS: &[&str] = &["content-type", "etag", "location"];
/// A first request still "in progress" after this long is taken as crashed and taken over.
const ABANDON_AFTER_SECS: i64 = 300;

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

fn replay(status: i32, headers: Option<serde_json::Value>, body: Option<String>) -> HttpResponse {
    let status = u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    if let Some(serde_json::Value::Object(h)) = headers {
        for (k, v) in h {
            if let (Ok(name), Some(Ok(value))) =
                (HeaderName::try_from(k.as_str()), v.as_str().map(HeaderValue::from_str))
            {
                res.insert_header((name, value));
            }
        }
    }
    res.insert_header((HeaderName::from_static(REPLAYED), HeaderValue::from_static("true")));
    res.body(body.unwrap_or_default())
}

/// The middleware (mounted with `actix_web::middleware::from_fn`).
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Only requests a route takes: a method the path does not have is answered 405 below.
    let keyed = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH)
        && req.headers().contains_key(HEADER)
        && crate::openapi::allowed_methods(req.path()).is_some_and(|m| m.contains(&req.method().as_str()));
    if !keyed {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    }
    let key = req.headers().get(HEADER).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if !valid_key(&key) {
        let e =
            ApiError::bad_request("INVALID_IDEMPOTENCY_KEY", "Idempotency-Key is 1 to 255 visible ASCII characters");
        return Ok(req.error_response(e));
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    // Unauthenticated requests go on to answer 401 themselves; nothing is stored for them.
    let Some(subject) = crate::auth::caller(&req).map(|a| a.sub) else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };

    // Read the body to fingerprint the request, then hand it back to the handler.
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > state.limits.max_body_bytes {
            let e = ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "the request body is too large");
            return Ok(req.error_response(e));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("").as_bytes());
    hasher.update(b"\n");
    hasher.update(&body);
    let hash: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    req.set_payload(Payload::from(body));

    let ttl = state.limits.idempotency_ttl;
    let (db, sub, k, h) = (state.db.clone(), subject.clone(), key.clone(), hash.clone());
    let claim = db
        .write(move |c| {
            idempotency::claim(c, &sub, &k, &h, ttl, chrono::Duration::seconds(ABANDON_AFTER_SECS))
                .map_err(crm_db::DbError::from)
        })
        .await;
    let token = match claim {
        Err(e) => return Ok(req.error_response(ApiError::from(e))),
        Ok(Claim::Existing(stored)) => {
            if stored.request_hash != hash {
                let e = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "IDEMPOTENCY_KEY_REUSED",
                    "this Idempotency-Key was used for a different request",
                );
                return Ok(req.error_response(e));
            }
            return match stored.status {
                None => {
                    let e = ApiError::new(
                        StatusCode::CONFLICT,
                        "IDEMPOTENCY_KEY_IN_USE",
                        "a request with this Idempotency-Key is still running; retry shortly",
                    );
                    Ok(req.error_response(e))
                }
                Some(status) => {
                    let res = replay(status, stored.response_headers.map(|j| j.0), stored.response_body);
                    Ok(req.into_response(res))
                }
            };
        }
        Ok(Claim::Acquired(token)) => token,
    };

    // Run the request and store its answer in a task of its own: if the client goes away
    // mid-request, the write still completes *and* its answer is stored for the retry.
    let task = actix_web::rt::spawn(async move {
        let res = match next.call(req).await {
            Ok(r) => r,
            Err(e) => {
                forget(&state.db, subject, key, token).await;
                return Err(e);
            }
        };
        let status = res.status();
        let mut kept = serde_json::Map::new();
        for name in KEPT_HEADERS {
            if let Some(v) = res.headers().get(*name).and_then(|v| v.to_str().ok()) {
                kept.insert((*name).to_string(), v.into());
            }
        }
        let (http_req, http_res) = res.into_parts();
        let (head, body) = http_res.into_parts();
        let bytes = to_bytes(body).await.map_err(|_| actix_web::error::ErrorInternalServerError("response body"))?;
        // 5xx answers (and GraphQL answers that carry a server error) are not pinned to the
        // key: a retry may succeed.
        if status.is_server_error() || head.headers().contains_key(RETRYABLE) {
            forget(&state.db, subject, key, token).await;
        } else {
            let text = String::from_utf8_lossy(&bytes).to_string();
            let headers = serde_json::Value::Object(kept);
            let stored = state
                .db
                .write(move |c| {
                    idempotency::complete(c, &subject, &key, token, status.as_u16(), headers, &text)
                        .map_err(crm_db::DbError::from)
                })
                .await;
            if let Err(e) = stored {
                tracing::error!(error = %e, "could not store the idempotent response");
            }
        }
        Ok(ServiceResponse::new(http_req, head.set_body(BoxBody::new(bytes))))
    });
    task.await.map_err(|_| actix_web::error::ErrorInternalServerError("request task failed"))?
}

/// Response header set by handlers whose answer must not be stored (GraphQL server errors
/// travel with status 200).
pub const RETRYABLE: &str = "x-crm-retryable";

async fn forget(db: &crm_db::Db, subject: String, key: String, token: chrono::NaiveDateTime) {
    let released =
        db.write(move |c| idempotency::release(c, &subject, &key, token).map_err(crm_db::DbError::from)).await;
    if let Err(e) = released {
        tracing::warn!(error = %e, "could not release an idempotency key");
    }
}
