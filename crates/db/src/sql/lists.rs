//! Whole list queries: sorting and keyset pagination (NULLs always last, in both directions,
//! on both backends), full-text search, and the first page of each parent's records.

use chrono::{NaiveDate, NaiveDateTime};
use crm_core::filter::FieldKind;
use crm_core::geo::GeoPoint;
use crm_core::list::{Archived, Cursor, ListError, ListQuery, SortKey, list_signature, search_tokens};

use super::{Bind, Sql, filter, in_ids};
use crate::conn::Backend;
use crate::types::DbUuid;

// Sorting and keyset pagination

/// The SQL a sort key orders by: its column, or the distance from the origin.
fn key_sql(k: &SortKey, origin: Option<GeoPoint>) -> String {
    match origin {
        Some(o) if k.is_distance() => super::distance_expr(o),
        _ => k.field.column.to_string(),
    }
}

/// `ORDER BY` text for the sort keys (the distance among them measured from `origin`) plus the
/// id tie-breaker.
pub fn order_by(keys: &[SortKey], id_desc: bool, origin: Option<GeoPoint>) -> String {
    let mut parts: Vec<String> = keys
        .iter()
        .map(|k| {
            let nulls = if k.field.nullable { " NULLS LAST" } else { "" };
            format!("{} {}{nulls}", key_sql(k, origin), if k.desc { "DESC" } else { "ASC" })
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

/// "Rows after the cursor" for the given order (the distance measured from `origin`). `None`
/// when the cursor's values do not fit.
pub fn after(
    keys: &[SortKey],
    id_desc: bool,
    origin: Option<GeoPoint>,
    cursor: &Cursor,
    backend: Backend,
) -> Option<Sql> {
    let mut vals = Vec::with_capacity(keys.len());
    for (k, v) in keys.iter().zip(&cursor.v) {
        vals.push(bind_from_cursor(k.field.kind, v)?);
    }
    let mut out = Sql::new(backend);
    let one_direction = keys.iter().all(|k| !k.field.nullable && k.desc == id_desc && !k.is_distance());
    if origin.is_none() && one_direction && vals.iter().all(Option::is_some) {
        // One direction and no NULLs: a row-value comparison, which both databases answer with
        // a range scan of the (keys, id) index. The expanded form below makes them read every
        // row that ties with the cursor on the first key before the page (an import's rows
        // may share their `created_at`).
        let cols: Vec<&str> = keys.iter().map(|k| k.field.column).chain(["id"]).collect();
        out.push(&format!("({}) {} (", cols.join(", "), if id_desc { "<" } else { ">" }));
        for v in vals.into_iter().flatten() {
            out.bind(v).push(", ");
        }
        out.bind(cursor.id).push(")");
        return Some(out);
    }
    after_from(keys, &vals, id_desc, origin, cursor.id, &mut out);
    if origin.is_some() {
        // The point is written into the text.
        out.cacheable = false;
    }
    Some(out)
}

fn after_from(
    keys: &[SortKey],
    vals: &[Option<Bind>],
    id_desc: bool,
    origin: Option<GeoPoint>,
    id: uuid::Uuid,
    out: &mut Sql,
) {
    let Some((k, rest)) = keys.split_first() else {
        out.push(&format!("id {} ", if id_desc { "<" } else { ">" }));
        out.bind(id);
        return;
    };
    let col = &key_sql(k, origin);
    match &vals[0] {
        None => {
            // In the NULL tail: only later rows of the same NULL group remain.
            out.push(&format!("({col} IS NULL AND "));
            after_from(rest, &vals[1..], id_desc, origin, id, out);
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
            after_from(rest, &vals[1..], id_desc, origin, id, out);
            out.push("))");
        }
    }
}

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
        page.and(after(&q.sort, q.id_desc, q.origin, c, backend).ok_or(ListError::Cursor)?);
    }
    Ok(ListSql { matching, page, order: order_by_list(q, backend) })
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

/// [`first_of_each`] for children linked to their parents through a link table (a contact's
/// interactions: `interaction_contacts`, whose `through.far` holds the parent's id and
/// `through.near` the child's). A child linked to several parents is in the result once, if it
/// is among the first `limit + 1` of any of them: the caller groups the rows by their links.
pub fn first_of_each_through(
    q: &ListQuery,
    index: SearchIndex,
    table: &str,
    through: &crm_core::filter::Through,
    parents: &[uuid::Uuid],
    backend: Backend,
) -> Result<Sql, ListError> {
    let parts = list_sql(q, index, backend)?;
    let mut out = Sql::new(backend);
    // The link's columns are renamed, so that the list's own (unqualified) columns name the
    // child's table only.
    out.push("id IN (SELECT crm_child FROM (SELECT crm_child, ROW_NUMBER() OVER (PARTITION BY crm_parent ORDER BY ")
        .append(parts.order)
        .push(") AS rn FROM ")
        .push(table)
        .push(&format!(
            " JOIN (SELECT {} AS crm_child, {} AS crm_parent FROM {} WHERE ",
            through.near, through.far, through.table
        ))
        .append(in_ids(through.far, parents.iter().copied(), backend))
        .push(&format!(") links ON links.crm_child = {table}.id WHERE "))
        .append(parts.page)
        .push(") ranked WHERE rn <= ")
        .bind(i64::from(q.limit) + 1)
        .push(")");
    Ok(out)
}

/// `ORDER BY` of [`first_of_each`]'s rows: by parent, then in the list's order.
pub fn order_by_parent(q: &ListQuery, column: &str, backend: Backend) -> Sql {
    let mut out = Sql::new(backend);
    out.push(column).push(", ").push(&order_by(&q.sort, q.id_desc, q.origin));
    out.cacheable = q.sort.len() <= 1 && q.origin.is_none();
    out
}

/// The list's `ORDER BY` (the sort keys, then the id), as a statement part.
pub fn order_by_list(q: &ListQuery, backend: Backend) -> Sql {
    let mut out = Sql::new(backend);
    out.push(&order_by(&q.sort, q.id_desc, q.origin));
    out.cacheable = q.sort.len() <= 1 && q.origin.is_none();
    out
}

/// Cuts a `limit + 1` result to one page and makes the cursor for the next one.
pub fn paginate<T>(
    mut rows: Vec<T>,
    q: &ListQuery,
    sort_value: impl Fn(&T, &crm_core::filter::FieldDef) -> Option<Bind>,
    id_of: impl Fn(&T) -> uuid::Uuid,
) -> (Vec<T>, Option<String>) {
    if rows.len() <= q.limit as usize {
        return (rows, None);
    }
    rows.truncate(q.limit as usize);
    let next = rows.last().map(|last| {
        Cursor {
            s: list_signature(&q.sort, q.id_desc, q.origin),
            v: q.sort.iter().map(|k| cursor_value(sort_value(last, k.field))).collect(),
            id: id_of(last),
        }
        .encode()
    });
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_core::filter::{Catalog, FieldDef, RelationDef, parse, resolve};

    static ACC: Catalog = Catalog {
        name: "Account",
        resource: "accounts",
        table: "accounts",
        fields: &[FieldDef {
            name: "tier",
            column: "tier",
            kind: FieldKind::Text,
            nullable: true,
            sortable: true,
            currency: None,
        }],
        relations: &[],
    };
    static CON: Catalog = Catalog {
        name: "Contact",
        resource: "contacts",
        table: "contacts",
        fields: &[
            FieldDef {
                name: "city",
                column: "city",
                kind: FieldKind::Text,
                nullable: true,
                sortable: true,
                currency: None,
            },
            FieldDef {
                name: "tags",
                column: "tags",
                kind: FieldKind::Tags,
                nullable: false,
                sortable: false,
                currency: None,
            },
        ],
        relations: &[RelationDef::to_one("account", "account_id", &ACC)],
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
        let s = after(&keys, false, None, &c, Backend::Sqlite).unwrap();
        assert_eq!(s.debug_text(), "(city IS NULL AND id > ?)");
        let c = Cursor { s: String::new(), v: vec!["Seoul".into()], id: uuid::Uuid::nil() };
        let s = after(&keys, false, None, &c, Backend::Sqlite).unwrap();
        assert_eq!(s.debug_text(), "(city > ? OR city IS NULL OR (city = ? AND id > ?))");
        assert_eq!(order_by(&keys, false, None), "city ASC NULLS LAST, id ASC");
        let bad = Cursor { s: String::new(), v: vec![3.into()], id: uuid::Uuid::nil() };
        assert!(after(&keys, false, None, &bad, Backend::Sqlite).is_none());
    }

    #[test]
    fn keyset_of_one_direction_without_nulls_is_a_row_value() {
        static CREATED: FieldDef = FieldDef {
            name: "created_at",
            column: "created_at",
            kind: FieldKind::Timestamp,
            nullable: false,
            sortable: true,
            currency: None,
        };
        let c = Cursor { s: String::new(), v: vec!["2026-12-06T22:52:09.244266".into()], id: uuid::Uuid::nil() };
        let desc = [SortKey { field: &CREATED, desc: true }];
        let s = after(&desc, true, None, &c, Backend::Postgres).unwrap();
        assert_eq!(s.debug_text(), "(created_at, id) < (?, ?)");
        assert_eq!(s.bind_count(), 2);
        // Directions that differ from the id's keep the expanded form.
        let s = after(&desc, false, None, &c, Backend::Sqlite).unwrap();
        assert_eq!(s.debug_text(), "(created_at < ? OR (created_at = ? AND id > ?))");
        // So does a cursor naming NULL for it (made by hand: no row has one), bind for bind.
        let null = Cursor { s: String::new(), v: vec![serde_json::Value::Null], id: uuid::Uuid::nil() };
        let s = after(&desc, true, None, &null, Backend::Postgres).unwrap();
        assert_eq!((s.debug_text().as_str(), s.bind_count()), ("(created_at IS NULL AND id < ?)", 1));
    }
}
