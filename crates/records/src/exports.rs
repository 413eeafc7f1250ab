//! Bulk exports: any list (its filter, search, sort and archived choice) as CSV or NDJSON, read
//! page by page in keyset order so memory stays flat whatever the size. Small lists stream
//! straight to the caller; large ones run as a job whose file is kept in the database for a
//! day. Every export, streamed or not, is a row of `jobs`: who exported what, when, and how
//! many rows (the audit log, `GET /exports`).

use crm_core::ids::{EntityId, JobId};
use crm_core::list::ListParams;
use crm_core::{Actor, wire_enum};
use crm_db::AnyConnection;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::jobs::{Job, JobStatus};
use crate::{Record, RecordError};

/// The job kind in `jobs`.
pub const KIND: &str = "export";
/// Records read per page.
pub const PAGE: u32 = 1000;
/// How long a finished export's file can be downloaded.
pub const KEEP_HOURS: i64 = 24;

wire_enum!(
    /// How the file is written.
    ExportFormat {
        /// A header row of field paths (`email`, `lifetime_value.amount_minor`), then one record per
        /// row; lists of strings joined by `;`, other lists and objects as JSON.
        Csv = "csv",
        /// One JSON record per line, as the API shows it.
        Ndjson = "ndjson",
    }
);

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Ndjson => "application/x-ndjson",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Ndjson => "ndjson",
        }
    }
}

/// What to export: a list as `GET /{resource}` would show it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ExportRequest {
    /// The collection (`contacts`).
    pub resource: String,
    /// Default `csv`.
    #[serde(default)]
    pub format: Option<ExportFormat>,
    /// The list's filter expression (`and(city[eq]:Seoul,lifecycle_stage[eq]:customer)`).
    #[serde(default)]
    pub filter: Option<String>,
    /// Full-text search.
    #[serde(default)]
    pub q: Option<String>,
    /// The list's sort (`last_name,first_name`); default the resource's.
    #[serde(default)]
    pub sort: Option<String>,
    /// `false` (default), `true` or `only`.
    #[serde(default)]
    pub archived: Option<String>,
    /// Comma-separated fields (`id` always comes); default all. For CSV, nested fields by path
    /// (`lifetime_value.amount_minor`) or whole (`lifetime_value`).
    #[serde(default)]
    pub fields: Option<String>,
}

impl ExportRequest {
    /// The list parameters of the export (one page's worth; the cursor moves on).
    pub fn list_params(&self) -> Result<ListParams, RecordError> {
        let archived = match self.archived.as_deref() {
            None => crm_core::list::Archived::Exclude,
            Some(a) => crm_core::list::Archived::parse(a).ok_or_else(|| {
                RecordError::invalid("export", "archived", "invalid_value", "`archived` is true, false or only")
            })?,
        };
        Ok(ListParams {
            limit: Some(PAGE),
            sort: self.sort.clone(),
            filter: self.filter.clone(),
            q: self.q.clone(),
            archived,
            ..Default::default()
        })
    }
}

/// What an export job was given: the request and who asked, which it reads as (so the export
/// holds exactly the records that caller could list).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExportParams {
    #[serde(flatten)]
    pub request: ExportRequest,
    #[serde(flatten)]
    pub caller: crate::jobs::Caller,
}

impl ExportParams {
    pub fn new(actor: &Actor, request: &ExportRequest) -> ExportParams {
        ExportParams { request: request.clone(), caller: crate::jobs::Caller::of(actor) }
    }

    /// The actor the job reads as.
    pub fn actor(&self, created_by: &str) -> Actor {
        self.caller.actor(created_by)
    }
}

/// The columns of a CSV export (field paths), and how a record becomes a row.
#[derive(Clone, Debug)]
pub struct Table {
    pub columns: Vec<String>,
    /// The keys leading to each column's value (`lifetime_value`, `amount_minor`).
    paths: Vec<Vec<String>>,
}

