//! REST adapters: extract, call one service function, wrap the answer.

pub mod record;
pub mod sync;

pub mod accounts;
pub mod activities;
pub mod analytics;
pub mod audit;
pub mod automation;
pub mod campaigns;
pub mod cases;
pub mod changes;
pub mod customers;
pub mod duplicates;
pub mod emails;
pub mod exports;
pub mod geo;
pub mod imports;
pub mod jobs;
pub mod ops;
pub mod privacy;
pub mod routes;
pub mod sales;
pub mod schema;
pub mod users;
pub mod webhooks;

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use crm_core::DomainError;
use crm_core::external::{BatchOutcome, BatchRecord, MAX_BATCH};
use crm_core::list::{Archived, ListParams, Page};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::problem::ApiError;

/// Query parameters every list endpoint takes.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Comma-separated fields, `-` for descending, e.g. `-created_at` or `city,last_name`.
    pub sort: Option<String>,
    /// Filter expression, e.g. `and(city[eq]:Seoul,account.tier[in]:[gold,platinum])`.
    pub filter: Option<String>,
    /// Full-text search (every word must match as a prefix).
    pub q: Option<String>,
    /// Related records to embed, comma-separated (`account` on contacts); what a resource can
    /// embed is listed in its description.
    pub include: Option<String>,
    /// `true` adds `total` (the count of all matching records).
    pub count: Option<bool>,
    /// `false` (default): live records; `true`: live and archived; `only`: archived only.
    pub archived: Option<String>,
    /// Comma-separated fields to return (`id` always comes), e.g. `fields=first_name,email`.
    pub fields: Option<String>,
}

impl ListQuery {
    /// The transport-neutral list request (`include` and `fields` are read apart).
    pub fn into_params(self) -> Result<ListParams, ApiError> {
        let archived = match self.archived.as_deref() {
            None => Archived::Exclude,
            Some(a) => Archived::parse(a).ok_or_else(|| {
                ApiError::bad_request("INVALID_PARAMETER", "`archived` is true, false or only").with_field(
                    "archived",
                    "invalid_value",
                    "expected true, false or only",
                )
            })?,
        };
        Ok(ListParams {
            limit: self.limit,
            cursor: self.cursor,
            sort: self.sort,
            filter: self.filter,
            filter_ast: None,
            q: self.q,
            archived,
            count: self.count.unwrap_or(false),
            skip_external_ids: false,
        })
    }
}

/// `?include=account` on single-record reads.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncludeQuery {
    /// Related records to embed (`account` on contacts).
    pub include: Option<String>,
    /// Comma-separated fields to return (`id` always comes).
    pub fields: Option<String>,
}

/// `?allow_duplicate=true` on creates.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CreateQuery {
    /// Contacts and accounts: create even when a live record is likely the same (otherwise
    /// `409 POSSIBLE_DUPLICATE` with the candidates, see `/duplicates/settings`). Other
    /// resources have no such check.
    pub allow_duplicate: Option<bool>,
}

/// `?fields=` on single-record reads.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FieldsQuery {
    /// Comma-separated fields to return (`id` always comes), e.g. `fields=subject,status`.
    pub fields: Option<String>,
}

/// A `fields=` projection, checked against the resource's documented properties.
#[derive(Clone, Debug)]
pub struct Projection(Vec<String>);

impl Projection {
    /// None when no projection is asked for. `extra` names fields embedded by `include`.
    pub fn parse<T: utoipa::PartialSchema>(raw: Option<&str>, extra: &[&str]) -> Result<Option<Projection>, ApiError> {
        let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
        let known = schema_fields::<T>();
        let mut out = vec!["id".to_string()];
        for f in raw.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            if !known.iter().any(|k| k == f) && !extra.contains(&f) {
                return Err(ApiError::bad_request("INVALID_PARAMETER", format!("no field `{f}` to return"))
                    .with_field("fields", "invalid_value", format!("fields: {}", known.join(", "))));
            }
            if !out.iter().any(|o| o == f) {
                out.push(f.to_string());
            }
        }
        Ok(Some(Projection(out)))
    }

    /// The record with only the chosen fields.
    pub fn apply<T: Serialize>(&self, record: &T) -> serde_json::Value {
        match serde_json::to_value(record) {
            Ok(serde_json::Value::Object(mut m)) => {
                serde_json::Value::Object(self.0.iter().filter_map(|f| m.remove_entry(f)).collect())
            }
            Ok(other) => other,
            Err(_) => serde_json::Value::Null,
        }
    }
}

