//! `/api/v1/imports`: bulk imports of CSV or NDJSON files as background jobs, their progress,
//! error reports, cancellation, and column mappings saved by name.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, put, web};
use crm_core::ids::JobId;
use crm_records::imports::{self, Import, ImportFormat, ImportMapping, ImportRequest, ImportRowError};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::imports::{Upload, importer_of};
use crate::problem::{ApiError, Problem};

/// The upload: two parts, in either order.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the form
pub struct ImportUpload {
    /// What to import (JSON).
    import: ImportRequest,
    /// The file: CSV (a header row, then one record per row; UTF-8) or NDJSON.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

fn bad(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, detail)
}

/// Starts an import: `multipart/form-data` with an `import` part (JSON: the resource, the mode,
/// the column mapping, `dry_run`) and a `file` part, which is streamed into the database
/// (any instance can run the job; the file is never held whole in memory). The request is
/// checked against the file's header before the job is queued (`422` names the unknown
/// columns or fields). Answers 202 with the import; follow it at `Location`. Rows are written
/// through the same rules as the API's writes, 500 to a transaction; each row that fails is
/// in the error report. Needs the resource's write scope.
#[utoipa::path(
    tag = "imports",
    request_body(content = ImportUpload, content_type = "multipart/form-data"),
    responses(
        (status = 202, body = Import, headers(("Location" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/imports")]
pub async fn start_import(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let media = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !media.trim().to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send `multipart/form-data` with an `import` part (JSON) and a `file` part",
        ));
    }
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
    let actor = auth.0;
    let mut request: Option<ImportRequest> = None;
    let mut file_id: Option<JobId> = None;
    let mut counted = None;
    let outcome: Result<(), ApiError> = async {
        while let Some(part) = form.next().await {
            let mut part = part.map_err(|e| bad("MALFORMED_BODY", e.to_string()))?;
            let name = part.name().unwrap_or_default().to_string();
            match name.as_str() {
                "import" if request.is_none() => {
                    let mut raw = Vec::new();
                    while let Some(chunk) = part.next().await {
                        let chunk = chunk.map_err(|e| bad("MALFORMED_BODY", e.to_string()))?;
                        if raw.len() + chunk.len() > 256 * 1024 {
                            return Err(bad("MALFORMED_BODY", "the `import` part is at most 256 KiB"));
                        }
                        raw.extend_from_slice(&chunk);
                    }
                    let r: ImportRequest = serde_json::from_slice(&raw)
                        .map_err(|e| bad("MALFORMED_BODY", format!("the `import` part: {e}")))?;
                    importer_of(&r.resource)?;
                    request = Some(r);
                }
                "file" if counted.is_none() => {
                    // The format is known once the `import` part came (before or after).
                    let mut up = Upload::new(request.as_ref().map(|r| r.format.unwrap_or(ImportFormat::Csv)));
                    let id = up.id;
                    file_id = Some(id);
                    while let Some(chunk) = part.next().await {
                        let chunk = chunk.map_err(|e| bad("MALFORMED_BODY", e.to_string()))?;
                        if let Some((seq, data)) = up.take(&chunk).map_err(ApiError::from)? {
                            state
                                .db
                                .write(move |c| {
                                    crm_records::jobs::files::append(c, id, seq, &data).map_err(crm_db::DbError::from)
                                })
                                .await?;
                        }
                    }
                    let (last, stats) = up.finish();
                    if let Some((seq, data)) = last {
                        state
                            .db
                            .write(move |c| {
                                crm_records::jobs::files::append(c, id, seq, &data).map_err(crm_db::DbError::from)
                            })
                            .await?;
                    }
                    counted = Some(stats);
                }
                other => {
                    return Err(bad(
                        "MALFORMED_BODY",
                        format!("unexpected part `{other}`: send `import` and `file` once each"),
                    ));
                }
            }
        }
        Ok(())
    }
    .await;
    let id = file_id;
    let queued = match (outcome, request, counted) {
        (Err(e), _, _) => Err(e),
        (Ok(()), None, _) => Err(bad("MALFORMED_BODY", "the `import` part is missing")),
        (Ok(()), Some(_), None) => Err(bad("MALFORMED_BODY", "the `file` part is missing")),
        (Ok(()), Some(request), Some(counters)) => {
            let stats = counters.of(request.format.unwrap_or(ImportFormat::Csv));
            let id = id.unwrap_or_default();
            let a = actor.clone();
            state.db.write(move |c| crate::imports::queue(c, &a, id, request, stats)).await.map_err(ApiError::from)
        }
    };
    match queued {
        Ok(import) => Ok(HttpResponse::Accepted()
            .insert_header(("Location", format!("/api/v1/imports/{}", import.id)))
            .json(import)),
        Err(e) => {
            if let Some(id) = id {
                // What was stored of the file goes (the hourly clean-up catches a failure here).
                let _ = state
                    .db
                    .write(move |c| crm_records::jobs::files::delete(c, id).map_err(crm_db::DbError::from))
                    .await;
            }
            Err(e)
        }
    }
}

/// An import: its status, counts (read, created, updated, unchanged, failed), rows per second
/// and the time left. Visible to the subject that started it and to admins (404 to others).
#[utoipa::path(
    tag = "imports",
    params(("id" = JobId, Path, description = "The import's id.")),
    responses((status = 200, body = Import), (status = 401, body = Problem), (status = 404, body = Problem))
)]
#[get("/imports/{id}")]
pub async fn get_import(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<JobId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| imports::get(c, &actor, id)).await?))
}

