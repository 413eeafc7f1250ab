//! Bulk imports: a CSV or NDJSON file of one resource's records, written through the same use
//! cases as the API's batches (validation, references, uniqueness, events), as a background
//! job that resumes after a crash from the last chunk it committed.
//!
//! Rows are read one chunk at a time (never the whole file); each chunk is written in one
//! transaction together with its per-row errors and the job's checkpoint, so a chunk is
//! either wholly in or wholly out, and a run that takes the job over skips what was committed.
//! The gateway dispatches a resource to [`run`] with the resource's record type and the field
//! kinds of its input (from the OpenAPI schema), which tell how a CSV cell is read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use crm_core::external::{BatchOp, BatchOutcome};
use crm_core::ids::{EntityId, JobId};
use crm_core::{Actor, DomainError, ExternalId, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::{import_errors, import_mappings};
use crm_db::types::DbUuid;
use diesel::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::jobs::Job;
use crate::{Record, RecordError};

/// The job kind in `jobs`.
pub const KIND: &str = "import";
/// Rows written per transaction.
pub const CHUNK_ROWS: usize = 500;
/// Rows read at which an import refreshes the statistics of the tables it grows.
const ANALYZE_AT: &[i64] = &[1_000, 4_000, 16_000, 64_000, 256_000, 1_024_000, 4_096_000];
/// A saved mapping's or a file's columns at most.
const MAX_COLUMNS: usize = 500;

wire_enum!(
    /// How the file is written.
    ImportFormat {
        /// Comma-separated, a header row first (RFC 4180 quoting), UTF-8.
        Csv = "csv",
        /// One JSON object per line.
        Ndjson = "ndjson",
    }
);

wire_enum!(
    /// What a row does.
    ImportMode {
        /// Every row creates a record.
        Create = "create",
        /// A row updates the record it matches (`match_on`), or creates one.
        Upsert = "upsert",
    }
);

/// What to import (the `import` part of the upload, or the CLI's options).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportRequest {
    /// The collection: `accounts`, `contacts`, `leads`, `products`, `purchases` or
    /// `interactions`.
    #[cfg_attr(feature = "openapi", schema(example = "contacts"))]
    pub resource: String,
    /// Default `csv`.
    #[serde(default)]
    pub format: Option<ImportFormat>,
    pub mode: ImportMode,
    /// What an upsert matches a row by: `external_id` (the default: the column mapped to
    /// `external_id`, in `source`) or a unique field of the resource (`email` for contacts and
    /// leads, `domain` for accounts, `sku` for products).
    #[serde(default)]
    pub match_on: Option<String>,
    /// The system the file's ids come from (`erp`): the source of the `external_id` column and
    /// of references written as a bare id (`account.external_id` = `A-7`).
    #[serde(default)]
    pub source: Option<String>,
    /// Column (CSV header, NDJSON key) → field (`email`, `account.external_id`,
    /// `custom_fields.segment`, `external_id`; empty: ignore the column). Columns left out are
    /// ignored. Without a mapping, each column names its field.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = json!({"E-mail": "email", "Account No": "account.external_id", "Customer No": "external_id"})))]
    pub mapping: Option<BTreeMap<String, String>>,
    /// A mapping saved under this name (`PUT /imports/mappings/{resource}/{name}`), instead of
    /// `mapping`.
    #[serde(default)]
    pub mapping_name: Option<String>,
    /// Validate every row (references and uniqueness included) and write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Contacts and accounts: check each record the import creates for a likely duplicate (as
    /// `POST` does, with the same settings) and list those in the error report with code
    /// `possible_duplicate` and the candidate; the rows are imported all the same (counted in
    /// `possible_duplicates`, not `failed`). A few lookups per created row.
    #[serde(default)]
    pub report_duplicates: bool,
}

/// The code of a row imported although it is likely a duplicate (a note, not a failure).
const POSSIBLE_DUPLICATE: &str = "possible_duplicate";

/// What the job was given: the request and what the upload held.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImportParams {
    #[serde(flatten)]
    pub request: ImportRequest,
    /// The mapping in force (the saved one, when named).
    pub columns: BTreeMap<String, String>,
    /// Data rows in the file (not counting the header).
    pub rows: i64,
    pub bytes: i64,
    /// Who started it, which the job writes as.
    #[serde(flatten)]
    pub caller: crate::jobs::Caller,
}

/// How a field's text is read from a CSV cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// `true`/`false`, `yes`/`no`, `1`/`0`.
    Bool,
    Integer,
    Number,
    /// Strings separated by `;` (or a JSON array).
    List,
    /// A JSON document in the cell.
    Json,
    /// `source:id`, or a bare id in the import's `source`.
    ExternalId,
}

/// The fields a resource's input takes, by path (`email`, `account.external_id`), with how
/// each is read.
#[derive(Clone, Debug, Default)]
pub struct Fields(pub HashMap<String, Kind>);

impl Fields {
    fn kind(&self, path: &str) -> Option<Kind> {
        if let Some(k) = self.0.get(path) {
            return Some(*k);
        }
        // Custom fields are checked by the record against their definitions.
        path.strip_prefix("custom_fields.").filter(|n| !n.is_empty() && !n.contains('.')).map(|_| Kind::Text)
    }
}

/// The target of `external_id` in a mapping: the upsert's key (and an external id of a created
/// record).
pub const EXTERNAL_ID: &str = "external_id";