/// The property names of a documented object type.
fn schema_fields<T: utoipa::PartialSchema>() -> Vec<String> {
    use utoipa::openapi::{RefOr, schema::Schema};
    match T::schema() {
        RefOr::T(Schema::Object(o)) => o.properties.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// A page as the wire shows it, projected when asked.
pub fn page_json<T: Serialize>(page: Page<T>, projection: Option<&Projection>) -> Listed<T> {
    project_list(ListBody::from(page), projection)
}

/// A list body as sent: the records themselves, or their projections (`fields=`). Serialized
/// straight to the response (no intermediate JSON tree when nothing is projected).
#[derive(Serialize)]
#[serde(untagged)]
pub enum Listed<T> {
    Whole(ListBody<T>),
    Projected(ListBody<serde_json::Value>),
}

/// A list body, projected when asked.
pub fn project_list<T: Serialize>(body: ListBody<T>, projection: Option<&Projection>) -> Listed<T> {
    match projection {
        None => Listed::Whole(body),
        Some(p) => Listed::Projected(ListBody {
            data: body.data.iter().map(|r| p.apply(r)).collect::<Vec<_>>(),
            next_cursor: body.next_cursor,
            total: body.total,
        }),
    }
}

pub fn parse_include(raw: Option<&str>, includable: &[&str]) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    for part in raw.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !includable.contains(&part) {
            return Err(ApiError::bad_request("INVALID_PARAMETER", format!("cannot include `{part}`")).with_field(
                "include",
                "invalid_value",
                format!("includable: {}", includable.join(", ")),
            ));
        }
        if !out.iter().any(|x| x == part) {
            out.push(part.to_string());
        }
    }
    Ok(out)
}

/// A page of records: `{"data": [...], "next_cursor": "..." | null, "total": n}`.
#[derive(Debug, Serialize)]
pub struct ListBody<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

impl<T> From<Page<T>> for ListBody<T> {
    fn from(p: Page<T>) -> Self {
        ListBody { data: p.data, next_cursor: p.next_cursor, total: p.total }
    }
}

/// `"<version>"`.
pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The version an `If-Match` header demands, if any (`*` demands nothing).
pub fn if_match(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let Some(v) = req.headers().get(header::IF_MATCH) else { return Ok(None) };
    let bad = || ApiError::bad_request("INVALID_IF_MATCH", "If-Match must be a version ETag such as \"3\"");
    let s = v.to_str().map_err(|_| bad())?.trim();
    // `*` (any version) and an empty header demand nothing.
    if s == "*" || s.is_empty() {
        return Ok(None);
    }
    parse_etag(s).map(Some).ok_or_else(bad)
}

fn parse_etag(s: &str) -> Option<i64> {
    let s = s.trim().strip_prefix("W/").unwrap_or(s.trim());
    s.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

/// Whether `If-None-Match` already names this version (answer 304).
pub fn not_modified(req: &HttpRequest, version: i64) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|s| s.split(',').any(|t| t.trim() == "*" || parse_etag(t) == Some(version)))
}

/// 200 with body and ETag, or 304 when the client has it.
pub fn versioned<T: Serialize>(req: &HttpRequest, version: i64, body: &T) -> HttpResponse {
    if not_modified(req, version) {
        return HttpResponse::NotModified().insert_header((header::ETAG, etag(version))).finish();
    }
    HttpResponse::Ok().insert_header((header::ETAG, etag(version))).json(body)
}

/// 201 with body, ETag and Location.
/// 301 to where a merged record lives now, with the problem document that says so.
pub fn moved(location: String, e: crm_records::RecordError) -> HttpResponse {
    let mut problem = crate::problem::ApiError::from(e);
    problem.status = actix_web::http::StatusCode::MOVED_PERMANENTLY;
    let body = problem.body();
    HttpResponse::MovedPermanently()
        .insert_header((actix_web::http::header::LOCATION, location))
        .content_type("application/problem+json")
        .body(body.to_string())
}

