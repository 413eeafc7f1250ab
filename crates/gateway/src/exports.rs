//! Bulk exports (crm_records::exports) for the API and the job runner: the resources that can
//! be exported, their CSV columns (the field paths of the record's OpenAPI schema, custom
//! fields included), the export job writing its file into the database, and the direct stream.

use crm_accounts::Account;
use crm_campaigns::Campaign;
use crm_cases::Case;
use crm_contacts::Contact;
use crm_core::Actor;
use crm_db::{AnyConnection, Db};
use crm_interactions::Interaction;
use crm_products::{Product, Purchase};
use crm_records::exports::{self, Encoder, ExportFormat, ExportRequest, ExportResult, Table};
use crm_records::jobs::{self, Job};
use crm_records::{Record, RecordError};
use crm_sales::{Activity, Lead, Opportunity};
use crm_users::User;
use serde_json::Value;

/// Bytes written to the job's file at a time.
const PIECE: usize = 1 << 20;

type Count = fn(&mut AnyConnection, &Actor, &ExportRequest) -> Result<i64, RecordError>;
/// Takes encoded bytes and the records so far; false stops the export.
type Sink<'a> = dyn FnMut(&[u8], i64) -> Result<bool, String> + 'a;
type Pages = fn(&Db, &Actor, &ExportRequest, &mut Encoder, &mut Sink<'_>) -> Result<(), String>;

/// A resource that can be exported.
pub struct Exporter {
    pub collection: &'static str,
    /// Its record's schema in the OpenAPI document.
    schema: &'static str,
    count: Count,
    pages: Pages,
}

/// Reads the list page by page and encodes each, handing the bytes and the records so far to
/// `sink` (false: stop).
fn encode_pages<R: Record>(
    db: &Db,
    actor: &Actor,
    request: &ExportRequest,
    encoder: &mut Encoder,
    sink: &mut Sink<'_>,
) -> Result<(), String> {
    let mut rows = 0;
    let mut buf = Vec::with_capacity(PIECE);
    exports::pages::<R>(db, actor, request, &mut |page| {
        buf.clear();
        encoder.encode(page, &mut buf)?;
        rows += page.len() as i64;
        sink(&buf, rows)
    })?;
    buf.clear();
    encoder.finish(&mut buf)?;
    if !buf.is_empty() {
        sink(&buf, rows)?;
    }
    Ok(())
}

const fn exporter<R: Record>(collection: &'static str, schema: &'static str) -> Exporter {
    Exporter { collection, schema, count: exports::count::<R>, pages: encode_pages::<R> }
}

pub const EXPORTERS: &[Exporter] = &[
    exporter::<Account>("accounts", "Account"),
    exporter::<Contact>("contacts", "Contact"),
    exporter::<Lead>("leads", "Lead"),
    exporter::<Opportunity>("opportunities", "Opportunity"),
    exporter::<Activity>("activities", "Activity"),
    exporter::<Interaction>("interactions", "Interaction"),
    exporter::<Case>("cases", "Case"),
    exporter::<Product>("products", "Product"),
    exporter::<Purchase>("purchases", "Purchase"),
    exporter::<User>("users", "User"),
    exporter::<Campaign>("campaigns", "Campaign"),
];

/// The exporter of a collection, or a 422 naming those there are.
pub fn exporter_of(resource: &str) -> Result<&'static Exporter, RecordError> {
    EXPORTERS.iter().find(|e| e.collection == resource).ok_or_else(|| {
        let names: Vec<&str> = EXPORTERS.iter().map(|e| e.collection).collect();
        RecordError::invalid("export", "resource", "invalid", format!("one of: {}", names.join(", ")))
    })
}

/// The export's columns, checked against the resource's fields (custom fields defined now).
fn table(conn: &mut AnyConnection, exporter: &Exporter, fields: Option<&str>) -> Result<Table, RecordError> {
    let defs = crm_records::custom::live_fields(conn, None)?;
    let doc = crate::openapi::with_custom_fields(&defs);
    let all: Vec<String> = doc
        .pointer(&format!("/components/schemas/{}", exporter.schema))
        .map(|s| crate::imports::field_paths(&doc, s).into_iter().map(|(p, _)| p).collect())
        .unwrap_or_default();
    Table::new(&all, fields)
}

