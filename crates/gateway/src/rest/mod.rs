//! REST adapters: extract, call one service function, wrap the answer.

pub mod accounts;
pub mod contacts;
pub mod ops;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use crm_core::list::{Archived, ListParams, Page};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::problem::ApiError;

/// Query parameters every list endpoint takes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 1000 (default 50).
    pub limit: Option<u32>,
    /// Opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Comma-separated fields, `-` for descending, e.g. `-created_at` or `city,last_name`.
    pub sort: Option<String>,
    /// Filter expression, e.g. `and(city[eq]:Seoul,account.tier[in]:[gold,platinum])`.
    pub filter: Option<String>,
    /// Full-text search (every word must match as a prefix).
    pub q: Option<String>,
    /// Related records to embed (`account` on contacts).
    pub include: Option<String>,
    /// `true` adds `total` (the count of all matching records).
    pub count: Option<bool>,
    /// `false` (default): live records; `true`: live and archived; `only`: archived only.
    pub archived: Option<String>,
}

impl ListQuery {
    /// The transport-neutral list request, plus the requested includes.
    pub fn into_params(self, includable: &[&str]) -> Result<(ListParams, Vec<String>), ApiError> {
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
        let include = parse_include(self.include.as_deref(), includable)?;
        Ok((
            ListParams {
                limit: self.limit,
                cursor: self.cursor,
                sort: self.sort,
                filter: self.filter,
                filter_ast: None,
                q: self.q,
                archived,
                count: self.count.unwrap_or(false),
            },
            include,
        ))
    }
}

/// `?include=account` on single-record reads.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncludeQuery {
    /// Related records to embed (`account` on contacts).
    pub include: Option<String>,
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
    let s = v.to_str().unwrap_or("").trim();
    if s == "*" {
        return Ok(None);
    }
    parse_etag(s)
        .map(Some)
        .ok_or_else(|| ApiError::bad_request("INVALID_IF_MATCH", "If-Match must be a version ETag such as \"3\""))
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
pub fn created<T: Serialize>(location: String, version: i64, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::ETAG, etag(version)))
        .insert_header((header::LOCATION, location))
        .json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_parse() {
        assert_eq!(parse_etag("\"3\""), Some(3));
        assert_eq!(parse_etag("W/\"12\""), Some(12));
        assert_eq!(parse_etag("3"), None);
        assert_eq!(parse_etag("\"x\""), None);
    }
}
