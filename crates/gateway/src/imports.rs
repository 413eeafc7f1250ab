//! Bulk imports (crm_records::imports) for the API, the CLI and the job runner: the resources
//! that can be imported, how a CSV cell of each field is read (off the input's OpenAPI schema,
//! custom fields typed by their definitions), the upload streamed into the job's file, and the
//! job run.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use crm_accounts::Account;
use crm_contacts::Contact;
use crm_core::Actor;
use crm_core::ids::JobId;
use crm_db::{AnyConnection, Db};
use crm_interactions::Interaction;
use crm_products::{Product, Purchase};
use crm_records::imports::{
    self, Counted, Fields, ImportCounts, ImportFormat, ImportParams, ImportRequest, Kind, RowCounter,
};
use crm_records::jobs::{self, Job};
use crm_records::{Record, RecordError};
use crm_sales::Lead;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Bytes kept in memory before a piece of the upload is written (one row of `job_files`).
pub const FILE_CHUNK: usize = 1 << 20;
/// The largest file an import takes.
pub const MAX_FILE_BYTES: i64 = 4 << 30;

type Prepare =
    fn(&mut AnyConnection, &Actor, &ImportRequest, &[String], &Fields) -> Result<BTreeMap<String, String>, RecordError>;
type Run = for<'a> fn(
    &Db,
    &Job,
    &str,
    Box<dyn Read + 'a>,
    &Fields,
    &dyn Fn() -> chrono::NaiveDateTime,
    &mut dyn FnMut(i64, i64, i64) -> bool,
) -> Result<Option<ImportCounts>, String>;

/// A resource that can be imported.
pub struct Importer {
    pub collection: &'static str,
    /// The scope its writes need.
    pub write: crm_core::Scope,
    /// Its input's schema in the OpenAPI document.
    input: &'static str,
    prepare: Prepare,
    run: Run,
}

const fn importer<R: Record>(collection: &'static str, input: &'static str) -> Importer
where
    R::Input: DeserializeOwned,
    R::Patch: DeserializeOwned,
{
    Importer { collection, write: R::WRITE, input, prepare: imports::prepare::<R>, run: imports::run::<R> }
}

pub const IMPORTERS: &[Importer] = &[
    importer::<Account>("accounts", "AccountInput"),
    importer::<Contact>("contacts", "ContactInput"),
    importer::<Lead>("leads", "LeadInput"),
    importer::<Product>("products", "ProductInput"),
    importer::<Purchase>("purchases", "PurchaseInput"),
    importer::<Interaction>("interactions", "InteractionInput"),
];

/// The importer of a collection, or a 422 naming those there are.
pub fn importer_of(resource: &str) -> Result<&'static Importer, RecordError> {
    IMPORTERS.iter().find(|i| i.collection == resource).ok_or_else(|| {
        let names: Vec<&str> = IMPORTERS.iter().map(|i| i.collection).collect();
        RecordError::invalid("import", "resource", "invalid", format!("one of: {}", names.join(", ")))
    })
}

/// Saves a column mapping for a resource (its writers may).
pub fn save_mapping(
    conn: &mut AnyConnection,
    actor: &Actor,
    resource: &str,
    name: &str,
    mapping: BTreeMap<String, String>,
) -> Result<imports::ImportMapping, RecordError> {
    let importer = importer_of(resource)?;
    actor.require(importer.write)?;
    let fields = fields(conn, importer)?;
    imports::save_mapping(conn, actor, resource, name, mapping, &fields)
}

/// Each field path of a schema with how it is read, in order (nested objects to three levels;
/// an external id is one field).
pub fn field_paths(doc: &Value, schema: &Value) -> Vec<(String, Kind)> {
    let mut out = Vec::new();
    walk(doc, schema, "", 0, &mut out);
    out
}

fn walk(doc: &Value, schema: &Value, prefix: &str, depth: usize, out: &mut Vec<(String, Kind)>) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return };
    for (name, s) in props {
        let path = format!("{prefix}{name}");
        match resolve(doc, s) {
            (Some("ExternalId"), _) => out.push((path, Kind::ExternalId)),
            (_, r) if r.get("properties").is_some() => {
                if depth < 3 {
                    walk(doc, r, &format!("{path}."), depth + 1, out);
                }
            }
            (_, r) => out.push((path, kind_of(doc, r))),
        }
    }
}