pub fn created<T: Serialize>(location: String, version: i64, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::ETAG, etag(version)))
        .insert_header((header::LOCATION, location))
        .json(body)
}

/// A batch request: `{"operations": [...], "atomic": false}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchBody<Op> {
    pub operations: Vec<Op>,
    #[serde(default)]
    pub atomic: bool,
    #[serde(default)]
    pub report_duplicates: bool,
}

impl<Op> BatchBody<Op> {
    /// Refuses empty batches and batches over the limit.
    pub fn check(&self) -> Result<(), ApiError> {
        check_batch_len(self.operations.len())
    }
}

/// A batch holds 1 to `MAX_BATCH` operations (REST and GraphQL alike).
pub fn check_batch_len(n: usize) -> Result<(), ApiError> {
    if n == 0 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_FAILED",
            "a batch holds at least one operation",
        )
        .with_field("operations", "too_few", format!("1 to {MAX_BATCH} operations")));
    }
    if n > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BATCH_TOO_LARGE",
            format!("a batch holds 1 to {MAX_BATCH} operations, not {n}"),
        )
        .with_field("operations", "out_of_range", format!("1 to {MAX_BATCH} operations")));
    }
    Ok(())
}

/// The answer to one batch operation.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    /// The status this operation would have had on its own: 201, 200, 204, or an error status.
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<uuid::Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    // Held as JSON text rather than a `serde_json::Value` tree: up to 1000 records per answer.
    /// The record after the operation (creates and updates).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub record: Option<Box<serde_json::value::RawValue>>,
    /// Problem details when the operation failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::problem::Problem>)]
    pub error: Option<serde_json::Value>,
    /// With `report_duplicates`: a record this operation created that is likely the same as
    /// another (the `409 POSSIBLE_DUPLICATE` problem a create would have answered, with its
    /// `candidates`). The record is created all the same.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::problem::Problem>)]
    pub possible_duplicate: Option<serde_json::Value>,
}

/// What a batch did: each operation's outcome, in order, and (with `report_duplicates`) the
/// records it created that are likely duplicates, by operation index.
pub type BatchDone<T, E> = (Vec<Result<BatchOutcome<T>, E>>, Vec<(usize, E)>);

/// `{"results": [...]}`, one per operation, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    pub results: Vec<BatchItem>,
}

/// A failed atomic batch: the index of the operation that failed (`usize::MAX`: the batch itself).
pub struct Aborted<E>(pub usize, pub E);

impl<E: From<crm_db::DbError>> From<crm_db::DbError> for Aborted<E> {
    fn from(e: crm_db::DbError) -> Self {
        Aborted(usize::MAX, E::from(e))
    }
}

impl<E: From<diesel::result::Error>> From<diesel::result::Error> for Aborted<E> {
    fn from(e: diesel::result::Error) -> Self {
        Aborted(usize::MAX, E::from(e))
    }
}

/// Maps a batch's outcome to its REST answer.
pub fn batch_reply<T: Serialize + BatchRecord, E: DomainError>(
    outcome: Result<BatchDone<T, E>, Aborted<E>>,
) -> Result<BatchResponse, ApiError> {
    match outcome {
        Err(Aborted(index, e)) => {
            let mut api = ApiError::from(e);
            if index != usize::MAX {
                api.detail = format!("operation {index} failed and nothing was applied: {}", api.detail);
                for f in &mut api.errors {
                    f.field = format!("operations[{index}].{}", f.field);
                }
                api.extra.get_or_insert_with(Default::default).insert("operation_index".into(), index.into());
            }
            Err(api)
        }
        Ok((results, flagged)) => {
            let mut flagged: HashMap<usize, serde_json::Value> =
                flagged.into_iter().map(|(i, e)| (i, ApiError::from(e).body())).collect();
            Ok(BatchResponse {
                results: results
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| match r {
                        Ok(o) => {
                            let (status, rec, keep) = match o {
                                BatchOutcome::Created(t) => (201, t, true),
                                BatchOutcome::Updated(t) => (200, t, true),
                                BatchOutcome::Archived(t) => (204, t, false),
                            };
                            BatchItem {
                                status,
                                id: Some(rec.record_id()),
                                version: Some(rec.record_version()),
                                record: if keep { serde_json::value::to_raw_value(&rec).ok() } else { None },
                                error: None,
                                possible_duplicate: flagged.remove(&i),
                            }
                        }
                        Err(e) => {
                            let api = ApiError::from(e);
                            BatchItem {
                                status: api.status.as_u16(),
                                id: None,
                                version: None,
                                record: None,
                                error: Some(api.body()),
                                possible_duplicate: None,
                            }
                        }
                    })
                    .collect(),
            })
        }
    }
}

