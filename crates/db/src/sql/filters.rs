//! Compiling a checked filter into SQL over the resource's own table.

use crm_core::filter::{FieldDef, FieldKind, Literal, Op, Resolved};
use crm_core::geo::{GeoBox, GeoCond, GeoPoint};

use super::Sql;
use crate::conn::Backend;

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
            // `local IN (SELECT target_column FROM target WHERE …)`, through the link table
            // when there is one. A to-many relation is then "some related row matches", and
            // `not(…)` around it "none does".
            let (col, target) = (relation.target_column, relation.target.table);
            match relation.through {
                None => out.push(&format!("{} IN (SELECT {col} FROM {target} WHERE ", relation.local_column)),
                Some(t) => out.push(&format!(
                    "{} IN (SELECT {} FROM {} WHERE {} IN (SELECT {col} FROM {target} WHERE ",
                    relation.local_column, t.near, t.table, t.far
                )),
            };
            compile(inner, out);
            out.push(if relation.through.is_some() { "))" } else { ")" });
        }
        Resolved::Cond { field, op, values } => cond(field, *op, values, out),
        Resolved::Geo(g) => geo(g, out),
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
        // Location conditions resolve to `Resolved::Geo`.
        Op::Near | Op::Bbox => {
            out.push("1=0");
        }
    }
}

/// The distance in metres from a row's `latitude`/`longitude` to `origin`: the function
/// `crm_distance_m` (haversine, `crm_core::geo::distance_m`), registered on SQLite connections
/// and created by a migration on PostgreSQL. The point is written as literals (checked finite
/// numbers), so that the same text can order, select and page.
pub fn distance_expr(origin: GeoPoint) -> String {
    format!("crm_distance_m(latitude, longitude, {:?}, {:?})", origin.lat, origin.lng)
}

/// A box on `latitude`/`longitude`, which an index on the two columns narrows.
fn in_box(b: &GeoBox, out: &mut Sql) {
    out.push("(latitude BETWEEN ").bind(b.south).push(" AND ").bind(b.north);
    if b.wraps() {
        out.push(" AND (longitude >= ").bind(b.west).push(" OR longitude <= ").bind(b.east).push("))");
    } else if b.west > -180.0 || b.east < 180.0 {
        out.push(" AND longitude BETWEEN ").bind(b.west).push(" AND ").bind(b.east).push(")");
    } else {
        out.push(" AND longitude IS NOT NULL)");
    }
}

fn geo(g: &GeoCond, out: &mut Sql) {
    match g {
        GeoCond::Within(b) => in_box(b, out),
        GeoCond::Near { center, radius_m } => {
            // The box around the circle first (an index range), then the exact distance.
            out.push("(");
            in_box(&GeoBox::around(*center, *radius_m), out);
            out.push(&format!(" AND {} <= ", distance_expr(*center))).bind(*radius_m).push(")");
        }
    }
}