/// One row that could not be imported.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct ImportRowError {
    /// The data row, from 1 (the header is not counted).
    pub row: i64,
    /// The line of the file it starts on.
    pub line: i64,
    /// The record's field, when the error is about one.
    pub field: Option<String>,
    /// The file's column that field came from.
    pub column: Option<String>,
    /// A stable code (`invalid_email`, `not_found`, `duplicate`, `invalid_number`, …).
    pub code: String,
    pub message: String,
}

/// What an import did (its job's result, and its checkpoint while it runs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "ImportCounts"))]
pub struct ImportCounts {
    /// Data rows read.
    pub read: i64,
    /// Rows that created a record (would have, in a dry run).
    pub created: i64,
    /// Rows that updated one.
    pub updated: i64,
    /// Rows that matched a record and changed nothing.
    pub unchanged: i64,
    /// Rows with an error (see the error report).
    pub failed: i64,
    /// Rows imported although likely duplicates (`report_duplicates`; in the error report).
    #[serde(default)]
    pub possible_duplicates: i64,
    /// Rows read when this run started (a run that took the job over starts after them).
    #[serde(default)]
    pub resumed_at: i64,
}

/// Reads a mapping saved by name.
pub fn saved_mapping(
    conn: &mut AnyConnection,
    resource: &str,
    name: &str,
) -> QueryResult<Option<BTreeMap<String, String>>> {
    let raw: Option<String> = import_mappings::table
        .filter(import_mappings::resource.eq(resource))
        .filter(import_mappings::name.eq(name))
        .select(import_mappings::mapping)
        .first(conn)
        .optional()?;
    Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
}

/// A mapping saved by name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct ImportMapping {
    pub resource: String,
    pub name: String,
    /// Column → field.
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub mapping: BTreeMap<String, String>,
    pub updated_by: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Saves (or replaces) a mapping under a name, after checking its fields exist.
pub fn save_mapping(
    conn: &mut AnyConnection,
    actor: &Actor,
    resource: &str,
    name: &str,
    mapping: BTreeMap<String, String>,
    fields: &Fields,
) -> Result<ImportMapping, RecordError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(RecordError::invalid("import_mapping", "name", "invalid", "a name is 1 to 100 characters"));
    }
    check_mapping(&mapping, fields)?;
    let now = crm_db::now();
    let text = serde_json::to_string(&mapping).unwrap_or_default();
    diesel::delete(
        import_mappings::table.filter(import_mappings::resource.eq(resource)).filter(import_mappings::name.eq(name)),
    )
    .execute(conn)?;
    diesel::insert_into(import_mappings::table)
        .values((
            import_mappings::resource.eq(resource),
            import_mappings::name.eq(name),
            import_mappings::mapping.eq(&text),
            import_mappings::updated_by.eq(&actor.sub),
            import_mappings::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(ImportMapping {
        resource: resource.to_string(),
        name: name.to_string(),
        mapping,
        updated_by: actor.sub.clone(),
        updated_at: now.and_utc(),
    })
}

/// The saved mappings, of one resource or all.
pub fn mappings(conn: &mut AnyConnection, resource: Option<&str>) -> QueryResult<Vec<ImportMapping>> {
    let mut q = import_mappings::table
        .select((
            import_mappings::resource,
            import_mappings::name,
            import_mappings::mapping,
            import_mappings::updated_by,
            import_mappings::updated_at,
        ))
        .order((import_mappings::resource, import_mappings::name))
        .into_boxed();
    if let Some(r) = resource {
        q = q.filter(import_mappings::resource.eq(r.to_string()));
    }
    let rows: Vec<(String, String, String, String, chrono::NaiveDateTime)> = q.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(resource, name, m, by, at)| ImportMapping {
            resource,
            name,
            mapping: serde_json::from_str(&m).unwrap_or_default(),
            updated_by: by,
            updated_at: at.and_utc(),
        })
        .collect())
}

fn check_mapping(mapping: &BTreeMap<String, String>, fields: &Fields) -> Result<(), RecordError> {
    if mapping.len() > MAX_COLUMNS {
        return Err(RecordError::invalid("import", "mapping", "too_many", "at most 500 columns"));
    }
    let mut errs = crm_core::FieldErrors::default();
    let mut targets = HashSet::new();
    for (column, target) in mapping {
        let target = target.trim();
        if target.is_empty() {
            continue;
        }
        if target != EXTERNAL_ID && fields.kind(target).is_none() {
            errs.add(
                &format!("mapping.{column}"),
                "unknown_field",
                format!("`{target}` is not a field of this resource"),
            );
        } else if !targets.insert(target.to_string()) {
            errs.add(&format!("mapping.{column}"), "mapped_twice", format!("another column is mapped to `{target}`"));
        }
    }
    errs.into_result().map_err(|errors| RecordError::Invalid { entity: "import", errors })
}