/// A schema with `oneOf [x, null]` and `$ref` followed: the name of the component it ends at,
/// and the schema.
fn resolve<'a>(doc: &'a Value, mut s: &'a Value) -> (Option<&'a str>, &'a Value) {
    let mut name = None;
    for _ in 0..8 {
        if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
            match one.iter().find(|v| v.get("type").and_then(Value::as_str) != Some("null")) {
                Some(v) => s = v,
                None => break,
            }
        } else if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let n = r.rsplit('/').next().unwrap_or_default();
            name = Some(n);
            match doc.pointer(&format!("/components/schemas/{n}")) {
                Some(v) => s = v,
                None => break,
            }
        } else {
            break;
        }
    }
    (name, s)
}

fn kind_of(doc: &Value, s: &Value) -> Kind {
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("string"),
        _ => "string",
    };
    match ty {
        "boolean" => Kind::Bool,
        "integer" => Kind::Integer,
        "number" => Kind::Number,
        "array" => {
            let items = s.get("items").map(|i| resolve(doc, i).1);
            match items.map(|i| kind_of(doc, i)) {
                Some(Kind::Text) if items.is_some_and(|i| i.get("properties").is_none()) => Kind::List,
                _ => Kind::Json,
            }
        }
        "object" => Kind::Json,
        _ => Kind::Text,
    }
}

/// The fields an import of `importer` maps columns to, with the custom fields defined now.
pub fn fields(conn: &mut AnyConnection, importer: &Importer) -> Result<Fields, RecordError> {
    let defs = crm_records::custom::live_fields(conn, None)?;
    let doc = crate::openapi::with_custom_fields(&defs);
    let mut out: HashMap<String, Kind> = HashMap::new();
    if let Some(schema) = doc.pointer(&format!("/components/schemas/{}", importer.input)) {
        out.extend(field_paths(&doc, schema));
    }
    // Ids in other systems go through `external_id` (and `external_ids` as JSON).
    out.insert("external_ids".to_string(), Kind::Json);
    Ok(Fields(out))
}

/// Checks a request against the uploaded file's header and queues the job under `id`.
pub fn queue(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: JobId,
    request: ImportRequest,
    (rows, header, bytes): Counted,
) -> Result<imports::Import, RecordError> {
    let importer = importer_of(&request.resource)?;
    let fields = fields(conn, importer)?;
    let columns = (importer.prepare)(conn, actor, &request, &header, &fields)?;
    let params = ImportParams { request, columns, rows, bytes, caller: crm_records::jobs::Caller::of(actor) };
    imports::audit_queued(conn, actor, id, &params)?;
    let params = serde_json::to_value(&params).unwrap_or_default();
    jobs::enqueue_as(conn, actor, id, imports::KIND, &params)?;
    imports::get(conn, actor, id)
}

/// A piece of an upload to store: its number and bytes.
pub type Piece = (i32, Vec<u8>);

/// Stores an upload piece by piece as it arrives, counting its rows.
pub struct Upload {
    pub id: JobId,
    /// The file's rows counted as each format it may be in (both while the `import` part,
    /// which names the format, has not come yet: parts may come in any order).
    counters: Vec<(ImportFormat, RowCounter)>,
    buf: Vec<u8>,
    seq: i32,
    bytes: i64,
}

impl Upload {
    pub fn new(format: Option<ImportFormat>) -> Upload {
        let formats = match format {
            Some(f) => vec![f],
            None => vec![ImportFormat::Csv, ImportFormat::Ndjson],
        };
        let counters = formats.into_iter().map(|f| (f, RowCounter::new(f))).collect();
        Upload { id: JobId::new(), counters, buf: Vec::new(), seq: 0, bytes: 0 }
    }

    /// Takes the next bytes; a full piece to write when one is ready (`seq`, data).
    pub fn take(&mut self, data: &[u8]) -> Result<Option<Piece>, RecordError> {
        self.bytes += data.len() as i64;
        if self.bytes > MAX_FILE_BYTES {
            return Err(RecordError::invalid("import", "file", "too_large", "an import file is at most 4 GiB"));
        }
        for (_, c) in &mut self.counters {
            c.feed(data);
        }
        self.buf.extend_from_slice(data);
        Ok((self.buf.len() >= FILE_CHUNK).then(|| self.piece()))
    }

    fn piece(&mut self) -> Piece {
        let seq = self.seq;
        self.seq += 1;
        (seq, std::mem::replace(&mut self.buf, Vec::with_capacity(FILE_CHUNK)))
    }

