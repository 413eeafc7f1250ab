//! A small builder for the dynamic parts of list queries (filters, keyset conditions,
//! search), rendered with real bind parameters on either backend.

use chrono::{NaiveDate, NaiveDateTime};
use crm_core::filter::{FieldDef, FieldKind, Literal, Op, Resolved};
use crm_core::list::{Archived, Cursor, ListError, ListQuery, SortKey, search_tokens, sort_signature_with};
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Date, Double, Text, Timestamp};

use crate::conn::{Backend, MultiBackend};
use crate::types::{DbUuid, Uid};

/// A bound value.
#[derive(Clone, Debug, PartialEq)]
pub enum Bind {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Timestamp(NaiveDateTime),
    Date(NaiveDate),
    Uuid(DbUuid),
}

impl From<Literal> for Bind {
    fn from(l: Literal) -> Bind {
        match l {
            Literal::Text(s) => Bind::Text(s),
            Literal::Int(i) => Bind::Int(i),
            Literal::Float(f) => Bind::Float(f),
            Literal::Bool(b) => Bind::Bool(b),
            Literal::Timestamp(t) => Bind::Timestamp(t),
            Literal::Date(d) => Bind::Date(d),
            Literal::Uuid(u) => Bind::Uuid(DbUuid(u)),
        }
    }
}

#[derive(Clone, Debug)]
enum Part {
    Raw(String),
    Bind(Bind),
}

/// A boolean SQL expression built from trusted text (column names from a catalog) and binds.
#[derive(Clone, Debug)]
pub struct Sql {
    parts: Vec<Part>,
    backend: Backend,
    /// Caller-shaped SQL (arbitrary filters) is not kept in the prepared-statement cache.
    cacheable: bool,
}

impl Sql {
    pub fn new(backend: Backend) -> Sql {
        Sql { parts: Vec::new(), backend, cacheable: true }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        match self.parts.last_mut() {
            Some(Part::Raw(r)) => r.push_str(s),
            _ => self.parts.push(Part::Raw(s.to_string())),
        }
        self
    }

    pub fn bind(&mut self, b: impl Into<Bind>) -> &mut Self {
        self.parts.push(Part::Bind(b.into()));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// `self AND other`.
    pub fn and(&mut self, other: Sql) -> &mut Self {
        if other.is_empty() {
            return self;
        }
        if !self.is_empty() {
            self.push(" AND ");
        }
        self.cacheable &= other.cacheable;
        self.push("(");
        self.parts.extend(other.parts);
        self.push(")")
    }

    /// Appends `other` as it is (no parentheses).
    pub fn append(&mut self, other: Sql) -> &mut Self {
        self.cacheable &= other.cacheable;
        for p in other.parts {
            match p {
                Part::Raw(r) => {
                    self.push(&r);
                }
                b => self.parts.push(b),
            }
        }
        self
    }

    /// The SQL text with `?` for binds (for logs and tests).
    pub fn debug_text(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Raw(r) => r.clone(),
                Part::Bind(_) => "?".into(),
            })
            .collect()
    }
}

/// The largest id set that [`in_ids`] keeps prepared on PostgreSQL.
pub const GENERIC_PLAN_MAX_IDS: usize = 100;