/// Checks a request against the file's columns and the resource (before the job is queued):
/// the mapping in force (column → field).
pub fn prepare<R: Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    req: &ImportRequest,
    header: &[String],
    fields: &Fields,
) -> Result<BTreeMap<String, String>, RecordError> {
    actor.require(R::WRITE)?;
    let invalid = |field: &str, code: &str, msg: String| RecordError::invalid("import", field, code, msg);
    let mapping = match (&req.mapping, &req.mapping_name) {
        (Some(_), Some(_)) => {
            return Err(invalid("mapping_name", "conflict", "give `mapping` or `mapping_name`, not both".into()));
        }
        (Some(m), None) => m.clone(),
        (None, Some(name)) => saved_mapping(conn, &req.resource, name)?.ok_or_else(|| {
            invalid("mapping_name", "not_found", format!("no saved mapping `{name}` for {}", req.resource))
        })?,
        (None, None) => header.iter().map(|h| (h.clone(), h.clone())).collect(),
    };
    check_mapping(&mapping, fields)?;
    // NDJSON has no header: its keys are known line by line.
    let csv = req.format.unwrap_or(ImportFormat::Csv) == ImportFormat::Csv;
    if csv && let Some(missing) = mapping.keys().find(|c| !header.contains(c)) {
        return Err(invalid("mapping", "unknown_column", format!("the file has no column `{missing}`")));
    }
    let mapped: HashSet<&str> = mapping.values().map(|t| t.trim()).collect();
    let keys_per_line = !csv && req.mapping.is_none() && req.mapping_name.is_none();
    if let Some(source) = &req.source {
        ExternalId::new(source, "x")
            .parse("source")
            .map_err(|e| RecordError::Invalid { entity: "import", errors: crm_core::FieldErrors(vec![e]) })?;
    }
    if req.mode == ImportMode::Upsert {
        let key = req.match_on.as_deref().unwrap_or(EXTERNAL_ID);
        if key == EXTERNAL_ID {
            if req.source.is_none() {
                return Err(invalid("source", "required", "an upsert by external id needs the ids' `source`".into()));
            }
        } else if !R::UNIQUE_FIELDS.contains(&key) {
            let allowed = std::iter::once(EXTERNAL_ID).chain(R::UNIQUE_FIELDS.iter().copied()).collect::<Vec<_>>();
            return Err(invalid(
                "match_on",
                "invalid",
                format!("{} are matched by one of: {}", req.resource, allowed.join(", ")),
            ));
        }
        if !keys_per_line && !mapped.contains(key) {
            return Err(invalid("mapping", "missing_key", format!("an upsert by `{key}` needs a column mapped to it")));
        }
    } else if mapped.contains(EXTERNAL_ID) && req.source.is_none() {
        return Err(invalid("source", "required", "an `external_id` column needs the ids' `source`".into()));
    }
    Ok(mapping)
}

/// A row's fields as JSON, and its key (the `external_id` column).
type Parsed = (Map<String, Value>, Option<String>);

/// A position in an error report: (row, error of the row).
pub type ErrorKey = (i64, i32);

/// A row read from the file: its JSON object, or why it could not be read.
struct Row {
    number: i64,
    line: i64,
    value: Result<Parsed, Vec<ImportRowError>>,
}

/// A readable row with its number and line.
struct Numbered {
    number: i64,
    line: i64,
    obj: Map<String, Value>,
    key: Option<String>,
}

/// Where each column goes.
struct Columns {
    /// Per column of the file: the target path and how it is read.
    targets: Vec<Option<(String, Kind)>>,
    header: Vec<String>,
}

fn set_path(obj: &mut Map<String, Value>, path: &str, v: Value) {
    let mut parts = path.split('.').peekable();
    let mut cur = obj;
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(p.to_string(), v);
            return;
        }
        let next = cur.entry(p.to_string()).or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        let Value::Object(m) = next else { return };
        cur = m;
    }
}

/// Reads a cell as its field's kind.
fn cell(kind: Kind, raw: &str, source: Option<&str>) -> Result<Value, (&'static str, String)> {
    let t = raw.trim();
    match kind {
        Kind::Text => Ok(Value::String(raw.to_string())),
        Kind::Bool => match t.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "n" | "0" => Ok(Value::Bool(false)),
            _ => Err(("invalid_boolean", format!("`{t}` is not true or false"))),
        },
        Kind::Integer => {
            t.parse::<i64>().map(Value::from).map_err(|_| ("invalid_integer", format!("`{t}` is not a whole number")))
        }
        Kind::Number => t
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or(("invalid_number", format!("`{t}` is not a number"))),
        Kind::List if t.starts_with('[') => {
            serde_json::from_str(t).map_err(|e| ("invalid_json", format!("not a JSON array: {e}")))
        }
        Kind::List => Ok(Value::Array(
            t.split(';').map(str::trim).filter(|s| !s.is_empty()).map(|s| Value::String(s.to_string())).collect(),
        )),
        Kind::Json => serde_json::from_str(t).map_err(|e| ("invalid_json", format!("not JSON: {e}"))),
        Kind::ExternalId => {
            let (src, id) = match (t.split_once(':'), source) {
                (Some((s, id)), _) => (s, id),
                (None, Some(s)) => (s, t),
                (None, None) => {
                    return Err((
                        "invalid_external_id",
                        format!("`{t}` needs a source (`erp:{t}`) or the import's source"),
                    ));
                }
            };
            Ok(serde_json::json!({ "source": src, "id": id }))
        }
    }
}

impl Columns {
    fn new(header: Vec<String>, mapping: &BTreeMap<String, String>, fields: &Fields) -> Columns {
        let targets = header
            .iter()
            .map(|h| {
                let t = mapping.get(h)?.trim();
                if t.is_empty() {
                    return None;
                }
                let kind = if t == EXTERNAL_ID { Kind::Text } else { fields.kind(t)? };
                Some((t.to_string(), kind))
            })
            .collect();
        Columns { targets, header }
    }

    fn column_of(&self, field: &str) -> Option<String> {
        let i = self
            .targets
            .iter()
            .position(|t| t.as_ref().is_some_and(|(p, _)| field == p || field.starts_with(&format!("{p}."))))?;
        Some(self.header[i].clone())
    }