    /// Ends the upload: the last piece to write (if any), and a way to count it in its format.
    pub fn finish(mut self) -> (Option<Piece>, Counters) {
        let last = (!self.buf.is_empty()).then(|| self.piece());
        (last, Counters(self.counters))
    }
}

/// An upload's row counts, in the formats it was counted as.
pub struct Counters(Vec<(ImportFormat, RowCounter)>);

impl Counters {
    /// (rows, header, bytes) of the file read as `format`.
    pub fn of(self, format: ImportFormat) -> Counted {
        self.0.into_iter().find(|(f, _)| *f == format).map(|(_, c)| c.finish()).unwrap_or_else(|| (0, Vec::new(), 0))
    }
}

/// Runs an import job (from the runner): its file is read from the database as it goes.
pub fn run_job(
    db: &Db,
    job: &Job,
    owner: &str,
    lease: &dyn Fn() -> chrono::NaiveDateTime,
    report: &mut dyn FnMut(i64, i64, i64) -> bool,
) -> Result<Option<Value>, String> {
    let resource = job.params.get("resource").and_then(Value::as_str).unwrap_or_default();
    let importer = importer_of(resource).map_err(|e| e.to_string())?;
    let fields = db.run_sync(|c| fields(c, importer)).map_err(|e| e.to_string())?;
    let reader = Box::new(jobs::files::Reader::new(db, job.id));
    let outcome = (importer.run)(db, job, owner, reader, &fields, lease, report);
    let done = !matches!(outcome, Ok(None));
    let cancelled = db
        .run_sync(|c| jobs::status_of(c, job.id).map_err(crm_db::DbError::from))
        .is_ok_and(|s| s == Some(jobs::JobStatus::Cancelled));
    // The file goes once the job ended here (not when another instance took it over).
    if (done || cancelled)
        && let Err(e) = db.transaction_sync(|c| jobs::files::delete(c, job.id).map_err(crm_db::DbError::from))
    {
        tracing::warn!(job = %job.id, error = %e, "dropping an import's file failed");
    }
    outcome.map(|o| o.map(|c| serde_json::to_value(c).unwrap_or_default()))
}

/// Runs an import of a local file in the foreground (the CLI): queued as a job like an upload
/// (its progress is visible over the API too) and run here, reading the file from disk.
pub fn run_local(
    db: &Db,
    actor: &Actor,
    request: ImportRequest,
    path: &std::path::Path,
    progress: &mut dyn FnMut(i64, i64, i64),
) -> Result<(imports::Import, Option<ImportCounts>), String> {
    let format = request.format.unwrap_or(ImportFormat::Csv);
    let mut counter = RowCounter::new(format);
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = vec![0; FILE_CHUNK];
    loop {
        let n = f.read(&mut buf).map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        counter.feed(&buf[..n]);
    }
    let id = JobId::new();
    let counted = counter.finish();
    db.transaction_sync(|c| queue(c, actor, id, request, counted)).map_err(|e| e.to_string())?;
    let owner = format!("cli-{}", std::process::id());
    let lease = || crm_db::now() + chrono::Duration::minutes(10);
    let now = crm_db::now();
    let job = db
        .transaction_sync(|c| jobs::claim_one(c, id, &owner, now, lease()))
        .map_err(|e| e.to_string())?
        .ok_or("the job was taken by a server before this command could start it")?;
    let importer = importer_of(job.params.get("resource").and_then(Value::as_str).unwrap_or_default())
        .map_err(|e| e.to_string())?;
    let fields = db.run_sync(|c| fields(c, importer)).map_err(|e| e.to_string())?;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader = Box::new(std::io::BufReader::with_capacity(1 << 16, file));
    let outcome = (importer.run)(db, &job, &owner, reader, &fields, &lease, &mut |t, d, f| {
        progress(t, d, f);
        true
    });
    let result = match &outcome {
        Ok(Some(c)) => Ok(serde_json::to_value(c).unwrap_or_default()),
        Ok(None) => Err("cancelled".to_string()),
        Err(e) => Err(e.clone()),
    };
    if !matches!(outcome, Ok(None)) {
        db.transaction_sync(|c| jobs::finish(c, id, &owner, result).map_err(crm_db::DbError::from))
            .map_err(|e| e.to_string())?;
    }
    let counts = outcome?;
    let view = db.run_sync(|c| imports::get(c, actor, id)).map_err(|e| e.to_string())?;
    Ok((view, counts))
}