impl Table {
    /// `all`: every field path of the resource (id first); `fields`: the chosen ones, each a
    /// path of `all` or a prefix of some (a whole object).
    pub fn new(all: &[String], fields: Option<&str>) -> Result<Table, RecordError> {
        let mut columns: Vec<String> = vec!["id".to_string()];
        match fields.map(str::trim).filter(|f| !f.is_empty()) {
            None => columns.extend(all.iter().filter(|c| *c != "id").cloned()),
            Some(list) => {
                for f in list.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                    let prefix = format!("{f}.");
                    let matching: Vec<&String> = all.iter().filter(|c| *c == f || c.starts_with(&prefix)).collect();
                    if matching.is_empty() {
                        return Err(RecordError::invalid(
                            "export",
                            "fields",
                            "invalid_value",
                            format!("no field `{f}` to export"),
                        ));
                    }
                    for c in matching {
                        if !columns.contains(c) {
                            columns.push(c.clone());
                        }
                    }
                }
            }
        }
        let paths = columns.iter().map(|c| c.split('.').map(str::to_string).collect()).collect();
        Ok(Table { columns, paths })
    }

    /// The top-level fields the columns come from (an NDJSON projection).
    pub fn top_level(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for c in &self.columns {
            let top = c.split('.').next().unwrap_or(c);
            if !out.contains(&top) {
                out.push(top);
            }
        }
        out
    }

    /// A record's cells.
    pub fn row<'a>(&self, record: &'a Value, cells: &mut Vec<std::borrow::Cow<'a, str>>) {
        use std::borrow::Cow;
        cells.clear();
        for path in &self.paths {
            let value = path.iter().try_fold(record, |v, key| v.get(key.as_str()));
            cells.push(match value {
                None | Some(Value::Null) => Cow::Borrowed(""),
                Some(Value::String(s)) => Cow::Borrowed(s.as_str()),
                Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                    Cow::Owned(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(";"))
                }
                Some(v @ (Value::Array(_) | Value::Object(_))) => Cow::Owned(v.to_string()),
                Some(v) => Cow::Owned(v.to_string()),
            });
        }
    }
}

/// Writes records to bytes in the export's format.
pub struct Encoder {
    format: ExportFormat,
    table: Table,
    header_done: bool,
}

impl Encoder {
    pub fn new(format: ExportFormat, table: Table) -> Encoder {
        Encoder { format, table, header_done: false }
    }