    fn csv_row(&self, number: i64, line: i64, rec: &csv::StringRecord, source: Option<&str>) -> Row {
        let mut obj = Map::new();
        let mut key = None;
        let mut errors = Vec::new();
        for (i, raw) in rec.iter().enumerate() {
            let Some(Some((path, kind))) = self.targets.get(i) else { continue };
            if raw.trim().is_empty() {
                continue;
            }
            if path == EXTERNAL_ID {
                key = Some(raw.trim().to_string());
                continue;
            }
            match cell(*kind, raw, source) {
                Ok(v) => set_path(&mut obj, path, v),
                Err((code, message)) => errors.push(ImportRowError {
                    row: number,
                    line,
                    field: Some(path.clone()),
                    column: Some(self.header[i].clone()),
                    code: code.to_string(),
                    message,
                }),
            }
        }
        Row { number, line, value: if errors.is_empty() { Ok((obj, key)) } else { Err(errors) } }
    }

    fn json_row(&self, number: i64, line: &str, mapping: Option<&BTreeMap<String, String>>) -> Row {
        let row_error = |code: &str, message: String| {
            Err(vec![ImportRowError {
                row: number,
                line: number,
                field: None,
                column: None,
                code: code.to_string(),
                message,
            }])
        };
        let value = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => {
                let mut obj = Map::new();
                let mut key = None;
                for (k, v) in m {
                    let target = match mapping {
                        Some(map) => match map.get(&k).map(|t| t.trim()) {
                            Some(t) if !t.is_empty() => t.to_string(),
                            _ => continue,
                        },
                        None => k,
                    };
                    if target == EXTERNAL_ID {
                        key = match v {
                            Value::String(s) => Some(s),
                            Value::Number(n) => Some(n.to_string()),
                            _ => None,
                        };
                    } else if !v.is_null() {
                        set_path(&mut obj, &target, v);
                    }
                }
                Ok((obj, key))
            }
            Ok(_) => row_error("invalid_row", "a line is one JSON object".into()),
            Err(e) => row_error("invalid_json", format!("not JSON: {e}")),
        };
        Row { number, line: number, value }
    }
}

/// The rows of a file, read lazily.
enum Rows<S: Read> {
    Csv {
        reader: csv::Reader<S>,
        columns: Columns,
        record: csv::StringRecord,
        source: Option<String>,
    },
    /// `mapping`: None when the request had none (each key names its field).
    Ndjson {
        lines: std::io::Lines<std::io::BufReader<S>>,
        columns: Columns,
        mapping: Option<BTreeMap<String, String>>,
    },
}

impl<S: Read> Rows<S> {
    fn open(source: S, params: &ImportParams, fields: &Fields) -> Result<Rows<S>, String> {
        match params.request.format.unwrap_or(ImportFormat::Csv) {
            ImportFormat::Csv => {
                let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(source);
                let header: Vec<String> = reader
                    .headers()
                    .map_err(|e| format!("unreadable header: {e}"))?
                    .iter()
                    .map(str::to_string)
                    .collect();
                let columns = Columns::new(header, &params.columns, fields);
                Ok(Rows::Csv {
                    reader,
                    columns,
                    record: csv::StringRecord::new(),
                    source: params.request.source.clone(),
                })
            }
            ImportFormat::Ndjson => {
                use std::io::BufRead;
                Ok(Rows::Ndjson {
                    lines: std::io::BufReader::with_capacity(1 << 16, source).lines(),
                    columns: Columns { targets: Vec::new(), header: Vec::new() },
                    mapping: (!params.columns.is_empty()).then(|| params.columns.clone()),
                })
            }
        }
    }

    fn columns(&self) -> &Columns {
        match self {
            Rows::Csv { columns, .. } | Rows::Ndjson { columns, .. } => columns,
        }
    }

    /// The next row (numbered from `number`), None at the end.
    fn next(&mut self, number: i64) -> Result<Option<Row>, String> {
        match self {
            Rows::Csv { reader, columns, record, source } => match reader.read_record(record) {
                Ok(false) => Ok(None),
                Ok(true) => {
                    let line = record.position().map(|p| p.line() as i64).unwrap_or(number + 1);
                    Ok(Some(columns.csv_row(number, line, record, source.as_deref())))
                }
                Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => Err(format!("reading the file failed: {e}")),
                Err(e) => {
                    let line = e.position().map(|p| p.line() as i64).unwrap_or(number + 1);
                    Ok(Some(Row {
                        number,
                        line,
                        value: Err(vec![ImportRowError {
                            row: number,
                            line,
                            field: None,
                            column: None,
                            code: "invalid_csv".into(),
                            message: e.to_string(),
                        }]),
                    }))
                }
            },
            Rows::Ndjson { lines, columns, mapping } => loop {
                match lines.next() {
                    None => return Ok(None),
                    Some(Err(e)) => return Err(format!("reading the file failed: {e}")),
                    Some(Ok(l)) if l.trim().is_empty() => continue,
                    Some(Ok(l)) => {
                        return Ok(Some(columns.json_row(number, &l, mapping.as_ref())));
                    }
                }
            },
        }
    }
}

/// What counting a file found: data rows, the CSV header, bytes.
pub type Counted = (i64, Vec<String>, i64);

/// Counts the data rows of an upload as it streams in (quoted line breaks included), and keeps
/// the header.
pub struct RowCounter {
    format: ImportFormat,
    csv: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    records: i64,
    in_record: bool,
    header: Option<Vec<String>>,
    header_bytes: Vec<u8>,
    bytes: i64,
}

