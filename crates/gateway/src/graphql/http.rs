//! GraphQL over HTTP: `POST /graphql` with the media types and statuses of the GraphQL-over-HTTP
//! specification, an `extensions.code` on every error, and automatic persisted queries.
//!
//! - A client that accepts `application/graphql-response+json` gets that media type, 400 for a
//!   request error (a body, document or persisted query that cannot run) and 401 without valid
//!   credentials; a client that sends only `Accept: application/json` gets 200 for request
//!   errors, as the specification's legacy mode says, and 401 all the same (authentication
//!   happens before GraphQL). Field errors are 200 in both.
//! - Every error carries `extensions.code`: the REST problem code where REST has the same
//!   failure (`UNAUTHENTICATED`, `VALIDATION_FAILED`, `INVALID_FILTER`, `MALFORMED_JSON`, …), and
//!   `GRAPHQL_PARSE_FAILED`, `GRAPHQL_VALIDATION_FAILED`, `PERSISTED_QUERY_NOT_FOUND` for what
//!   only GraphQL has.
//! - Automatic persisted queries (Apollo's protocol): a client sends the query's SHA-256 in
//!   `extensions.persistedQuery`; the first time it is unknown (`PERSISTED_QUERY_NOT_FOUND`), the
//!   client sends hash and query once, and from then on the hash alone. The cache is per
//!   instance and bounded; a miss after a restart only costs that one round trip.

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};
use serde_json::json;

use super::{RequestCtx, loaders};
use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::ApiError;

/// The GraphQL-over-HTTP response media type.
pub const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// Codes of request errors: the document did not run at all.
const REQUEST_ERRORS: &[&str] = &[
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "GRAPHQL_TOO_COMPLEX",
    "GRAPHQL_TOO_DEEP",
    "PERSISTED_QUERY_NOT_FOUND",
    "PERSISTED_QUERY_INVALID",
];

/// How many persisted queries an instance keeps.
pub const PERSISTED_QUERIES: usize = 2_000;

/// `POST /graphql`: needs a bearer token like every API call. When a field failed with a server
/// error (5xx class) the answer is marked retryable, so an `Idempotency-Key` does not pin it.
pub async fn graphql_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Result<Authenticated, ApiError>,
    body: Result<web::Json<Request>, actix_web::Error>,
) -> HttpResponse {
    let modern = accepts_graphql_response(&req);
    let actor = match auth {
        Ok(a) => a.0,
        Err(e) => return http_error(modern, &e),
    };
    let request = match body {
        Ok(r) if r.query.len() > super::MAX_QUERY_BYTES => {
            let e = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "GRAPHQL_QUERY_TOO_LARGE",
                format!("the query text is longer than {} bytes", super::MAX_QUERY_BYTES),
            );
            return http_error(modern, &e);
        }
        // As REST: no control characters in text, whether raw or escaped in a string literal.
        Ok(r)
            if r.query.chars().any(|c| crate::rest::forbidden_control(u32::from(c)))
                || crate::rest::control_character(&r.query).is_some()
                || has_control(&r.variables) =>
        {
            return http_error(modern, &crate::rest::control_in_text(""));
        }
        Ok(r) => r.into_inner(),
        Err(e) => {
            let api = e
                .as_error::<ApiError>()
                .map(|a| ApiError::new(a.status, a.code, a.detail.clone()))
                .unwrap_or_else(|| ApiError::bad_request("MALFORMED_JSON", e.to_string()));
            return http_error(modern, &api);
        }
    };
    let db = state.db.clone();
    // Request-scoped: the loaders (made on first use; list resolvers prime them) and the caller.
    let request = request
        .data(loaders::Loaders::new(db.clone(), actor.clone()))
        .data(RequestCtx { db, actor })
        .data(state.webhook_sender.clone())
        .data(super::campaigns::MailerHandle(state.mailer.clone()));
    let response = state.schemas.current(&state.db).await.execute(request).await;
    respond(modern, response)
}

/// Whether a variable's text holds a control character text may not hold (as REST refuses).
fn has_control(variables: &Variables) -> bool {
    let bad = |s: &str| s.chars().any(|c| crate::rest::forbidden_control(u32::from(c)));
    fn walk(v: &async_graphql::Value, bad: &dyn Fn(&str) -> bool) -> bool {
        match v {
            async_graphql::Value::String(s) => bad(s),
            async_graphql::Value::List(l) => l.iter().any(|x| walk(x, bad)),
            async_graphql::Value::Object(o) => o.iter().any(|(k, v)| bad(k) || walk(v, bad)),
            _ => false,
        }
    }
    let walk = |v: &async_graphql::Value| walk(v, &bad);
    variables.iter().any(|(_, v)| walk(v))
}