/// `column IN (ids)` with one statement shape whatever the number of ids, so the driver keeps
/// it prepared (diesel's `eq_any` writes one placeholder per id, and such statements are parsed
/// and planned on every call): SQLite reads the ids from one bound JSON array (`json_each`),
/// PostgreSQL from one bound array literal (`unnest`). On SQLite this also keeps the planner
/// from recompiling the statement for each set of values, which it does for `IN (?, ?, …)` on
/// an indexed column once `ANALYZE` has stored value samples. On PostgreSQL the array is read
/// in a subquery, so it is converted once: `= ANY(CAST(? AS uuid[]))` can end up as a row
/// filter that converts the whole literal again for every row it tests (580 ms for 1000 ids
/// against 1000 rows). `column` is trusted SQL text.
///
/// On PostgreSQL a set of more than [`GENERIC_PLAN_MAX_IDS`] ids is planned for each call
/// instead of kept prepared: after five calls PostgreSQL swaps a prepared statement's per-call
/// plans for one generic plan, made from the statistics of that moment and assuming about ten
/// ids. When those statistics say the table is empty (it was analyzed before any row arrived,
/// as after a deploy or a seed), that plan scans the table once per id: 650 ms to read the
/// external ids of a batch of 1000 against 1000 rows, growing with the table until the next
/// `ANALYZE`. Planning one such statement per batch costs a fraction of a millisecond; the small
/// sets of the read paths (a page's related records) stay prepared.
pub fn in_ids(column: &str, ids: impl IntoIterator<Item = uuid::Uuid>, backend: Backend) -> Sql {
    let ids: Vec<String> = ids.into_iter().map(|u| u.hyphenated().to_string()).collect();
    let mut out = Sql::new(backend);
    out.cacheable = backend == Backend::Sqlite || ids.len() <= GENERIC_PLAN_MAX_IDS;
    match backend {
        Backend::Sqlite => {
            let json = serde_json::Value::from(ids).to_string();
            out.push(column).push(" IN (SELECT value FROM json_each(").bind(json).push("))")
        }
        // An array literal; hyphenated UUIDs need no quoting in it.
        Backend::Postgres => out
            .push(column)
            .push(" IN (SELECT unnest(CAST(")
            .bind(format!("{{{}}}", ids.join(",")))
            .push(" AS uuid[])))"),
    };
    out
}

impl From<String> for Bind {
    fn from(s: String) -> Bind {
        Bind::Text(s)
    }
}
impl From<&str> for Bind {
    fn from(s: &str) -> Bind {
        Bind::Text(s.to_string())
    }
}
impl From<i64> for Bind {
    fn from(i: i64) -> Bind {
        Bind::Int(i)
    }
}
impl From<uuid::Uuid> for Bind {
    fn from(u: uuid::Uuid) -> Bind {
        Bind::Uuid(DbUuid(u))
    }
}
impl From<NaiveDateTime> for Bind {
    fn from(t: NaiveDateTime) -> Bind {
        Bind::Timestamp(t)
    }
}