impl RowCounter {
    pub fn new(format: ImportFormat) -> RowCounter {
        RowCounter {
            format,
            csv: csv_core::Reader::new(),
            out: vec![0; 1 << 16],
            ends: vec![0; MAX_COLUMNS + 1],
            records: 0,
            in_record: false,
            header: None,
            header_bytes: Vec::new(),
            bytes: 0,
        }
    }

    /// Feeds the next bytes of the file.
    pub fn feed(&mut self, mut data: &[u8]) {
        self.bytes += data.len() as i64;
        if self.format == ImportFormat::Ndjson {
            self.count_lines(data);
            return;
        }
        if self.header.is_none() && self.header_bytes.len() < (1 << 20) {
            self.header_bytes.extend_from_slice(&data[..data.len().min((1 << 20) - self.header_bytes.len())]);
        }
        loop {
            let (res, read, _, _) = self.csv.read_record(data, &mut self.out, &mut self.ends);
            data = &data[read..];
            match res {
                csv_core::ReadRecordResult::InputEmpty => {
                    self.in_record = true;
                    return;
                }
                csv_core::ReadRecordResult::OutputFull | csv_core::ReadRecordResult::OutputEndsFull => {
                    // A record longer than the buffers: keep reading it (counted once it ends).
                    self.in_record = true;
                    if read == 0 {
                        let n = self.out.len();
                        self.out.resize(n * 2, 0);
                        let m = self.ends.len();
                        self.ends.resize(m * 2, 0);
                    }
                }
                csv_core::ReadRecordResult::Record => {
                    self.records += 1;
                    self.in_record = false;
                }
                csv_core::ReadRecordResult::End => return,
            }
        }
    }

    fn count_lines(&mut self, data: &[u8]) {
        for line in data.split_inclusive(|b| *b == b'\n') {
            let blank = line.iter().all(u8::is_ascii_whitespace);
            if !blank {
                self.in_record = true;
            }
            if line.ends_with(b"\n") {
                if self.in_record {
                    self.records += 1;
                }
                self.in_record = false;
            }
        }
    }

    /// Ends the file: the data rows it holds, the CSV header and the bytes.
    pub fn finish(mut self) -> Counted {
        if self.format == ImportFormat::Ndjson {
            return (self.records + i64::from(self.in_record), Vec::new(), self.bytes);
        }
        if self.in_record {
            let (res, _, _, _) = self.csv.read_record(&[], &mut self.out, &mut self.ends);
            if res == csv_core::ReadRecordResult::Record {
                self.records += 1;
            }
        }
        let header = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(&self.header_bytes[..])
            .headers()
            .map(|h| h.iter().map(str::to_string).collect())
            .unwrap_or_default();
        self.header = Some(header);
        ((self.records - 1).max(0), self.header.unwrap_or_default(), self.bytes)
    }
}

/// Why a chunk was not committed.
enum ChunkStop {
    /// The job is no longer this run's (cancelled, or taken over).
    Lost,
    Failed(String),
}

impl From<diesel::result::Error> for ChunkStop {
    fn from(e: diesel::result::Error) -> Self {
        ChunkStop::Failed(e.to_string())
    }
}

impl From<crm_db::DbError> for ChunkStop {
    fn from(e: crm_db::DbError) -> Self {
        ChunkStop::Failed(e.to_string())
    }
}

/// A row turned into a batch operation.
struct Ready<R: Record> {
    number: i64,
    line: i64,
    op: BatchOp<R::Input, R::Patch, R::Id>,
}

/// The operations of a chunk: rows parsed into the resource's input (or patch), matched by
/// their unique key when the upsert is by one.
fn operations<R: Record>(
    conn: &mut AnyConnection,
    params: &ImportParams,
    rows: Vec<Numbered>,
    errors: &mut Vec<ImportRowError>,
    columns: &Columns,
) -> QueryResult<Vec<Ready<R>>>
where
    R::Input: DeserializeOwned,
    R::Patch: DeserializeOwned,
{
    let req = &params.request;
    let source = req.source.as_deref().unwrap_or_default();
    let key_field = req.match_on.as_deref().unwrap_or(EXTERNAL_ID);
    let mut out = Vec::with_capacity(rows.len());
    for Numbered { number, line, mut obj, key: ext } in rows {
        let fail = |errors: &mut Vec<ImportRowError>, field: Option<String>, code: &str, message: String| {
            let column = field.as_deref().and_then(|f| columns.column_of(f));
            errors.push(ImportRowError { row: number, line, field, column, code: code.to_string(), message });
        };
        let ext = ext.map(|id| ExternalId::new(source, &id));
        let op = match (req.mode, key_field) {
            (ImportMode::Upsert, EXTERNAL_ID) => {
                let Some(external_id) = ext else {
                    fail(errors, Some(EXTERNAL_ID.into()), "required", "the row has no external id".into());
                    continue;
                };
                match serde_json::from_value::<R::Patch>(Value::Object(obj)) {
                    Ok(data) => BatchOp::Upsert { external_id, data },
                    Err(e) => {
                        fail(errors, None, "invalid", e.to_string());
                        continue;
                    }
                }
            }
            (ImportMode::Upsert, field) => {
                let raw = obj.get(field).and_then(Value::as_str).map(str::to_string);
                let Some(key) = raw.as_deref().and_then(|k| R::unique_key(field, k)) else {
                    fail(errors, Some(field.into()), "required", format!("the row has no valid {field} to match on"));
                    continue;
                };
                let mut cond = crm_db::sql::Sql::new(conn.backend());
                cond.push(field).push(" = ").bind(key).push(" AND archived_at IS NULL");
                let found = crm_db::sql::first_id(conn, R::catalog().table, cond)?;
                if let Some(e) = ext {
                    obj.insert("external_ids".into(), serde_json::json!([e]));
                }
                let parsed = match found {
                    Some(id) => serde_json::from_value::<R::Patch>(Value::Object(obj)).map(|data| BatchOp::Update {
                        id: R::Id::from_uuid(id),
                        data,
                        expected_version: None,
                    }),
                    None => serde_json::from_value::<R::Input>(Value::Object(obj)).map(|data| BatchOp::Create { data }),
                };
                match parsed {
                    Ok(op) => op,
                    Err(e) => {
                        fail(errors, None, "invalid", e.to_string());
                        continue;
                    }
                }
            }
            (ImportMode::Create, _) => {
                if let Some(e) = ext {
                    obj.insert("external_ids".into(), serde_json::json!([e]));
                }
                match serde_json::from_value::<R::Input>(Value::Object(obj)) {
                    Ok(data) => BatchOp::Create { data },
                    Err(e) => {
                        fail(errors, None, "invalid", e.to_string());
                        continue;
                    }
                }
            }
        };
        out.push(Ready { number, line, op });
    }
    Ok(out)
}

