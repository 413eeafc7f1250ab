//! A small builder for the dynamic parts of queries (filters, keyset conditions, search, sets
//! of ids), rendered with real bind parameters on either backend, and the few statements that
//! generic code runs over a table it knows by name.

mod filters;
mod lists;
mod queries;

use chrono::{NaiveDate, NaiveDateTime};
use crm_core::filter::Literal;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Date, Double, Text, Timestamp};

use crate::conn::{Backend, MultiBackend};
use crate::types::{DbUuid, Uid};

pub use filters::{distance_expr, filter};
pub use lists::{
    ListSql, SearchIndex, after, cursor_value, first_of_each, first_of_each_through, list_sql, order_by, order_by_list,
    order_by_parent, paginate, search,
};
pub use queries::{Key, count_where, first_id, id_exists, ids, ids_where, links, newest_keys};

/// A bound value. The same values as `crm_core::filter::Literal` (it converts from one), held
/// in the database's own types (a UUID as `DbUuid`): a statement's binds are borrowed from it.
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

    /// How many values the statement binds (both databases cap it: SQLite at 32,766).
    pub fn bind_count(&self) -> usize {
        self.parts.iter().filter(|p| matches!(p, Part::Bind(_))).count()
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

/// `<customer column> = ? AND archived_at IS NULL`: a customer's live rows of a table that
/// points at customers by `contact_id` / `account_id` (its cases, purchases, deals, …).
pub fn live_of(customer: crm_core::ids::Customer, backend: Backend) -> Sql {
    let mut cond = Sql::new(backend);
    cond.push(customer.column()).push(" = ").bind(customer.uuid()).push(" AND archived_at IS NULL");
    cond
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
impl From<f64> for Bind {
    fn from(f: f64) -> Bind {
        Bind::Float(f)
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
