//! Statements over a table known by name (trusted text): what generic code asks of tables it
//! cannot name in diesel's DSL.

use chrono::NaiveDateTime;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Timestamp};

use super::Sql;
use crate::conn::MultiBackend;
use crate::types::{DbUuid, Uid};

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

/// `SELECT id FROM <table> WHERE <cond>`: every id a condition selects.
pub fn ids_where(
    conn: &mut crate::AnyConnection,
    table: &'static str,
    cond: Sql,
) -> diesel::QueryResult<Vec<uuid::Uuid>> {
    let mut stmt = Sql::new(conn.backend());
    stmt.cacheable = cond.cacheable;
    stmt.push("SELECT id FROM ").push(table).push(" WHERE ").append(cond);
    ids(conn, stmt)
}

/// Runs a whole statement that answers one column of ids (`… RETURNING id`).
pub fn ids(conn: &mut crate::AnyConnection, stmt: Sql) -> diesel::QueryResult<Vec<uuid::Uuid>> {
    use diesel::RunQueryDsl;
    Ok(IdsQuery(stmt).load::<DbUuid>(conn)?.into_iter().map(|u| u.0).collect())
}

struct IdsQuery(Sql);

impl QueryId for IdsQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for IdsQuery {
    type SqlType = Uid;
}

impl QueryFragment<MultiBackend> for IdsQuery {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, MultiBackend>) -> diesel::QueryResult<()> {
        self.0.walk_ast(out)
    }
}

impl<Conn> diesel::RunQueryDsl<Conn> for IdsQuery {}

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

/// The links of a link table between `children` and `parents`: `(child, parent)` pairs, where
/// `through.near` holds the child's id and `through.far` the parent's.
pub fn links(
    conn: &mut crate::AnyConnection,
    through: &crm_core::filter::Through,
    children: &[uuid::Uuid],
    parents: &[uuid::Uuid],
) -> diesel::QueryResult<Vec<(uuid::Uuid, uuid::Uuid)>> {
    use diesel::RunQueryDsl;
    let backend = conn.backend();
    let mut out = Vec::new();
    // The parents of one page are few; the children are chunked to stay under the databases'
    // parameter limits.
    for chunk in children.chunks(1000) {
        let mut cond = super::in_ids(through.near, chunk.iter().copied(), backend);
        cond.push(" AND ").append(super::in_ids(through.far, parents.iter().copied(), backend));
        let rows: Vec<(DbUuid, DbUuid)> = LinksQuery { through: *through, cond }.load(conn)?;
        out.extend(rows.into_iter().map(|(c, p)| (c.0, p.0)));
    }
    Ok(out)
}

struct LinksQuery {
    through: crm_core::filter::Through,
    cond: Sql,
}

impl QueryId for LinksQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for LinksQuery {
    type SqlType = (Uid, Uid);
}

impl QueryFragment<MultiBackend> for LinksQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> diesel::QueryResult<()> {
        out.push_sql(&format!("SELECT {}, {} FROM {} WHERE ", self.through.near, self.through.far, self.through.table));
        self.cond.walk_ast(out.reborrow())?;
        Ok(())
    }
}

impl<Conn> diesel::RunQueryDsl<Conn> for LinksQuery {}