/// The errors a failed operation reports, one per field.
fn row_errors(e: &RecordError, number: i64, line: i64, columns: &Columns) -> Vec<ImportRowError> {
    let fields = e.field_errors();
    let one = |field: Option<String>, code: &str, message: String| ImportRowError {
        row: number,
        line,
        column: field.as_deref().and_then(|f| columns.column_of(f)),
        field,
        code: code.to_string(),
        message,
    };
    if fields.is_empty() {
        let field = match e {
            RecordError::Duplicate { field, .. } => Some(field.to_string()),
            RecordError::ExternalIdTaken { .. } => Some(EXTERNAL_ID.to_string()),
            _ => None,
        };
        return vec![one(field, &e.code().to_ascii_lowercase(), e.to_string())];
    }
    fields.into_iter().map(|f| one(Some(f.field.clone()), &f.code, f.message.clone())).collect()
}

fn store_errors(conn: &mut AnyConnection, job: JobId, errors: &[ImportRowError]) -> QueryResult<()> {
    let mut n_of: HashMap<i64, i32> = HashMap::new();
    for part in errors.chunks(200) {
        let rows: Vec<_> = part
            .iter()
            .map(|e| {
                let n = n_of.entry(e.row).or_insert(0);
                *n += 1;
                (
                    import_errors::job_id.eq(DbUuid(job.0)),
                    import_errors::row_number.eq(e.row),
                    import_errors::n.eq(*n),
                    import_errors::line.eq(e.line),
                    import_errors::field.eq(e.field.clone()),
                    import_errors::column_name.eq(e.column.clone()),
                    import_errors::code.eq(e.code.clone()),
                    import_errors::message.eq(e.message.clone()),
                )
            })
            .collect();
        crm_db::insert_rows!(conn, import_errors::table, rows)?;
    }
    Ok(())
}

/// A page of an import's row errors, in row order, after row `after`.
pub fn errors(
    conn: &mut AnyConnection,
    job: JobId,
    after: Option<ErrorKey>,
    limit: i64,
) -> QueryResult<Vec<(ImportRowError, i32)>> {
    let mut q = import_errors::table
        .filter(import_errors::job_id.eq(DbUuid(job.0)))
        .select((
            import_errors::row_number,
            import_errors::n,
            import_errors::line,
            import_errors::field,
            import_errors::column_name,
            import_errors::code,
            import_errors::message,
        ))
        .order((import_errors::row_number, import_errors::n))
        .limit(limit)
        .into_boxed();
    if let Some((row, n)) = after {
        q = q.filter(
            import_errors::row_number.gt(row).or(import_errors::row_number.eq(row).and(import_errors::n.gt(n))),
        );
    }
    type ErrorRow = (i64, i32, i64, Option<String>, Option<String>, String, String);
    let rows: Vec<ErrorRow> = q.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(row, n, line, field, column, code, message)| {
            (ImportRowError { row, line, field, column, code, message }, n)
        })
        .collect())
}