impl Expression for Sql {
    type SqlType = Bool;
}
impl<QS: ?Sized> AppearsOnTable<QS> for Sql {}
impl<QS: ?Sized> SelectableExpression<QS> for Sql {}
impl ValidGrouping<()> for Sql {
    type IsAggregate = is_aggregate::Never;
}
impl QueryId for Sql {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<MultiBackend> for Sql {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> diesel::QueryResult<()> {
        if !self.cacheable {
            out.unsafe_to_cache_prepared();
        }
        if self.parts.is_empty() {
            out.push_sql("1=1");
            return Ok(());
        }
        for p in &self.parts {
            match p {
                Part::Raw(r) => out.push_sql(r),
                Part::Bind(Bind::Text(s)) => out.push_bind_param::<Text, String>(s)?,
                Part::Bind(Bind::Int(i)) => out.push_bind_param::<BigInt, i64>(i)?,
                Part::Bind(Bind::Float(f)) => out.push_bind_param::<Double, f64>(f)?,
                Part::Bind(Bind::Bool(b)) => out.push_bind_param::<Bool, bool>(b)?,
                Part::Bind(Bind::Timestamp(t)) => out.push_bind_param::<Timestamp, NaiveDateTime>(t)?,
                Part::Bind(Bind::Date(d)) => out.push_bind_param::<Date, NaiveDate>(d)?,
                Part::Bind(Bind::Uuid(u)) => out.push_bind_param::<Uid, DbUuid>(u)?,
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Ids of any table

/// `SELECT id FROM <table> WHERE <cond> LIMIT 1` for a table known by name (trusted text): what
/// generic code asks of a table it cannot name in diesel's DSL (reference checks through an id
/// type's table, uniqueness among live records). The statement text holds no caller data, so
/// the driver keeps it prepared.
pub fn first_id(
    conn: &mut crate::AnyConnection,
    table: &'static str,
    cond: Sql,
) -> diesel::QueryResult<Option<uuid::Uuid>> {
    use diesel::{OptionalExtension, RunQueryDsl};
    Ok(IdQuery { table, cond }.get_result::<DbUuid>(conn).optional()?.map(|u| u.0))
}

/// Whether `table` has a row with this id.
pub fn id_exists(conn: &mut crate::AnyConnection, table: &'static str, id: uuid::Uuid) -> diesel::QueryResult<bool> {
    let mut cond = Sql::new(conn.backend());
    cond.push("id = ").bind(id);
    Ok(first_id(conn, table, cond)?.is_some())
}

struct IdQuery {
    table: &'static str,
    cond: Sql,
}

impl QueryId for IdQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for IdQuery {
    type SqlType = Uid;
}

impl QueryFragment<MultiBackend> for IdQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> diesel::QueryResult<()> {
        out.push_sql("SELECT id FROM ");
        out.push_sql(self.table);
        out.push_sql(" WHERE ");
        self.cond.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT 1");
        Ok(())
    }
}

impl<Conn> diesel::RunQueryDsl<Conn> for IdQuery {}

/// A position in a newest-first list of `(time, id)` keys (a timeline's cursor).
pub type Key = (NaiveDateTime, uuid::Uuid);

/// The newest `n` keys `(time, id)` of the rows of `from` (a table, or tables joined: trusted
/// text) matching `cond`, strictly before `before` when given, newest first (the id breaks
/// ties). What a domain answers when another asks for "its records of this customer, newest
/// first" (the 360 timeline).
pub fn newest_keys(
    conn: &mut crate::AnyConnection,
    from: &'static str,
    time: &'static str,
    id: &'static str,
    mut cond: Sql,
    before: Option<Key>,
    n: i64,
) -> diesel::QueryResult<Vec<Key>> {
    use diesel::RunQueryDsl;
    if let Some((t, i)) = before {
        cond.push(" AND (").push(time).push(" < ").bind(t).push(" OR (").push(time).push(" = ").bind(t);
        cond.push(" AND ").push(id).push(" < ").bind(i).push("))");
    }
    let rows: Vec<(NaiveDateTime, DbUuid)> = KeysQuery { from, time, id, cond, n }.load(conn)?;
    Ok(rows.into_iter().map(|(t, i)| (t, i.0)).collect())
}

/// How many rows of `from` match `cond`.
pub fn count_where(conn: &mut crate::AnyConnection, from: &'static str, cond: Sql) -> diesel::QueryResult<i64> {
    use diesel::RunQueryDsl;
    CountQuery { from, cond }.get_result(conn)
}

struct KeysQuery {
    from: &'static str,
    time: &'static str,
    id: &'static str,
    cond: Sql,
    n: i64,
}

impl QueryId for KeysQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for KeysQuery {
    type SqlType = (Timestamp, Uid);
}

impl QueryFragment<MultiBackend> for KeysQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> diesel::QueryResult<()> {
        out.push_sql("SELECT ");
        out.push_sql(self.time);
        out.push_sql(", ");
        out.push_sql(self.id);
        out.push_sql(" FROM ");
        out.push_sql(self.from);
        out.push_sql(" WHERE ");
        self.cond.walk_ast(out.reborrow())?;
        out.push_sql(" ORDER BY ");
        out.push_sql(self.time);
        out.push_sql(" DESC, ");
        out.push_sql(self.id);
        out.push_sql(" DESC LIMIT ");
        out.push_bind_param::<BigInt, i64>(&self.n)?;
        Ok(())
    }
}

impl<Conn> diesel::RunQueryDsl<Conn> for KeysQuery {}

struct CountQuery {
    from: &'static str,
    cond: Sql,
}

impl QueryId for CountQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for CountQuery {
    type SqlType = BigInt;
}

impl QueryFragment<MultiBackend> for CountQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> diesel::QueryResult<()> {
        out.push_sql("SELECT COUNT(*) FROM ");
        out.push_sql(self.from);
        out.push_sql(" WHERE ");
        self.cond.walk_ast(out.reborrow())?;
        Ok(())
    }
}

impl<Conn> diesel::RunQueryDsl<Conn> for CountQuery {}

// ---------------------------------------------------------------------------------------------
// Filters

/// Compiles a checked filter into SQL over the resource's own table.
pub fn filter(r: &Resolved, backend: Backend) -> Sql {
    let mut out = Sql::new(backend);
    out.cacheable = false;
    compile(r, &mut out);
    out
}

fn join(items: &[Resolved], sep: &str, empty: &str, out: &mut Sql) {
    if items.is_empty() {
        out.push(empty);
        return;
    }
    out.push("(");
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(sep);
        }
        compile(x, out);
    }
    out.push(")");
}

