//! problem+json (RFC 9457) errors with stable codes, and the request id that every error carries.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use crm_core::{DomainError, ErrorClass, FieldError};
use serde::Serialize;
use serde_json::{Map, Value};

/// What every error body repeats about the request it answers.
#[derive(Clone, Debug)]
pub struct RequestInfo {
    pub id: String,
    pub path: String,
}

tokio::task_local! {
    /// The request being served; set by the request-id middleware.
    pub static REQUEST: RequestInfo;
}

/// The current request id, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST.try_with(|r| r.id.clone()).ok()
}

fn current_path() -> Option<String> {
    REQUEST.try_with(|r| r.path.clone()).ok()
}

/// An error as the API reports it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub extra: Option<Map<String, Value>>,
}

/// The body of every error response (documented in OpenAPI).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:crm:problem:<code in lower case>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `VERSION_CONFLICT`.
    pub code: String,
    /// Per-field problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request path this problem occurred on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    pub request_id: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

/// A stream of a response body ends with an `ApiError` when it fails after the status went out.
impl std::error::Error for ApiError {}

pub fn status_of(class: ErrorClass) -> StatusCode {
    match class {
        ErrorClass::BadRequest => StatusCode::BAD_REQUEST,
        ErrorClass::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorClass::Forbidden => StatusCode::FORBIDDEN,
        ErrorClass::NotFound => StatusCode::NOT_FOUND,
        ErrorClass::Conflict => StatusCode::CONFLICT,
        ErrorClass::VersionConflict => StatusCode::PRECONDITION_FAILED,
        ErrorClass::Gone => StatusCode::GONE,
        ErrorClass::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorClass::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status, code, detail: detail.into(), errors: Vec::new(), extra: None }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unauthenticated(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", detail)
    }

    /// An internal failure: the detail goes to the log, never to the client.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "an internal error occurred; see the server log")
    }

    pub fn with_field(
        mut self,
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> ApiError {
        self.errors.push(FieldError::new(field, code, message));
        self
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:crm:problem:{}", self.code.to_ascii_lowercase()),
            title: self.status.canonical_reason().unwrap_or("Error").to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_string(),
            errors: self.errors.clone(),
            instance: current_path(),
            request_id: current_request_id(),
        }
    }

    /// The body as a JSON object (problem members plus any extras), for REST and batch results.
    pub fn body(&self) -> Value {
        let mut v = serde_json::to_value(self.problem()).unwrap_or(Value::Null);
        if let (Some(obj), Some(extra)) = (v.as_object_mut(), &self.extra) {
            for (k, x) in extra {
                obj.insert(k.clone(), x.clone());
            }
        }
        v
    }
}

impl<E: DomainError> From<E> for ApiError {
    fn from(e: E) -> ApiError {
        let class = e.class();
        if matches!(class, ErrorClass::Internal) {
            return ApiError::internal(&e);
        }
        if matches!(class, ErrorClass::Unavailable) {
            tracing::warn!(error = %e, "database unavailable");
            return ApiError::new(status_of(class), e.code(), "the database is unavailable; retry later");
        }
        ApiError {
            status: status_of(class),
            code: e.code(),
            detail: e.to_string(),
            errors: e.field_errors(),
            extra: e.extra(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.extensions_mut().insert(crate::telemetry::AnsweredCode(self.code));
        res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json")));
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        if self.status == StatusCode::PRECONDITION_FAILED
            && let Some(v) = self.extra.as_ref().and_then(|e| e.get("current_version")).and_then(Value::as_i64)
            && let Ok(h) = HeaderValue::from_str(&format!("\"{v}\""))
        {
            res.insert_header((header::ETAG, h));
        }
        res.body(self.body().to_string())
    }
}

/// JSON body errors: 400 with the parser's message (it names the field), 413 when too large.
pub fn json_error(err: actix_web::error::JsonPayloadError, _req: &actix_web::HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let e = match &err {
        J::Overflow { limit } | J::OverflowKnownLength { limit, .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the request body is larger than {limit} bytes"),
        ),
        J::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the body as `Content-Type: application/json`",
        ),
        J::Deserialize(d) if d.is_data() => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_BODY", d.to_string())
        }
        other => ApiError::bad_request("MALFORMED_JSON", other.to_string()),
    };
    e.into()
}

/// Query string errors: 400 naming the parameter.
pub fn query_error(_: actix_web::error::QueryPayloadError, req: &actix_web::HttpRequest) -> actix_web::Error {
    // Handlers read queries through `rest::Query`, which names the parameter; this is the
    // fallback for any other, in our words too.
    let detail = format!(
        "the query string `{}` is not valid for this endpoint",
        req.query_string().chars().take(200).collect::<String>()
    );
    ApiError::bad_request("INVALID_PARAMETER", detail).into()
}

/// Path errors (e.g. an id that is not a UUID): 404, since no such record can exist.
/// A literal path that only looked like a template (`PATCH /users/me` reaching `/users/{id}`) is
/// `405` with `Allow`, as for any other method the path does not take.
pub fn path_error(_: actix_web::error::PathError, req: &actix_web::HttpRequest) -> actix_web::Error {
    if let Some(methods) = crate::openapi::allowed_methods(req.path())
        && !methods.contains(&req.method().as_str())
    {
        return method_not_allowed(req.method(), &methods);
    }
    if let Some(r) = req.match_info().get("resource")
        && crm_records::custom::CustomResource::parse(r).is_none()
    {
        let known = crm_records::custom::CustomResource::NAMES.join(", ");
        let shown: String = r.chars().take(100).collect();
        return ApiError::not_found(format!("`{shown}` is not a resource with custom fields; those are {known}"))
            .into();
    }
    // The segment that is not an id, in our words (the parser's text names its internals).
    let bad = req.match_info().iter().map(|(_, v)| v).find(|v| uuid::Uuid::parse_str(v).is_err());
    let detail = match bad {
        Some(v) if v.chars().count() <= 100 => format!("no such record: `{v}` is not an id (ids are UUIDs)"),
        _ => "no such record: the path does not hold a valid id (ids are UUIDs)".to_string(),
    };
    ApiError::not_found(detail).into()
}

/// `405 METHOD_NOT_ALLOWED` with the `Allow` header.
pub fn method_not_allowed(method: &actix_web::http::Method, allowed: &[&str]) -> actix_web::Error {
    let allow = allowed.join(", ");
    let e = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("{method} is not allowed here; allowed: {allow}"),
    );
    let mut res = e.error_response();
    if let Ok(v) = HeaderValue::from_str(&allow) {
        res.headers_mut().insert(header::ALLOW, v);
    }
    actix_web::error::InternalError::from_response(e, res).into()
}