/// `?limit=&before=` on history endpoints.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Entries per page, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only entries older than this `seq` (from `next_before`).
    pub before: Option<i64>,
}

/// A page of history, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryPage {
    pub data: Vec<crm_events::HistoryEntry>,
    /// Pass as `before` for older entries; null when there are none.
    pub next_before: Option<i64>,
}

impl HistoryPage {
    pub fn new(data: Vec<crm_events::HistoryEntry>, limit: u32) -> HistoryPage {
        let next_before = if data.len() as u32 >= limit { data.last().map(|e| e.seq.0) } else { None };
        HistoryPage { data, next_before }
    }
}

impl HistoryQuery {
    pub fn limit(&self) -> Result<u32, ApiError> {
        let l = self.limit.unwrap_or(50);
        if l == 0 || l > 1000 {
            return Err(ApiError::bad_request("INVALID_PARAMETER", "limit must be between 1 and 1000").with_field(
                "limit",
                "out_of_range",
                "1 to 1000",
            ));
        }
        Ok(l)
    }
}

/// A JSON request body, which must be an object. (serde reads a struct from an array too, by
/// field order: `[null, null]` would pass as a patch clearing two fields; a body names its
/// fields or is refused, `422 INVALID_BODY`.) Limits, media type and syntax errors are the
/// `JsonConfig`'s, as for `web::Json`.
///
/// Authorization comes before validation: whatever is wrong with the body is held back until
/// the handler shows that the caller may make the call (`after`), so a caller without the scope
/// gets `403` and learns nothing about the body's shape.
pub struct Json<T>(Result<T, ApiError>);

impl<T> Json<T> {
    /// The body, once `authorized` (the use case's scope check) passed.
    pub fn after<E: Into<ApiError>>(self, authorized: Result<(), E>) -> Result<T, ApiError> {
        authorized.map_err(Into::into)?;
        self.0
    }
}

/// The `ApiError` an extractor's error carries (our error handlers make them all).
fn api_error(e: actix_web::Error) -> ApiError {
    e.as_error::<ApiError>()
        .cloned()
        .unwrap_or_else(|| ApiError::bad_request("MALFORMED_JSON", "the body could not be read"))
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let raw = actix_web::web::Json::<Box<serde_json::value::RawValue>>::from_request(req, payload);
        Box::pin(async move {
            let parsed = match raw.await {
                Err(e) => Err(api_error(e)),
                Ok(raw) => parse_body(raw.get()),
            };
            Ok(Json(parsed))
        })
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    if control_character(raw).is_some() {
        return Err(control_in_text(raw));
    }
    if !raw.starts_with('{') {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_BODY", "the body must be a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_str(raw);
    serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let (status, code) = if inner.is_data() {
            (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_BODY")
        } else {
            (StatusCode::BAD_REQUEST, "MALFORMED_JSON")
        };
        let detail = inner.to_string();
        let err = ApiError::new(status, code, detail.clone());
        if inner.is_data() && path != "." { err.with_field(path, "invalid", detail) } else { err }
    })
}

/// A query string, parsed, its errors (named after the parameter) held back like `Json`'s.
pub struct Query<T>(Result<T, ApiError>);