fn respond(modern: bool, response: Response) -> HttpResponse {
    let code_of = |e: &ServerError| match e.extensions.as_ref().and_then(|x| x.get("code")) {
        Some(async_graphql::Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let request_error =
        response.errors.iter().any(|e| code_of(e).is_some_and(|c| REQUEST_ERRORS.contains(&c.as_str())));
    let server_error = response.errors.iter().any(|e| {
        e.extensions.as_ref().and_then(|x| x.get("status")).is_some_and(|s| match s {
            async_graphql::Value::Number(n) => n.as_u64().is_some_and(|n| n >= 500),
            _ => false,
        })
    });
    let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
    if request_error && let Some(o) = body.as_object_mut() {
        // A request error has no `data` entry (the document never ran).
        o.remove("data");
    }
    let status = if request_error && modern { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let text = body.to_string();
    drop(body);
    if text.len() > super::MAX_RESPONSE_BYTES {
        let e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "RESPONSE_TOO_LARGE",
            format!(
                "the answer would be {} bytes, more than {}: ask for fewer records or fields per request",
                text.len(),
                super::MAX_RESPONSE_BYTES
            ),
        );
        return http_error(modern, &e);
    }
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, media_type(modern)));
    if server_error {
        res.insert_header((crate::idempotency::RETRYABLE, "1"));
    }
    res.body(text)
}

/// An error met outside GraphQL (credentials, the body's media type, size or syntax, text it
/// may not hold, an answer too large), shaped as a GraphQL response. A request that is not a
/// well-formed GraphQL-over-HTTP request (401, 413, 415, a body that is not JSON) gets the
/// error's status in both modes; one that is, but holds what we refuse (`422`), gets 200 in
/// legacy mode, as request errors do.
fn http_error(modern: bool, e: &ApiError) -> HttpResponse {
    let status = if !modern && e.status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::OK } else { e.status };
    let body = json!({"errors": [{
        "message": e.detail,
        "extensions": {"code": e.code, "status": e.status.as_u16()},
    }]});
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, media_type(modern)));
    if e.status == StatusCode::UNAUTHORIZED {
        res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
    }
    res.body(body.to_string())
}

fn media_type(modern: bool) -> &'static str {
    if modern { "application/graphql-response+json; charset=utf-8" } else { "application/json" }
}

/// Whether the client accepts the GraphQL response media type (it then gets it, with statuses).
fn accepts_graphql_response(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| m.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case(GRAPHQL_RESPONSE)))
}

// ---------------------------------------------------------------------------------------------
// Error codes for what fails before or around execution.

/// Gives every error an `extensions.code`: parse, validation and persisted-query errors get the
/// GraphQL codes, and an argument async-graphql could not coerce gets REST's `INVALID_PARAMETER`.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodes)
    }
}

fn coded(mut e: ServerError, code: &'static str, status: u16) -> ServerError {
    let ext = e.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code);
        ext.set("status", status);
    }
    e
}

/// Refuses a document that costs more than `MAX_COMPLEXITY`, before async-graphql's own checks
/// of a parsed document run: they walk fragment spreads without a budget, so ten fragments
/// spreading the next one ten times each kept a worker at full CPU for good. A persisted query
/// arrives parsed; a text is parsed here, and the request keeps the document for execution.
fn check_cost(ctx: &ExtensionContext<'_>, request: &mut Request) -> ServerResult<()> {
    // Moved out and back rather than cloned: the document is borrowed mutably meanwhile.
    let variables = std::mem::take(&mut request.variables);
    let cost = request
        .parsed_query()
        .map(|doc| super::cost::document_cost(&ctx.schema_env.registry, doc, &variables))
        .map_err(|e| coded(e, "GRAPHQL_PARSE_FAILED", 400));
    request.variables = variables;
    let shown = match cost? {
        super::cost::Cost::Counted(n) if n <= super::MAX_COMPLEXITY => return Ok(()),
        super::cost::Cost::Counted(n) => n.to_string(),
        super::cost::Cost::Unbounded => "too much to count".to_string(),
        super::cost::Cost::Cycle(name) => {
            let message = format!("the fragment `{name}` spreads itself (directly or through others)");
            return Err(coded(ServerError::new(message, None), "GRAPHQL_VALIDATION_FAILED", 400));
        }
    };
    let message = format!(
        "the query costs {shown}, more than {}: each field counts 1, and a paged field `first` (or a list \
         argument's items) times what one item selects, every alias again; ask for fewer items or fields",
        super::MAX_COMPLEXITY
    );
    Err(coded(ServerError::new(message, None), "GRAPHQL_TOO_COMPLEX", 400))
}

#[async_trait::async_trait]
impl Extension for ErrorCodes {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // Only the persisted-query extension (registered after this one) fails here.
        let mut request = next.run(ctx, request).await.map_err(|e| {
            let code = if e.message == "PersistedQueryNotFound" {
                "PERSISTED_QUERY_NOT_FOUND"
            } else {
                "PERSISTED_QUERY_INVALID"
            };
            coded(e, code, 400)
        })?;
        check_cost(ctx, &mut request)?;
        Ok(request)
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|e| coded(e, "GRAPHQL_PARSE_FAILED", 400))
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errs| {
            errs.into_iter()
                .map(|e| {
                    // async-graphql's own wording for its two limits.
                    let code = match e.message.as_str() {
                        "Query is too complex." => "GRAPHQL_TOO_COMPLEX",
                        "Query is nested too deep." => "GRAPHQL_TOO_DEEP",
                        _ => "GRAPHQL_VALIDATION_FAILED",
                    };
                    coded(e, code, 400)
                })
                .collect()
        })
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        // Our resolvers' errors all carry a code; what is left is async-graphql refusing an
        // argument value (a variable that does not fit its type, an id that is not a UUID).
        response.errors = response.errors.into_iter().map(|e| coded(e, "INVALID_PARAMETER", 400)).collect();
        response
    }
}