/// Runs an import job (or resumes it after its checkpoint) as `owner`, reading the file from
/// `source`: its counts, or None when the job stopped being this run's (cancelled, or taken
/// over). `progress` hears (total, done, failed) after each chunk.
pub fn run<R: Record>(
    db: &crm_db::Db,
    job: &Job,
    owner: &str,
    source: Box<dyn Read + '_>,
    fields: &Fields,
    lease: &dyn Fn() -> chrono::NaiveDateTime,
    progress: &mut dyn FnMut(i64, i64, i64) -> bool,
) -> Result<Option<ImportCounts>, String>
where
    R::Input: DeserializeOwned,
    R::Patch: DeserializeOwned,
{
    let params: ImportParams =
        serde_json::from_value(job.params.clone()).map_err(|e| format!("bad parameters: {e}"))?;
    let actor = params.caller.actor(&job.created_by);
    let mut counts: ImportCounts = db
        .run_sync(|c| crate::jobs::checkpoint(c, job.id).map_err(crm_db::DbError::from))
        .map_err(|e| e.to_string())?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    counts.resumed_at = counts.read;
    let mut rows = Rows::open(source, &params, fields)?;
    let total = params.rows.max(counts.read);
    // Skip what a previous run committed.
    let mut number = 0;
    while number < counts.read {
        number += 1;
        if rows.next(number)?.is_none() {
            break;
        }
    }
    let key_field = params.request.match_on.as_deref().unwrap_or(EXTERNAL_ID);
    let by_unique = params.request.mode == ImportMode::Upsert && key_field != EXTERNAL_ID;
    let mut carry: Option<Row> = None;
    let mut ended = false;
    while !ended {
        // Read a chunk; an upsert by a unique field ends it before a key seen in it, which the
        // earlier row may be creating.
        let mut chunk: Vec<Row> = Vec::with_capacity(CHUNK_ROWS);
        let mut keys = HashSet::new();
        while chunk.len() < CHUNK_ROWS {
            let row = match carry.take() {
                Some(r) => r,
                None => match rows.next(number + 1)? {
                    Some(r) => {
                        number += 1;
                        r
                    }
                    None => {
                        ended = true;
                        break;
                    }
                },
            };
            if by_unique
                && let Ok((obj, _)) = &row.value
                && let Some(k) = obj.get(key_field).and_then(Value::as_str).and_then(|k| R::unique_key(key_field, k))
                && !keys.insert(k)
            {
                carry = Some(row);
                break;
            }
            chunk.push(row);
        }
        if chunk.is_empty() && carry.is_none() {
            break;
        }
        let read = chunk.len() as i64;
        let mut next = counts.clone();
        next.read += read;
        let outcome = db.bulk_transaction_sync(|c| -> Result<ImportCounts, ChunkStop> {
            let mut errors = Vec::new();
            let mut parsed = Vec::with_capacity(chunk.len());
            for row in chunk {
                match row.value {
                    Ok((obj, key)) => parsed.push(Numbered { number: row.number, line: row.line, obj, key }),
                    Err(e) => errors.extend(e),
                }
            }
            let ready = operations::<R>(c, &params, parsed, &mut errors, rows.columns())?;
            let (numbers, ops): (Vec<(i64, i64)>, Vec<_>) =
                ready.into_iter().map(|r| ((r.number, r.line), r.op)).unzip();
            let mut n = next.clone();
            let mark = crm_db::outbox::mark();
            // An update that changes nothing answers the record as it was, written before now.
            let started = crm_db::to_utc(crm_db::now());
            let report = params.request.report_duplicates;
            let write = |c: &mut AnyConnection| crate::batch::batch_reporting::<R>(c, &actor, ops, false, report);
            let written = if params.request.dry_run {
                // Written in a savepoint that is rolled back, events included.
                let mut kept = None;
                let _ = c.transaction::<(), diesel::result::Error, _>(|c| {
                    kept = Some(write(c));
                    Err(diesel::result::Error::RollbackTransaction)
                });
                crm_db::outbox::truncate(mark);
                kept.unwrap_or_else(|| Ok((Vec::new(), Vec::new())))
            } else {
                write(c)
            };
            let (results, flagged) = written.map_err(|(_, e)| ChunkStop::Failed(e.to_string()))?;
            for (i, ((number, line), r)) in numbers.into_iter().zip(results).enumerate() {
                match r {
                    Ok(BatchOutcome::Created(_)) => n.created += 1,
                    Ok(BatchOutcome::Updated(x)) if x.meta().updated_at < started => n.unchanged += 1,
                    Ok(BatchOutcome::Updated(_) | BatchOutcome::Archived(_)) => n.updated += 1,
                    Err(e) => errors.extend(row_errors(&e, number, line, rows.columns())),
                }
                if let Some((_, e)) = flagged.iter().find(|(at, _)| *at == i) {
                    n.possible_duplicates += 1;
                    errors.extend(row_errors(e, number, line, rows.columns()));
                }
            }
            let failed_rows: HashSet<i64> =
                errors.iter().filter(|e| e.code != POSSIBLE_DUPLICATE).map(|e| e.row).collect();
            n.failed += failed_rows.len() as i64;
            store_errors(c, job.id, &errors)?;
            let checkpoint = serde_json::to_value(&n).unwrap_or_default();
            if !crate::jobs::save_checkpoint(c, job.id, owner, &checkpoint, (Some(total), n.read, n.failed), lease())? {
                return Err(ChunkStop::Lost);
            }
            Ok(n)
        });
        // Statistics keep up with the tables the import grows (PostgreSQL), at 1k, 4k, 16k, …
        // rows, so its lookups keep their index plans.
        let before = counts.read;
        match outcome {
            Ok(n) => counts = n,
            Err(ChunkStop::Lost) => return Ok(None),
            Err(ChunkStop::Failed(e)) => return Err(e),
        }
        if !params.request.dry_run
            && let Some(mark) = ANALYZE_AT.iter().find(|m| before < **m && counts.read >= **m)
        {
            let tables = ["external_ids", R::catalog().table];
            if let Err(e) = db.run_sync(|c| crm_db::analyze_tables(c, &tables).map_err(crm_db::DbError::from)) {
                tracing::warn!(job = %job.id, rows = mark, error = %e, "refreshing statistics failed");
            }
        }
        if !progress(total, counts.read, counts.failed) {
            return Ok(None);
        }
    }
    Ok(Some(counts))
}