impl<T> Query<T> {
    /// The parameters, once `authorized` passed.
    pub fn after<E: Into<ApiError>>(self, authorized: Result<(), E>) -> Result<T, ApiError> {
        authorized.map_err(Into::into)?;
        self.0
    }
}

impl<T: serde::de::DeserializeOwned> actix_web::FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Ok(Query(parse_query(req.query_string()))))
    }
}

/// Parses a query string into `T`, answering in our words and naming the parameter.
pub fn parse_query<T: serde::de::DeserializeOwned>(qs: &str) -> Result<T, ApiError> {
    // NUL, checked after percent-decoding (`q=%00`), naming the parameter: PostgreSQL's text
    // cannot hold it, so it must be refused alike on both databases. Other controls in a value
    // are the parsers' business (whitespace around names is trimmed; a search ignores them).
    if let Some((name, _)) = form_urlencoded::parse(qs.as_bytes()).find(|(_, v)| v.contains('\0')) {
        let detail = format!("`{name}` holds the NUL character");
        return Err(ApiError::bad_request("INVALID_PARAMETER", detail.clone()).with_field(
            name,
            "control_character",
            detail,
        ));
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(qs.as_bytes()));
    serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
        let param = e.path().to_string();
        let said = e.into_inner().to_string();
        let (param, detail) = query_problem(&param, &said);
        if param.is_empty() {
            ApiError::bad_request("INVALID_PARAMETER", detail)
        } else {
            ApiError::bad_request("INVALID_PARAMETER", detail.clone()).with_field(param, "invalid", detail)
        }
    })
}

/// The names serde lists in backticks (`expected one of `a`, `b``).
fn backticked(s: &str) -> Vec<&str> {
    s.split('`').skip(1).step_by(2).collect()
}

/// The parameter at fault and what is wrong with it, from serde's message.
fn query_problem(path: &str, said: &str) -> (String, String) {
    let param = if path == "." { String::new() } else { path.to_string() };
    if let Some(rest) = said.strip_prefix("unknown field ") {
        let names = backticked(rest);
        let (name, takes) = names.split_first().map(|(n, t)| (*n, t.to_vec())).unwrap_or(("", Vec::new()));
        let takes = if takes.is_empty() {
            "this endpoint takes no query parameters".to_string()
        } else {
            format!("this endpoint takes {}", takes.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", "))
        };
        return (name.to_string(), format!("unknown query parameter `{name}`: {takes}"));
    }
    if let Some(rest) = said.strip_prefix("missing field ") {
        let name = backticked(rest).first().copied().unwrap_or_default().to_string();
        return (name.clone(), format!("the query parameter `{name}` is required"));
    }
    let what = if said.contains("invalid digit") || said.contains("too large") || said.contains("empty string") {
        "a whole number within its range".to_string()
    } else if said.contains("float") {
        "a number".to_string()
    } else if said.contains("`true` or `false`") {
        "`true` or `false`".to_string()
    } else if said.contains("UUID") {
        "an id (a UUID)".to_string()
    } else if let Some(rest) = said.strip_prefix("unknown variant ") {
        let names = backticked(rest);
        format!("one of {}", names.iter().skip(1).map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", "))
    } else {
        "a valid value (see the endpoint's parameters)".to_string()
    };
    let shown = if param.is_empty() { "a query parameter".to_string() } else { format!("`{param}`") };
    (param.clone(), format!("{shown} must be {what}"))
}

/// Where JSON text holds a control character that text fields may not: the C0 controls other
/// than tab, line feed and carriage return (JSON can only write them escaped, `\u0007`, or as
/// `\b` and `\f`), DEL and the C1 controls. PostgreSQL's text cannot hold NUL and none of them
/// belong in customer data; such a body is refused on both databases alike.
pub fn control_character(json: &str) -> Option<usize> {
    let b = json.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() => {
                match b[i + 1] {
                    b'b' | b'f' => return Some(i),
                    b'u' if i + 5 < b.len() => {
                        let hex = std::str::from_utf8(&b[i + 2..i + 6]).ok();
                        if let Some(c) = hex.and_then(|h| u32::from_str_radix(h, 16).ok())
                            && forbidden_control(c)
                        {
                            return Some(i);
                        }
                    }
                    _ => {}
                }
                i += 2;
            }
            0x7f => return Some(i),
            // U+0080 to U+009F in UTF-8: C2 80 to C2 9F.
            0xc2 if b.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)) => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// A control character text may not hold (see `control_character`), by code point.