/// Checks a request (resource, fields, filter, sort) and counts its records.
pub fn check(conn: &mut AnyConnection, actor: &Actor, request: &ExportRequest) -> Result<i64, RecordError> {
    let exporter = exporter_of(&request.resource)?;
    table(conn, exporter, request.fields.as_deref())?;
    (exporter.count)(conn, actor, request)
}

/// Queues an export job.
pub fn start(conn: &mut AnyConnection, actor: &Actor, request: &ExportRequest) -> Result<exports::Export, RecordError> {
    check(conn, actor, request)?;
    let params = serde_json::to_value(exports::ExportParams::new(actor, request)).unwrap_or_default();
    let job = jobs::enqueue(conn, actor, exports::KIND, &params)?;
    exports::audit(conn, actor, "export.queued", job.id, request, None)?;
    exports::get(conn, actor, job.id)
}

/// Runs an export job: the file goes into the database a piece at a time (an export taken
/// over after a crash starts again from the beginning).
pub fn run_job(db: &Db, job: &Job, report: &mut dyn FnMut(i64, i64, i64) -> bool) -> Result<Option<Value>, String> {
    let params: exports::ExportParams =
        serde_json::from_value(job.params.clone()).map_err(|e| format!("bad parameters: {e}"))?;
    let (request, actor) = (&params.request, params.actor(&job.created_by));
    let exporter = exporter_of(&request.resource).map_err(|e| e.to_string())?;
    let (table, total) = db
        .run_sync(|c| -> Result<_, RecordError> {
            Ok((table(c, exporter, request.fields.as_deref())?, (exporter.count)(c, &actor, request)?))
        })
        .map_err(|e| e.to_string())?;
    db.transaction_sync(|c| jobs::files::delete(c, job.id).map_err(crm_db::DbError::from))
        .map_err(|e| e.to_string())?;
    let mut encoder = Encoder::new(request.format.unwrap_or(ExportFormat::Csv), table);
    let (mut piece, mut seq, mut bytes, mut rows, mut held) = (Vec::with_capacity(PIECE), 0, 0i64, 0i64, true);
    let write = |piece: &mut Vec<u8>, seq: &mut i32| -> Result<(), String> {
        let data = std::mem::take(piece);
        let s = *seq;
        *seq += 1;
        db.transaction_sync(|c| jobs::files::append(c, job.id, s, &data).map_err(crm_db::DbError::from))
            .map_err(|e| e.to_string())
    };
    (exporter.pages)(db, &actor, request, &mut encoder, &mut |chunk, so_far| {
        piece.extend_from_slice(chunk);
        bytes += chunk.len() as i64;
        rows = so_far;
        if piece.len() >= PIECE {
            write(&mut piece, &mut seq)?;
        }
        held = report(total.max(rows), rows, 0);
        Ok(held)
    })?;
    if !held {
        return Ok(None);
    }
    if !piece.is_empty() {
        write(&mut piece, &mut seq)?;
    }
    report(rows, rows, 0);
    Ok(Some(serde_json::to_value(ExportResult { rows, bytes, direct: false, withdrawn: false }).unwrap_or_default()))
}

/// Streams a list to the caller, page by page (memory stays flat): the table is checked and
/// the export recorded first.
pub fn stream(
    db: Db,
    actor: Actor,
    request: ExportRequest,
) -> impl futures_util::Stream<Item = Result<actix_web::web::Bytes, crate::problem::ApiError>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<actix_web::web::Bytes, crate::problem::ApiError>>(4);
    std::thread::spawn(move || {
        let run = || -> Result<(), String> {
            let exporter = exporter_of(&request.resource).map_err(|e| e.to_string())?;
            let t = db.run_sync(|c| table(c, exporter, request.fields.as_deref())).map_err(|e| e.to_string())?;
            let mut encoder = Encoder::new(request.format.unwrap_or(ExportFormat::Csv), t);
            (exporter.pages)(&db, &actor, &request, &mut encoder, &mut |chunk, _| {
                Ok(tx.blocking_send(Ok(actix_web::web::Bytes::copy_from_slice(chunk))).is_ok())
            })
        };
        if let Err(e) = run() {
            let _ = tx.blocking_send(Err(crate::problem::ApiError::internal(e)));
        }
    });
    tokio_stream_from(rx)
}

fn tokio_stream_from<T: Send + 'static>(mut rx: tokio::sync::mpsc::Receiver<T>) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