fn compile(r: &Resolved, out: &mut Sql) {
    match r {
        Resolved::And(v) => join(v, " AND ", "1=1", out),
        Resolved::Or(v) => join(v, " OR ", "1=0", out),
        Resolved::Not(x) => {
            // NULL comparisons count as false, so `not(city[eq]:X)` keeps rows without a city.
            out.push("NOT COALESCE((");
            compile(x, out);
            out.push("), FALSE)");
        }
        Resolved::Related { relation, inner } => {
            out.push(&format!("{} IN (SELECT id FROM {} WHERE ", relation.local_column, relation.target.table));
            compile(inner, out);
            out.push(")");
        }
        Resolved::Cond { field, op, values } => cond(field, *op, values, out),
    }
}

fn escape_like(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

fn has_tag(col: &str, tag: &str, out: &mut Sql) {
    match out.backend {
        Backend::Postgres => {
            out.push(&format!("{col} @> CAST("));
            out.bind(serde_json::json!([tag]).to_string());
            out.push(" AS jsonb)");
        }
        Backend::Sqlite => {
            out.push(&format!("EXISTS (SELECT 1 FROM json_each({col}) WHERE json_each.value = "));
            out.bind(tag);
            out.push(")");
        }
    }
}

fn any_tag(col: &str, values: &[Literal], out: &mut Sql) {
    out.push("(");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(" OR ");
        }
        if let Literal::Text(t) = v {
            has_tag(col, t, out);
        }
    }
    out.push(")");
}