pub fn forbidden_control(c: u32) -> bool {
    (c < 0x20 && !matches!(c, 0x09 | 0x0a | 0x0d)) || (0x7f..=0x9f).contains(&c)
}

/// `422 INVALID_BODY` for a control character, naming the field it is in when the body parses.
pub fn control_in_text(text: &str) -> ApiError {
    let detail = "text may not hold control characters (only tab and line breaks), such as NUL (\\u0000)";
    let err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_BODY", detail);
    match field_at(text) {
        Some(field) => err.with_field(field, "control_character", detail),
        None => err,
    }
}

/// The JSON path of the first string holding a forbidden control character, found by walking
/// the parsed body (only on this error path).
fn field_at(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    fn walk(v: &serde_json::Value, path: &str) -> Option<String> {
        match v {
            serde_json::Value::String(s) => {
                s.chars().any(|c| forbidden_control(u32::from(c))).then(|| path.trim_start_matches('.').to_string())
            }
            serde_json::Value::Array(a) => a.iter().enumerate().find_map(|(i, x)| walk(x, &format!("{path}[{i}]"))),
            serde_json::Value::Object(o) => o.iter().find_map(|(k, x)| {
                if k.chars().any(|c| forbidden_control(u32::from(c))) {
                    return Some(path.trim_start_matches('.').to_string());
                }
                walk(x, &format!("{path}.{k}"))
            }),
            _ => None,
        }
    }
    walk(&v, "").filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_found_only_where_json_writes_them() {
        let found = |s: &str| super::control_character(s).is_some();
        assert!(found(r#"{"a": "x\u0000"}"#));
        assert!(found(r#"{"a": "\\\u0000"}"#));
        assert!(!found(r#"{"a": "\\u0000"}"#));
        assert!(!found(r#"{"a": "u0000"}"#));
        assert!(found(r#"{"a": "\u0007"}"#) && found(r#"{"a": "\u001F"}"#) && found(r#"{"a": "\b"}"#));
        assert!(found("{\"a\": \"\u{7f}\"}") && found("{\"a\": \"\u{85}\"}") && found(r#"{"a": "\u009f"}"#));
        // Tab and line breaks are text; so are other escapes and non-ASCII letters.
        assert!(!found(r#"{"a": "x\ty\nz\r\u0009\u000a\"\\\/ \u00e9 é 한"}"#));
        assert!(!found(r#"{"a\\b": 1}"#));
    }

    #[test]
    fn query_errors_name_the_parameter_in_our_words() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Q {
            limit: Option<u32>,
            count: Option<bool>,
            id: Option<uuid::Uuid>,
        }
        let err = |qs: &str| super::parse_query::<Q>(qs).unwrap_err();
        let e = err("limit=-1");
        assert_eq!((e.code, e.errors[0].field.as_str()), ("INVALID_PARAMETER", "limit"));
        assert_eq!(e.detail, "`limit` must be a whole number within its range");
        assert_eq!(err("count=yes").detail, "`count` must be `true` or `false`");
        assert_eq!(err("id=x").detail, "`id` must be an id (a UUID)");
        let e = err("purge=true");
        assert_eq!(e.errors[0].field, "purge");
        assert_eq!(e.detail, "unknown query parameter `purge`: this endpoint takes `limit`, `count`, `id`");
        assert!(!err("limit=1%00").detail.contains("deserialize"));
        assert_eq!(super::parse_query::<Q>("limit=5&count=true").unwrap().limit, Some(5));
    }

    use super::*;

    #[test]
    fn etags_parse() {
        assert_eq!(parse_etag("\"3\""), Some(3));
        assert_eq!(parse_etag("W/\"12\""), Some(12));
        assert_eq!(parse_etag("3"), None);
        assert_eq!(parse_etag("\"x\""), None);
    }
}
