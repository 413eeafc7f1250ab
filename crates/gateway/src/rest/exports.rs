//! `/api/v1/exports`: any list as CSV or NDJSON, streamed straight back when it is small, or as
//! a job whose file is kept for a day; every export is logged (`GET /exports`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use crm_core::ids::JobId;
use crm_records::exports::{self, Export, ExportFormat, ExportRequest};
use crm_records::jobs::JobStatus;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// The most records a streamed export takes; larger ones run as a job (`POST /exports`).
pub const DIRECT_MAX: i64 = 100_000;

/// Starts an export as a background job: the list (resource, filter, search, sort, archived,
/// fields) is written page by page into a file kept for 24 hours. Answers 202; follow it at
/// `Location`, then download `download_url`. Needs the resource's read scope.
#[utoipa::path(
    tag = "exports",
    request_body = ExportRequest,
    responses(
        (status = 202, body = Export, headers(("Location" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[post("/exports")]
pub async fn start_export(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<ExportRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.after(Ok::<(), ApiError>(()))?;
    let actor = auth.0;
    let export = state.db.write(move |c| crate::exports::start(c, &actor, &request)).await?;
    Ok(HttpResponse::Accepted().insert_header(("Location", format!("/api/v1/exports/{}", export.id))).json(export))
}

/// Streams a list of at most 100,000 records as CSV or NDJSON, read page by page (larger
/// lists: `POST /exports`, answered here with `422 EXPORT_TOO_LARGE`). The export is logged.
/// Needs the resource's read scope.
#[utoipa::path(
    tag = "exports",
    params(ExportRequest),
    responses(
        (status = 200, description = "The records: CSV with `format=csv` (the default), NDJSON with `format=ndjson`",
            content((String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[get("/exports/stream")]
pub async fn stream_export(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<ExportRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = query.after(Ok::<(), ApiError>(()))?;
    let actor = auth.0;
    let (a, r) = (actor.clone(), request.clone());
    let rows = state.db.run(move |c| crate::exports::check(c, &a, &r)).await?;
    if rows > DIRECT_MAX {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "EXPORT_TOO_LARGE",
            format!(
                "{rows} records are more than a streamed export takes ({DIRECT_MAX}); start a job with POST /api/v1/exports"
            ),
        ));
    }
    let (a, r) = (actor.clone(), request.clone());
    let id = state.db.write(move |c| exports::record_direct(c, &a, &r, rows)).await?;
    let format = request.format.unwrap_or(ExportFormat::Csv);
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header(("Content-Disposition", attachment(&request.resource, id, format)))
        .insert_header(("X-Export-Id", id.to_string()))
        .streaming(crate::exports::stream(state.db.clone(), actor, request)))
}

fn attachment(resource: &str, id: JobId, format: ExportFormat) -> String {
    format!("attachment; filename=\"{resource}-{id}.{}\"", format.extension())
}

/// An export: its status, records written of the total, and where to download it.
#[utoipa::path(
    tag = "exports",
    params(("id" = JobId, Path, description = "The export's id.")),
    responses((status = 200, body = Export), (status = 401, body = Problem), (status = 404, body = Problem))
)]
#[get("/exports/{id}")]
pub async fn get_export(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<JobId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| exports::get(c, &actor, id)).await?))
}

/// The exports the caller made, newest first (everyone's for admins: who exported what, when,
/// and how many records).
#[utoipa::path(
    tag = "exports",
    params(crate::rest::imports::ImportsQuery),
    responses((status = 200, body = [Export]), (status = 400, body = Problem), (status = 401, body = Problem), (status = 422, body = Problem))
)]
#[get("/exports")]
pub async fn list_exports(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<crate::rest::imports::ImportsQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(Ok::<(), crm_core::actor::Forbidden>(()))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| exports::list(c, &actor, q.limit)).await?))
}

/// Downloads a finished export's file (`409 EXPORT_NOT_READY` while it runs, `410
/// EXPORT_EXPIRED` after 24 hours, for a streamed one, or when an erasure withdrew it).
#[utoipa::path(
    tag = "exports",
    params(("id" = JobId, Path, description = "The export's id.")),
    responses(
        (status = 200, description = "The file, in the export's format",
            content((String = "text/csv"), (String = "application/x-ndjson"))),
        (status = 401, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 410, body = Problem)
    )
)]
#[get("/exports/{id}/file")]
pub async fn download_export(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<JobId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    let export = state.db.run(move |c| exports::get(c, &actor, id)).await?;
    if export.status != JobStatus::Succeeded {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "EXPORT_NOT_READY",
            format!("the export is {}", export.status.as_str()),
        ));
    }
    if export.download_url.is_none() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "EXPORT_EXPIRED",
            "the file is no longer kept (24 hours), or it was withdrawn because it held a person since erased",
        ));
    }
    Ok(HttpResponse::Ok()
        .content_type(export.format.content_type())
        .insert_header(("Content-Disposition", attachment(&export.resource, id, export.format)))
        .streaming(job_file(state.db.clone(), id)))
}

/// A job's stored file (an export, an access bundle), streamed chunk by chunk as it is read.
pub fn job_file(db: crm_db::Db, id: JobId) -> impl futures_util::Stream<Item = Result<web::Bytes, ApiError>> {
    futures_util::stream::unfold(Some(0), move |seq| {
        let db = db.clone();
        async move {
            let s = seq?;
            match db.run(move |c| crm_records::jobs::files::chunk(c, id, s).map_err(crm_db::DbError::from)).await {
                Ok(Some(data)) => Some((Ok::<_, ApiError>(web::Bytes::from(data)), Some(s + 1))),
                Ok(None) => None,
                Err(e) => Some((Err(ApiError::from(e)), None)),
            }
        }
    })
}