    /// Appends records to `out`.
    pub fn encode<R: Serialize>(&mut self, records: &[R], out: &mut Vec<u8>) -> Result<(), String> {
        match self.format {
            ExportFormat::Ndjson => {
                let keep = self.table.top_level();
                for r in records {
                    let mut v = serde_json::to_value(r).map_err(|e| e.to_string())?;
                    if let Value::Object(m) = &mut v {
                        m.retain(|k, _| keep.contains(&k.as_str()));
                    }
                    serde_json::to_writer(&mut *out, &v).map_err(|e| e.to_string())?;
                    out.push(b'\n');
                }
            }
            ExportFormat::Csv => {
                let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(&mut *out);
                if !self.header_done {
                    self.header_done = true;
                    w.write_record(&self.table.columns).map_err(|e| e.to_string())?;
                }
                for r in records {
                    let v = serde_json::to_value(r).map_err(|e| e.to_string())?;
                    let mut cells = Vec::with_capacity(self.table.columns.len());
                    self.table.row(&v, &mut cells);
                    w.write_record(cells.iter().map(|c| c.as_bytes())).map_err(|e| e.to_string())?;
                }
                w.flush().map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// What an empty export writes (a CSV header).
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        if self.format == ExportFormat::Csv && !self.header_done {
            self.encode::<Value>(&[], out)?;
        }
        Ok(())
    }
}

/// Reads the whole list page by page, handing each page to `sink` (false: stop). The next page
/// is read on a thread of its own while `sink` encodes this one (at most one page waits).
pub fn pages<R: Record>(
    db: &crm_db::Db,
    actor: &Actor,
    request: &ExportRequest,
    sink: &mut dyn FnMut(&[R]) -> Result<bool, String>,
) -> Result<(), String> {
    let mut params = request.list_params().map_err(|e| e.to_string())?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<R>, String>>(1);
    std::thread::scope(|s| {
        s.spawn(move || {
            loop {
                let page = match db.run_sync(|c| crate::list::<R>(c, actor, &params)) {
                    Ok(page) => page,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
                // The receiver is gone when the sink stopped or failed.
                if tx.send(Ok(page.data)).is_err() {
                    return;
                }
                match page.next_cursor {
                    Some(c) => params.cursor = Some(c),
                    None => return,
                }
            }
        });
        for page in rx {
            if !sink(&page?)? {
                break;
            }
        }
        Ok(())
    })
}

/// Checks an export's list parameters and counts its records (the first page is read, so a bad
/// filter or sort is refused here).
pub fn count<R: Record>(conn: &mut AnyConnection, actor: &Actor, request: &ExportRequest) -> Result<i64, RecordError> {
    let mut params = request.list_params()?;
    params.limit = Some(1);
    params.count = true;
    let page = crate::list::<R>(conn, actor, &params)?;
    Ok(page.total.unwrap_or(page.data.len() as i64))
}

/// What an export did (its job's result).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportResult {
    pub rows: i64,
    pub bytes: i64,
    /// Streamed to the caller, not kept.
    #[serde(default)]
    pub direct: bool,
    /// Its file was deleted before its time because it held a person since erased.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
}

/// An export as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Export {
    pub id: JobId,
    pub status: JobStatus,
    pub resource: String,
    pub format: ExportFormat,
    pub filter: Option<String>,
    pub q: Option<String>,
    pub sort: Option<String>,
    pub fields: Option<String>,
    /// Streamed straight to the caller (nothing kept to download).
    pub direct: bool,
    /// Records to write (counted when it started).
    pub total: Option<i64>,
    /// Records written.
    pub rows: i64,
    pub bytes: i64,
    pub percent: Option<f64>,
    pub eta_seconds: Option<i64>,
    /// Where to download the file once it succeeded (until `expires_at`).
    pub download_url: Option<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub error: Option<String>,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn view(job: Job) -> Option<Export> {
    let req = serde_json::from_value::<ExportParams>(job.params.clone()).ok()?.request;
    let result: Option<ExportResult> = job.result.clone().and_then(|v| serde_json::from_value(v).ok());
    let direct = result.as_ref().is_some_and(|r| r.direct);
    let expires_at = job.finished_at.map(|f| f + chrono::Duration::hours(KEEP_HOURS));
    let withdrawn = result.as_ref().is_some_and(|r| r.withdrawn);
    let downloadable = job.status == JobStatus::Succeeded
        && !direct
        && !withdrawn
        && expires_at.is_some_and(|e| e > chrono::Utc::now());
    Some(Export {
        id: job.id,
        status: job.status,
        resource: req.resource,
        format: req.format.unwrap_or(ExportFormat::Csv),
        filter: req.filter,
        q: req.q,
        sort: req.sort,
        fields: req.fields,
        direct,
        total: job.total,
        rows: result.as_ref().map_or(job.done, |r| r.rows),
        bytes: result.as_ref().map_or(0, |r| r.bytes),
        percent: job.percent,
        eta_seconds: job.eta_seconds,
        download_url: downloadable.then(|| format!("/api/v1/exports/{}/file", job.id)),
        expires_at: expires_at.filter(|_| !direct),
        error: job.error,
        created_by: job.created_by,
        created_at: job.created_at,
        finished_at: job.finished_at,
    })
}

/// An export, for the subject that started it or an admin (404 for others).
pub fn get(conn: &mut AnyConnection, actor: &Actor, id: JobId) -> Result<Export, RecordError> {
    let job = crate::jobs::get(conn, actor, id)?;
    if job.kind != KIND {
        return Err(RecordError::NotFound { entity: "export" });
    }
    view(job).ok_or(RecordError::NotFound { entity: "export" })
}

/// The newest exports the caller made (everyone's for admins: the audit log).
pub fn list(conn: &mut AnyConnection, actor: &Actor, limit: Option<u32>) -> Result<Vec<Export>, RecordError> {
    Ok(crate::jobs::list(conn, actor, Some(KIND), limit)?.into_iter().filter_map(view).collect())
}

/// Records a streamed export in the audit log (a job that ended as it began).
pub fn record_direct(
    conn: &mut AnyConnection,
    actor: &Actor,
    request: &ExportRequest,
    rows: i64,
) -> Result<JobId, RecordError> {
    let params = serde_json::to_value(ExportParams::new(actor, request)).unwrap_or_default();
    let job = crate::jobs::enqueue(conn, actor, KIND, &params)?;
    let result = ExportResult { rows, bytes: 0, direct: true, withdrawn: false };
    crate::jobs::finish_now(conn, job.id, rows, &serde_json::to_value(result).unwrap_or_default())?;
    audit(conn, actor, "export.streamed", job.id, request, Some(rows))?;
    Ok(job.id)
}

/// Writes an export in the audit log (and the server log): who read which list, and, streamed,
/// how many records.
pub fn audit(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: &str,
    job: JobId,
    request: &ExportRequest,
    rows: Option<i64>,
) -> Result<(), RecordError> {
    tracing::info!(target: "audit", export = %job, subject = %actor.sub, resource = %request.resource, rows, "{action}");
    let mut details = serde_json::to_value(request).unwrap_or_default();
    if let (Some(rows), Some(d)) = (rows, details.as_object_mut()) {
        d.insert("rows".into(), rows.into());
    }
    crm_events::audit::append(conn, actor, action, Some(("job", job.uuid())), details)?;
    Ok(())
}