fn cond(field: &FieldDef, op: Op, values: &[Literal], out: &mut Sql) {
    let col = field.column;
    if field.kind == FieldKind::ExternalId {
        // `column` names the entity; values are `source:id`.
        out.push("id IN (SELECT entity_id FROM external_ids WHERE entity = ");
        out.bind(col);
        out.push(" AND (");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(" OR ");
            }
            let (source, id) = match v {
                Literal::Text(t) => t.split_once(':').unwrap_or((t.as_str(), "")),
                _ => ("", ""),
            };
            out.push("(source = ");
            out.bind(source);
            out.push(" AND external_id = ");
            out.bind(id);
            out.push(")");
        }
        out.push("))");
        return;
    }
    let first = values.first().cloned();
    if field.kind == FieldKind::Tags {
        let tag = match &first {
            Some(Literal::Text(t)) => t.clone(),
            _ => String::new(),
        };
        match op {
            Op::Eq | Op::Contains => has_tag(col, &tag, out),
            Op::Neq => {
                out.push("NOT ");
                has_tag(col, &tag, out);
            }
            Op::In => any_tag(col, values, out),
            Op::Nin => {
                out.push("NOT ");
                any_tag(col, values, out);
            }
            Op::IsNull => {
                let f = match out.backend {
                    Backend::Postgres => "jsonb_array_length",
                    Backend::Sqlite => "json_array_length",
                };
                let cmp = if first == Some(Literal::Bool(true)) { "=" } else { ">" };
                out.push(&format!("{f}({col}) {cmp} 0"));
            }
            _ => {
                out.push("1=0");
            }
        }
        return;
    }
    let or_null = if field.nullable { format!(" OR {col} IS NULL") } else { String::new() };
    let simple = |sym: &str, out: &mut Sql| {
        out.push(&format!("{col} {sym} "));
        if let Some(v) = first.clone() {
            out.bind(v);
        }
    };
    match op {
        Op::Eq => simple("=", out),
        Op::Neq => {
            out.push("(");
            simple("<>", out);
            out.push(&format!("{or_null})"));
        }
        Op::Lt => simple("<", out),
        Op::Lte => simple("<=", out),
        Op::Gt => simple(">", out),
        Op::Gte => simple(">=", out),
        Op::In | Op::Nin => {
            out.push(if op == Op::Nin { "(" } else { "" });
            out.push(&format!("{col} {} (", if op == Op::In { "IN" } else { "NOT IN" }));
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.push(", ");
                }
                out.bind(v.clone());
            }
            out.push(")");
            if op == Op::Nin {
                out.push(&format!("{or_null})"));
            }
        }
        Op::Contains | Op::StartsWith => {
            let v = match &first {
                Some(Literal::Text(t)) => escape_like(&t.to_lowercase()),
                _ => String::new(),
            };
            let pattern = if op == Op::Contains { format!("%{v}%") } else { format!("{v}%") };
            out.push(&format!("LOWER({col}) LIKE "));
            out.bind(pattern);
            out.push(" ESCAPE '\\'");
        }
        Op::IsNull => {
            let null = first == Some(Literal::Bool(true));
            out.push(&format!("{col} IS {}NULL", if null { "" } else { "NOT " }));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sorting and keyset pagination (NULLs always last, in both directions, on both backends)

/// `ORDER BY` text for the sort keys plus the id tie-breaker.
pub fn order_by(keys: &[SortKey], id_desc: bool) -> String {
    let mut parts: Vec<String> = keys
        .iter()
        .map(|k| {
            let nulls = if k.field.nullable { " NULLS LAST" } else { "" };
            format!("{} {}{nulls}", k.field.column, if k.desc { "DESC" } else { "ASC" })
        })
        .collect();
    parts.push(format!("id {}", if id_desc { "DESC" } else { "ASC" }));
    parts.join(", ")
}

/// The JSON form of a sort value kept in cursors.
pub fn cursor_value(v: Option<Bind>) -> serde_json::Value {
    match v {
        None => serde_json::Value::Null,
        Some(Bind::Text(s)) => s.into(),
        Some(Bind::Int(i)) => i.into(),
        Some(Bind::Float(f)) => f.into(),
        Some(Bind::Bool(b)) => b.into(),
        Some(Bind::Timestamp(t)) => t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string().into(),
        Some(Bind::Date(d)) => d.to_string().into(),
        Some(Bind::Uuid(u)) => u.0.to_string().into(),
    }
}

fn bind_from_cursor(kind: FieldKind, v: &serde_json::Value) -> Option<Option<Bind>> {
    if v.is_null() {
        return Some(None);
    }
    Some(Some(match kind {
        FieldKind::Text
        | FieldKind::LowerText
        | FieldKind::UpperText
        | FieldKind::Enum(_)
        | FieldKind::Tags
        | FieldKind::ExternalId => Bind::Text(v.as_str()?.to_string()),
        FieldKind::Int => Bind::Int(v.as_i64()?),
        FieldKind::Float => Bind::Float(v.as_f64()?),
        FieldKind::Bool => Bind::Bool(v.as_bool()?),
        FieldKind::Timestamp => {
            Bind::Timestamp(NaiveDateTime::parse_from_str(v.as_str()?, "%Y-%m-%dT%H:%M:%S%.f").ok()?)
        }
        FieldKind::Date => Bind::Date(NaiveDate::parse_from_str(v.as_str()?, "%Y-%m-%d").ok()?),
        FieldKind::Uuid => Bind::Uuid(DbUuid(uuid::Uuid::parse_str(v.as_str()?).ok()?)),
    }))
}

/// "Rows after the cursor" for the given order. `None` when the cursor's values do not fit.
pub fn after(keys: &[SortKey], id_desc: bool, cursor: &Cursor, backend: Backend) -> Option<Sql> {
    let mut vals = Vec::with_capacity(keys.len());
    for (k, v) in keys.iter().zip(&cursor.v) {
        vals.push(bind_from_cursor(k.field.kind, v)?);
    }
    let mut out = Sql::new(backend);
    after_from(keys, &vals, id_desc, cursor.id, &mut out);
    Some(out)
}

fn after_from(keys: &[SortKey], vals: &[Option<Bind>], id_desc: bool, id: uuid::Uuid, out: &mut Sql) {
    let Some((k, rest)) = keys.split_first() else {
        out.push(&format!("id {} ", if id_desc { "<" } else { ">" }));
        out.bind(id);
        return;
    };
    let col = k.field.column;
    match &vals[0] {
        None => {
            // In the NULL tail: only later rows of the same NULL group remain.
            out.push(&format!("({col} IS NULL AND "));
            after_from(rest, &vals[1..], id_desc, id, out);
            out.push(")");
        }
        Some(v) => {
            out.push(&format!("({col} {} ", if k.desc { "<" } else { ">" }));
            out.bind(v.clone());
            if k.field.nullable {
                out.push(&format!(" OR {col} IS NULL"));
            }
            out.push(&format!(" OR ({col} = "));
            out.bind(v.clone());
            out.push(" AND ");
            after_from(rest, &vals[1..], id_desc, id, out);
            out.push("))");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Full-text search

/// Where a resource keeps its search index.
#[derive(Clone, Copy, Debug)]
pub struct SearchIndex {
    /// PostgreSQL: a generated `tsvector` column with a GIN index.
    pub pg_column: &'static str,
    /// SQLite: an FTS5 table whose rowid is the resource's `rid`.
    pub sqlite_table: &'static str,
}

/// Rows matching every token as a prefix. Tokens are letters and digits only.
pub fn search(index: SearchIndex, tokens: &[String], backend: Backend) -> Sql {
    let mut out = Sql::new(backend);
    if tokens.is_empty() {
        return out;
    }
    match backend {
        Backend::Postgres => {
            let q: Vec<String> = tokens.iter().map(|t| format!("'{t}':*")).collect();
            out.push(&format!("{} @@ to_tsquery('simple', ", index.pg_column));
            out.bind(q.join(" & "));
            out.push(")");
        }
        Backend::Sqlite => {
            let q: Vec<String> = tokens.iter().map(|t| format!("\"{t}\"*")).collect();
            out.push(&format!("rid IN (SELECT rowid FROM {} WHERE {} MATCH ", index.sqlite_table, index.sqlite_table));
            out.bind(q.join(" AND "));
            out.push(")");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Whole list queries

/// The dynamic parts of one list query.
pub struct ListSql {
    /// Everything but the keyset position (for `count=true`).
    pub matching: Sql,
    /// `matching` plus "after the cursor".
    pub page: Sql,
    /// ORDER BY list (catalog columns, no binds).
    ///
    /// With no sort or one sort key the statement stays in the driver's prepared-statement
    /// cache (a few dozen shapes per resource: sortable fields × directions), so lists and
    /// searches are parsed and planned once per connection instead of on every request.
    /// Longer sorts are combinatorial and are not cached, like caller-shaped filters.
    pub order: Sql,
}

/// Builds the WHERE and ORDER BY of a list from a checked request.
pub fn list_sql(q: &ListQuery, index: SearchIndex, backend: Backend) -> Result<ListSql, ListError> {
    let mut matching = Sql::new(backend);
    match q.archived {
        Archived::Exclude => matching.push("archived_at IS NULL"),
        Archived::Include => matching.push("1=1"),
        Archived::Only => matching.push("archived_at IS NOT NULL"),
    };
    if let Some(f) = &q.filter {
        matching.and(filter(f, backend));
    }
    if let Some(text) = &q.q {
        let tokens = search_tokens(text);
        if tokens.is_empty() {
            // Nothing searchable (only punctuation): nothing matches.
            matching.push(" AND 1=0");
        } else {
            matching.and(search(index, &tokens, backend));
        }
    }
    let mut page = matching.clone();
    if let Some(c) = &q.after {
        page.and(after(&q.sort, q.id_desc, c, backend).ok_or(ListError::Cursor)?);
    }
    let mut order = Sql::new(backend);
    order.push(&order_by(&q.sort, q.id_desc));
    order.cacheable = q.sort.len() <= 1;
    Ok(ListSql { matching, page, order })
}

/// The condition that keeps, of the rows matching a list query, the first `limit + 1` of
/// each value of `column` (the first page of each parent's records, in the list's order):
/// `id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY column ORDER BY …) …))`.
/// One statement for the pages of many parents.
pub fn first_of_each(
    q: &ListQuery,
    index: SearchIndex,
    table: &str,
    column: &str,
    parents: &[uuid::Uuid],
    backend: Backend,
) -> Result<Sql, ListError> {
    let parts = list_sql(q, index, backend)?;
    let mut out = Sql::new(backend);
    out.push("id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY ")
        .push(column)
        .push(" ORDER BY ")
        .append(parts.order)
        .push(") AS rn FROM ")
        .push(table)
        .push(" WHERE ")
        .append(parts.page)
        .push(" AND ")
        .append(in_ids(column, parents.iter().copied(), backend))
        .push(") ranked WHERE rn <= ")
        .bind(i64::from(q.limit) + 1)
        .push(")");
    Ok(out)
}

/// `ORDER BY` of [`first_of_each`]'s rows: by parent, then in the list's order.
pub fn order_by_parent(q: &ListQuery, column: &str, backend: Backend) -> Sql {
    let mut out = Sql::new(backend);
    out.push(column).push(", ").push(&order_by(&q.sort, q.id_desc));
    out.cacheable = q.sort.len() <= 1;
    out
}

/// Cuts a `limit + 1` result to one page and makes the cursor for the next one.
pub fn paginate<T>(
    mut rows: Vec<T>,
    q: &ListQuery,
    sort_value: impl Fn(&T, &str) -> Option<Bind>,
    id_of: impl Fn(&T) -> uuid::Uuid,
) -> (Vec<T>, Option<String>) {
    if rows.len() <= q.limit as usize {
        return (rows, None);
    }
    rows.truncate(q.limit as usize);
    let next = rows.last().map(|last| {
        Cursor {
            s: sort_signature_with(&q.sort, q.id_desc),
            v: q.sort.iter().map(|k| cursor_value(sort_value(last, k.field.name))).collect(),
            id: id_of(last),
        }
        .encode()
    });
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_core::filter::{Catalog, RelationDef, parse, resolve};

    static ACC: Catalog = Catalog {
        resource: "accounts",
        table: "accounts",
        fields: &[FieldDef { name: "tier", column: "tier", kind: FieldKind::Text, nullable: true, sortable: true }],
        relations: &[],
    };
    static CON: Catalog = Catalog {
        resource: "contacts",
        table: "contacts",
        fields: &[
            FieldDef { name: "city", column: "city", kind: FieldKind::Text, nullable: true, sortable: true },
            FieldDef { name: "tags", column: "tags", kind: FieldKind::Tags, nullable: false, sortable: false },
        ],
        relations: &[RelationDef { name: "account", local_column: "account_id", target: &ACC }],
    };

    #[test]
    fn compiles_relations_negation_and_lists() {
        let r = resolve(
            &parse("or(city[neq]:Seoul,account.tier[in]:[gold,silver]),not(city[contains]:a_b)").unwrap(),
            &CON,
        )
        .unwrap();
        let s = filter(&r, Backend::Postgres);
        assert_eq!(
            s.debug_text(),
            "(((city <> ? OR city IS NULL) OR account_id IN (SELECT id FROM accounts WHERE tier IN (?, ?))) \
             AND NOT COALESCE((LOWER(city) LIKE ? ESCAPE '\\'), FALSE))"
        );
        let t = filter(&resolve(&parse("tags[eq]:vip").unwrap(), &CON).unwrap(), Backend::Sqlite);
        assert!(t.debug_text().contains("json_each(tags)"));
    }

    #[test]
    fn keyset_handles_nulls() {
        let keys = [SortKey { field: &CON.fields[0], desc: false }];
        let c = Cursor { s: String::new(), v: vec![serde_json::Value::Null], id: uuid::Uuid::nil() };
        let s = after(&keys, false, &c, Backend::Sqlite).unwrap();
        assert_eq!(s.debug_text(), "(city IS NULL AND id > ?)");
        let c = Cursor { s: String::new(), v: vec!["Seoul".into()], id: uuid::Uuid::nil() };
        let s = after(&keys, false, &c, Backend::Sqlite).unwrap();
        assert_eq!(s.debug_text(), "(city > ? OR city IS NULL OR (city = ? AND id > ?))");
        assert_eq!(order_by(&keys, false), "city ASC NULLS LAST, id ASC");
        let bad = Cursor { s: String::new(), v: vec![3.into()], id: uuid::Uuid::nil() };
        assert!(after(&keys, false, &bad, Backend::Sqlite).is_none());
    }
}