/// `?limit=20`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportsQuery {
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The newest imports the caller started (all of them for admins).
#[utoipa::path(
    tag = "imports",
    params(ImportsQuery),
    responses((status = 200, body = [Import]), (status = 400, body = Problem), (status = 401, body = Problem), (status = 422, body = Problem))
)]
#[get("/imports")]
pub async fn list_imports(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<ImportsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(Ok::<(), crm_core::actor::Forbidden>(()))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| imports::list(c, &actor, q.limit)).await?))
}

/// Cancels an import: a queued one never starts; a running one stops before its next chunk of
/// 500 rows. What it committed stays.
#[utoipa::path(
    tag = "imports",
    params(("id" = JobId, Path, description = "The import's id.")),
    responses((status = 200, body = Import), (status = 401, body = Problem), (status = 404, body = Problem))
)]
#[post("/imports/{id}/cancel")]
pub async fn cancel_import(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<JobId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.write(move |c| imports::cancel(c, &actor, id)).await?))
}

/// `?format=json|csv&after=&limit=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportErrorsQuery {
    /// `json` (default: a page) or `csv` (the whole report as one file).
    pub format: Option<String>,
    /// `next_after` of the previous page.
    pub after: Option<String>,
    /// Errors per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A page of an import's error report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportErrorPage {
    /// In row order; a row may have several (one per field).
    pub data: Vec<ImportRowError>,
    /// Pass as `after` for the next page; null on the last.
    pub next_after: Option<String>,
}

pub fn parse_after(s: &str) -> Option<(i64, i32)> {
    let (r, n) = s.split_once('.')?;
    Some((r.parse().ok()?, n.parse().ok()?))
}