/// An import job as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Import {
    pub id: JobId,
    pub status: crate::jobs::JobStatus,
    /// The collection (`contacts`).
    pub resource: String,
    pub format: ImportFormat,
    pub mode: ImportMode,
    /// What an upsert matches on.
    pub match_on: Option<String>,
    /// The system of the file's external ids.
    pub source: Option<String>,
    pub dry_run: bool,
    /// Column → field, as applied.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub mapping: BTreeMap<String, String>,
    /// Data rows in the file.
    pub rows: i64,
    /// The file's size in bytes.
    pub bytes: i64,
    /// What it did so far (all of it once it ended).
    pub counts: ImportCounts,
    /// `counts.read` over `rows`, 0 to 100.
    pub percent: f64,
    /// Rows read per second in the current (or last) run.
    pub rows_per_second: Option<f64>,
    /// Seconds left at that pace, while it runs.
    pub eta_seconds: Option<i64>,
    /// Why it failed (the rows' own errors are in the error report).
    pub error: Option<String>,
    /// The error report: `GET` it as JSON pages, or with `?format=csv` as one CSV file.
    pub errors_url: String,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn view(job: Job, checkpoint: Option<Value>) -> Option<Import> {
    let params: ImportParams = serde_json::from_value(job.params).ok()?;
    let counts: ImportCounts =
        job.result.or(checkpoint).and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
    let running = job.status == crate::jobs::JobStatus::Running;
    let rows_per_second = job.started_at.and_then(|s| {
        let secs = (job.finished_at.unwrap_or(job.updated_at) - s).num_milliseconds() as f64 / 1000.0;
        let read = counts.read - counts.resumed_at;
        (secs > 0.0 && read > 0).then(|| (read as f64 / secs * 10.0).round() / 10.0)
    });
    let eta_seconds = match rows_per_second {
        Some(rate) if running && rate > 0.0 => Some(((params.rows - counts.read).max(0) as f64 / rate).ceil() as i64),
        _ => None,
    };
    let percent = if params.rows <= 0 {
        if job.finished_at.is_some() { 100.0 } else { 0.0 }
    } else {
        (counts.read as f64 * 1000.0 / params.rows as f64).round().min(1000.0) / 10.0
    };
    Some(Import {
        id: job.id,
        status: job.status,
        resource: params.request.resource,
        format: params.request.format.unwrap_or(ImportFormat::Csv),
        mode: params.request.mode,
        match_on: match params.request.mode {
            ImportMode::Upsert => Some(params.request.match_on.unwrap_or_else(|| EXTERNAL_ID.to_string())),
            ImportMode::Create => None,
        },
        source: params.request.source,
        dry_run: params.request.dry_run,
        mapping: params.columns,
        rows: params.rows,
        bytes: params.bytes,
        counts,
        percent,
        rows_per_second,
        eta_seconds,
        error: job.error,
        errors_url: format!("/api/v1/imports/{}/errors", job.id),
        created_by: job.created_by,
        created_at: job.created_at,
        started_at: job.started_at,
        updated_at: job.updated_at,
        finished_at: job.finished_at,
    })
}

/// Writes a queued import in the audit log: who loads what into which resource, how much.
pub fn audit_queued(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: JobId,
    params: &ImportParams,
) -> Result<(), RecordError> {
    let r = &params.request;
    let details = serde_json::json!({
        "resource": r.resource, "mode": r.mode, "dry_run": r.dry_run, "rows": params.rows, "bytes": params.bytes,
    });
    crm_events::audit::append(conn, actor, "import.queued", Some(("job", id.uuid())), details)?;
    Ok(())
}

/// An import, for the subject that started it or an admin (404 for others).
pub fn get(conn: &mut AnyConnection, actor: &Actor, id: JobId) -> Result<Import, RecordError> {
    let job = crate::jobs::get(conn, actor, id)?;
    if job.kind != KIND {
        return Err(RecordError::NotFound { entity: "import" });
    }
    let checkpoint = crate::jobs::checkpoint(conn, id)?;
    view(job, checkpoint).ok_or(RecordError::NotFound { entity: "import" })
}

/// The newest imports the caller may see (at most `limit`, 1 to 100, default 20).
pub fn list(conn: &mut AnyConnection, actor: &Actor, limit: Option<u32>) -> Result<Vec<Import>, RecordError> {
    let jobs = crate::jobs::list(conn, actor, Some(KIND), limit)?;
    let mut out = Vec::with_capacity(jobs.len());
    for job in jobs {
        let checkpoint = crate::jobs::checkpoint(conn, job.id)?;
        out.extend(view(job, checkpoint));
    }
    Ok(out)
}

/// Cancels an import: a running one stops before its next chunk; what it committed stays.
pub fn cancel(conn: &mut AnyConnection, actor: &Actor, id: JobId) -> Result<Import, RecordError> {
    crate::jobs::cancel(conn, actor, id, KIND)?;
    get(conn, actor, id)
}

/// A page of an import's error report (for whoever may see the import).
pub fn error_page(
    conn: &mut AnyConnection,
    actor: &Actor,
    id: JobId,
    after: Option<ErrorKey>,
    limit: u32,
) -> Result<(Vec<ImportRowError>, Option<ErrorKey>), RecordError> {
    get(conn, actor, id)?;
    let limit = crm_core::list::page_size(limit, 1000)?;
    let mut rows = errors(conn, id, after, i64::from(limit) + 1)?;
    let next = (rows.len() > limit as usize).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|(e, n)| (e.row, *n))
    });
    Ok((rows.into_iter().map(|(e, _)| e).collect(), next.flatten()))
}