/// The rows an import could not take: row number, line, field, column, a stable code and a
/// message. JSON pages, or `?format=csv` for the whole report as a CSV file (columns `row`,
/// `line`, `column`, `field`, `code`, `message`), streamed.
#[utoipa::path(
    tag = "imports",
    params(("id" = JobId, Path, description = "The import's id."), ImportErrorsQuery),
    responses(
        (status = 200, description = "A page as JSON, or with `?format=csv` the whole report as CSV",
            content((ImportErrorPage = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[get("/imports/{id}/errors")]
pub async fn import_errors(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<JobId>,
    query: crate::rest::Query<ImportErrorsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(Ok::<(), crm_core::actor::Forbidden>(()))?;
    let (actor, id) = (auth.0, id.into_inner());
    let after = match q.after.as_deref() {
        None | Some("") => None,
        Some(s) => Some(parse_after(s).ok_or_else(|| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_CURSOR", "`after` is a `next_after` value")
        })?),
    };
    match q.format.as_deref().unwrap_or("json") {
        "json" => {
            let limit = q.limit.unwrap_or(100);
            let (data, next) = state.db.run(move |c| imports::error_page(c, &actor, id, after, limit)).await?;
            Ok(HttpResponse::Ok().json(ImportErrorPage { data, next_after: next.map(|(r, n)| format!("{r}.{n}")) }))
        }
        "csv" => {
            let a = actor.clone();
            state.db.run(move |c| imports::get(c, &a, id)).await?;
            Ok(HttpResponse::Ok()
                .content_type("text/csv; charset=utf-8")
                .insert_header(("Content-Disposition", format!("attachment; filename=\"import-{id}-errors.csv\"")))
                .streaming(error_csv(state.db.clone(), actor, id)))
        }
        _ => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_FORMAT", "`format` is `json` or `csv`")),
    }
}

/// The error report as CSV, a page of 1000 at a time.
fn error_csv(
    db: crm_db::Db,
    actor: crm_core::Actor,
    id: JobId,
) -> impl futures_util::Stream<Item = Result<web::Bytes, ApiError>> {
    futures_util::stream::unfold((Some(None), true), move |(after, first)| {
        let (db, actor) = (db.clone(), actor.clone());
        async move {
            let after = after?;
            let page = db.run(move |c| imports::error_page(c, &actor, id, after, 1000)).await;
            let (rows, next) = match page {
                Ok(p) => p,
                Err(e) => return Some((Err(ApiError::from(e)), (None, false))),
            };
            let mut w = csv::Writer::from_writer(Vec::new());
            if first {
                let _ = w.write_record(["row", "line", "column", "field", "code", "message"]);
            }
            for e in &rows {
                let _ = w.write_record([
                    e.row.to_string().as_str(),
                    e.line.to_string().as_str(),
                    e.column.as_deref().unwrap_or_default(),
                    e.field.as_deref().unwrap_or_default(),
                    e.code.as_str(),
                    e.message.as_str(),
                ]);
            }
            let bytes = w.into_inner().unwrap_or_default();
            Some((Ok(web::Bytes::from(bytes)), (next.map(Some), false)))
        }
    })
}

/// `?resource=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MappingsQuery {
    /// Only this collection's (`contacts`).
    pub resource: Option<String>,
}

/// The column mappings saved by name, for `mapping_name` in an import.
#[utoipa::path(
    tag = "imports",
    params(MappingsQuery),
    responses((status = 200, body = [ImportMapping]), (status = 400, body = Problem), (status = 401, body = Problem))
)]
#[get("/import-mappings")]
pub async fn list_import_mappings(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<MappingsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(Ok::<(), crm_core::actor::Forbidden>(()))?;
    let _ = auth;
    Ok(HttpResponse::Ok()
        .json(state.db.run(move |c| imports::mappings(c, q.resource.as_deref()).map_err(crm_db::DbError::from)).await?))
}

/// A mapping to save.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingInput {
    /// Column → field (`{"E-mail": "email", "Customer No": "external_id"}`).
    pub mapping: BTreeMap<String, String>,
}

/// Saves (or replaces) a column mapping under a name, after checking every field exists on the
/// resource. Needs the resource's write scope.
#[utoipa::path(
    tag = "imports",
    params(
        ("resource" = String, Path, description = "The collection (`contacts`)."),
        ("name" = String, Path, description = "The mapping's name (`erp-contacts`).")
    ),
    request_body = MappingInput,
    responses(
        (status = 200, body = ImportMapping),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[put("/import-mappings/{resource}/{name}")]
pub async fn save_import_mapping(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(String, String)>,
    body: crate::rest::Json<MappingInput>,
) -> Result<HttpResponse, ApiError> {
    let (resource, name) = path.into_inner();
    // The resource's write scope first: a caller without it learns nothing of the body's checks.
    let authorized = crate::imports::importer_of(&resource).and_then(|i| Ok(auth.0.require(i.write)?));
    let input = body.after(authorized)?;
    let actor = auth.0;
    let saved =
        state.db.write(move |c| crate::imports::save_mapping(c, &actor, &resource, &name, input.mapping)).await?;
    Ok(HttpResponse::Ok().json(saved))
}
