//! The filter language shared by every resource and both transports.
//!
//! ```text
//! filter   := expr (',' expr)*                 -- top level is an implicit and
//! expr     := ('and' | 'or') '(' expr (',' expr)* ')' | 'not' '(' expr ')' | cond
//! cond     := path '[' op ']' ':' value
//! path     := ident ('.' ident)*
//! value    := '[' item (',' item)* ']' | item   -- lists for in / nin
//! item     := '"' ... '"' (with \" and \\) | bare text up to , ) ]
//! ```
//! Parsing never panics: length and nesting are bounded, and every error names its position.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 8 * 1024;
/// Deepest nesting of and/or/not accepted.
pub const MAX_DEPTH: usize = 16;

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    In,
    Nin,
    Contains,
    StartsWith,
    IsNull,
}

impl Op {
    pub const ALL: [Op; 11] =
        [Op::Eq, Op::Neq, Op::Lt, Op::Lte, Op::Gt, Op::Gte, Op::In, Op::Nin, Op::Contains, Op::StartsWith, Op::IsNull];

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Neq => "neq",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::In => "in",
            Op::Nin => "nin",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::IsNull => "is_null",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// A raw value as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawValue {
    One(String),
    List(Vec<String>),
}

/// A parsed but not yet type-checked filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Cond { path: Vec<String>, op: Op, value: RawValue },
}

/// A filter that could not be parsed or does not fit the resource.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    /// The field the problem is about (`account.tier`), or `filter` for syntax errors.
    pub field: String,
    /// Stable code: `syntax`, `unknown_field`, `unsupported_operator`, `invalid_value`, `too_complex`.
    pub code: &'static str,
    pub message: String,
}

impl FilterError {
    fn syntax(pos: usize, msg: impl fmt::Display) -> FilterError {
        FilterError { field: "filter".into(), code: "syntax", message: format!("filter syntax error at {pos}: {msg}") }
    }
}

/// Parses the filter grammar. An empty input is an empty `And` (matches everything).
pub fn parse(input: &str) -> Result<Filter, FilterError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(FilterError {
            field: "filter".into(),
            code: "too_complex",
            message: format!("filter is longer than {MAX_FILTER_LEN} bytes"),
        });
    }
    let mut p = Parser { s: input.as_bytes(), src: input, i: 0 };
    p.ws();
    if p.i == p.s.len() {
        return Ok(Filter::And(Vec::new()));
    }
    let items = p.list_until(None, 0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(FilterError::syntax(p.i, format!("unexpected `{}`", p.rest_preview())));
    }
    Ok(if items.len() == 1 { items.into_iter().next().unwrap_or(Filter::And(Vec::new())) } else { Filter::And(items) })
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn rest_preview(&self) -> String {
        self.src.get(self.i..).unwrap_or("").chars().take(20).collect()
    }

    fn expect(&mut self, c: u8) -> Result<(), FilterError> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(FilterError::syntax(self.i, format!("expected `{}`", c as char)))
        }
    }

    /// Comma-separated expressions up to `close` (or end of input when `None`).
    fn list_until(&mut self, close: Option<u8>, depth: usize) -> Result<Vec<Filter>, FilterError> {
        let mut out = Vec::new();
        loop {
            out.push(self.expr(depth)?);
            self.ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                }
                c if c == close => return Ok(out),
                None => return Err(FilterError::syntax(self.i, "unexpected end of filter")),
                Some(_) => return Err(FilterError::syntax(self.i, format!("unexpected `{}`", self.rest_preview()))),
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_') {
            self.i += 1;
        }
        self.src.get(start..self.i).unwrap_or("").to_string()
    }

    fn expr(&mut self, depth: usize) -> Result<Filter, FilterError> {
        if depth >= MAX_DEPTH {
            return Err(FilterError {
                field: "filter".into(),
                code: "too_complex",
                message: format!("filter nests deeper than {MAX_DEPTH} levels"),
            });
        }
        self.ws();
        let start = self.i;
        let name = self.ident();
        if name.is_empty() {
            return Err(FilterError::syntax(self.i, "expected a field name, `and(`, `or(` or `not(`"));
        }
        self.ws();
        if self.peek() == Some(b'(') {
            self.i += 1;
            let f = match name.as_str() {
                "and" => Filter::And(self.list_until(Some(b')'), depth + 1)?),
                "or" => Filter::Or(self.list_until(Some(b')'), depth + 1)?),
                "not" => {
                    let inner = self.expr(depth + 1)?;
                    self.ws();
                    if self.peek() != Some(b')') {
                        return Err(FilterError::syntax(self.i, "`not(...)` takes exactly one expression"));
                    }
                    Filter::Not(Box::new(inner))
                }
                other => return Err(FilterError::syntax(start, format!("unknown group `{other}(`; use and, or, not"))),
            };
            self.i += 1; // the ')'
            return Ok(f);
        }
        let mut path = vec![name];
        while self.peek() == Some(b'.') {
            self.i += 1;
            let seg = self.ident();
            if seg.is_empty() {
                return Err(FilterError::syntax(self.i, "expected a field name after `.`"));
            }
            path.push(seg);
        }
        self.expect(b'[')?;
        let op_start = self.i;
        let op_name = self.ident();
        let op = Op::parse(&op_name)
            .ok_or_else(|| FilterError::syntax(op_start, format!("unknown operator `{op_name}`")))?;
        self.expect(b']')?;
        self.expect(b':')?;
        self.ws();
        let value = if self.peek() == Some(b'[') {
            self.i += 1;
            let mut items = Vec::new();
            self.ws();
            if self.peek() == Some(b']') {
                self.i += 1;
            } else {
                loop {
                    items.push(self.item()?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            break;
                        }
                        _ => return Err(FilterError::syntax(self.i, "expected `,` or `]` in list")),
                    }
                }
            }
            RawValue::List(items)
        } else {
            RawValue::One(self.item()?)
        };
        Ok(Filter::Cond { path, op, value })
    }

    fn item(&mut self) -> Result<String, FilterError> {
        self.ws();
        if self.peek() == Some(b'"') {
            let start = self.i;
            self.i += 1;
            let mut out = String::new();
            let mut seg_start = self.i;
            loop {
                match self.peek() {
                    None => return Err(FilterError::syntax(start, "unterminated quoted string")),
                    Some(b'"') => {
                        out.push_str(self.src.get(seg_start..self.i).unwrap_or(""));
                        self.i += 1;
                        return Ok(out);
                    }
                    Some(b'\\') => {
                        out.push_str(self.src.get(seg_start..self.i).unwrap_or(""));
                        self.i += 1;
                        match self.peek() {
                            Some(c @ (b'"' | b'\\')) => {
                                out.push(c as char);
                                self.i += 1;
                            }
                            _ => return Err(FilterError::syntax(self.i, "only \\\" and \\\\ escapes are allowed")),
                        }
                        seg_start = self.i;
                    }
                    Some(_) => self.i += 1,
                }
            }
        }
        let start = self.i;
        while let Some(c) = self.peek() {
            if matches!(c, b',' | b')' | b']') {
                break;
            }
            self.i += 1;
        }
        // Bare values stop at ASCII delimiters only, so the slice ends on a char boundary.
        Ok(self.src.get(start..self.i).unwrap_or("").trim().to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// Type checking against a resource's catalog.

/// The type of a filterable / sortable field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    /// Text stored lower-case (emails, domains); filter values are lower-cased too.
    LowerText,
    /// Text stored upper-case (country and currency codes); filter values are upper-cased too.
    UpperText,
    Int,
    Float,
    Bool,
    Timestamp,
    Date,
    Uuid,
    /// One of a fixed set of lowercase strings.
    Enum(&'static [&'static str]),
    /// A JSON array of strings (tags); supports `contains`, `eq` (has), `in` (has any).
    Tags,
    /// `external_id[eq]:erp:C-10042`: the record carries that external id. `column` holds the
    /// entity name used in the external_ids table.
    ExternalId,
}

/// A field of a resource as the list API sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldDef {
    /// Wire name.
    pub name: &'static str,
    /// SQL column (or expression) in the resource's table.
    pub column: &'static str,
    pub kind: FieldKind,
    pub nullable: bool,
    pub sortable: bool,
}

/// A to-one relation that filters can follow (`account.tier`).
#[derive(Clone, Copy, Debug)]
pub struct RelationDef {
    pub name: &'static str,
    /// Column in this table that holds the other record's id.
    pub local_column: &'static str,
    pub target: &'static Catalog,
}

impl PartialEq for RelationDef {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.local_column == other.local_column
    }
}

/// Everything the list API may touch in one resource.
#[derive(Debug)]
pub struct Catalog {
    pub resource: &'static str,
    pub table: &'static str,
    pub fields: &'static [FieldDef],
    pub relations: &'static [RelationDef],
}

impl Catalog {
    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn relation(&self, name: &str) -> Option<&'static RelationDef> {
        self.relations.iter().find(|r| r.name == name)
    }

    fn field_names(&self) -> String {
        let mut names: Vec<String> = self.fields.iter().map(|f| f.name.to_string()).collect();
        names.extend(self.relations.iter().map(|r| format!("{}.*", r.name)));
        names.join(", ")
    }
}

/// A typed literal, ready to bind.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Timestamp(NaiveDateTime),
    Date(NaiveDate),
    Uuid(uuid::Uuid),
}

/// A checked filter: every field exists, every operator fits, every value has its type.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolved {
    And(Vec<Resolved>),
    Or(Vec<Resolved>),
    Not(Box<Resolved>),
    Cond {
        field: &'static FieldDef,
        op: Op,
        values: Vec<Literal>,
    },
    /// `account.tier[eq]:gold` becomes "the account id is in (accounts where tier = gold)".
    Related {
        relation: &'static RelationDef,
        inner: Box<Resolved>,
    },
}

/// Most values one filter may bind (keeps every query under the databases' parameter limits).
pub const MAX_VALUES: usize = 5000;

/// Type-checks `f` against `catalog`. Relations are followed one level deep.
pub fn resolve(f: &Filter, catalog: &'static Catalog) -> Result<Resolved, FilterError> {
    let r = resolve_at(f, catalog, "")?;
    if r.value_count() > MAX_VALUES {
        return Err(FilterError {
            field: "filter".into(),
            code: "too_complex",
            message: format!("a filter binds at most {MAX_VALUES} values"),
        });
    }
    Ok(r)
}

impl Resolved {
    /// How many values the filter binds.
    pub fn value_count(&self) -> usize {
        match self {
            Resolved::And(v) | Resolved::Or(v) => v.iter().map(Resolved::value_count).sum(),
            Resolved::Not(x) => x.value_count(),
            Resolved::Cond { values, .. } => values.len().max(1),
            Resolved::Related { inner, .. } => inner.value_count(),
        }
    }

    /// The resources a filter reads through relations (`account.tier` reads accounts).
    pub fn related_resources(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        self.collect_related(&mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn collect_related(&self, out: &mut Vec<&'static str>) {
        match self {
            Resolved::And(v) | Resolved::Or(v) => v.iter().for_each(|x| x.collect_related(out)),
            Resolved::Not(x) => x.collect_related(out),
            Resolved::Cond { .. } => {}
            Resolved::Related { relation, inner } => {
                out.push(relation.target.resource);
                inner.collect_related(out);
            }
        }
    }
}

fn resolve_at(f: &Filter, catalog: &'static Catalog, prefix: &str) -> Result<Resolved, FilterError> {
    Ok(match f {
        Filter::And(v) => Resolved::And(v.iter().map(|x| resolve_at(x, catalog, prefix)).collect::<Result<_, _>>()?),
        Filter::Or(v) => Resolved::Or(v.iter().map(|x| resolve_at(x, catalog, prefix)).collect::<Result<_, _>>()?),
        Filter::Not(x) => Resolved::Not(Box::new(resolve_at(x, catalog, prefix)?)),
        Filter::Cond { path, op, value } => {
            let full = format!("{prefix}{}", path.join("."));
            if path.len() > 1 {
                let rel = catalog.relation(&path[0]).filter(|_| prefix.is_empty()).ok_or_else(|| FilterError {
                    field: full.clone(),
                    code: "unknown_field",
                    message: format!("`{full}` is not a filterable relation of {}", catalog.resource),
                })?;
                let inner = Filter::Cond { path: path[1..].to_vec(), op: *op, value: value.clone() };
                let inner = resolve_at(&inner, rel.target, &format!("{}.", rel.name))?;
                return Ok(Resolved::Related { relation: rel, inner: Box::new(inner) });
            }
            let field = catalog.field(&path[0]).ok_or_else(|| FilterError {
                field: full.clone(),
                code: "unknown_field",
                message: format!(
                    "`{full}` is not a filterable field of {}; filterable: {}",
                    catalog.resource,
                    catalog.field_names()
                ),
            })?;
            let values = check_cond(field, *op, value, &full)?;
            Resolved::Cond { field, op: *op, values }
        }
    })
}

fn check_cond(field: &FieldDef, op: Op, value: &RawValue, full: &str) -> Result<Vec<Literal>, FilterError> {
    let unsupported = || FilterError {
        field: full.to_string(),
        code: "unsupported_operator",
        message: format!("operator `{}` does not apply to `{full}`", op.as_str()),
    };
    let invalid = |msg: String| FilterError { field: full.to_string(), code: "invalid_value", message: msg };
    if field.kind == FieldKind::ExternalId && !matches!(op, Op::Eq | Op::In) {
        return Err(unsupported());
    }
    match op {
        Op::IsNull => {
            let RawValue::One(v) = value else { return Err(invalid("`is_null` takes true or false".into())) };
            return match v.as_str() {
                "true" => Ok(vec![Literal::Bool(true)]),
                "false" => Ok(vec![Literal::Bool(false)]),
                _ => Err(invalid("`is_null` takes true or false".into())),
            };
        }
        Op::In | Op::Nin => {
            let RawValue::List(items) = value else {
                return Err(invalid(format!("`{}` takes a list, e.g. [a,b]", op.as_str())));
            };
            if items.is_empty() || items.len() > 1000 {
                return Err(invalid("a list holds 1 to 1000 values".into()));
            }
            if matches!(field.kind, FieldKind::Bool) {
                return Err(unsupported());
            }
            return items.iter().map(|s| literal(field, s, full)).collect();
        }
        Op::Contains | Op::StartsWith => {
            if !matches!(field.kind, FieldKind::Text | FieldKind::LowerText | FieldKind::UpperText | FieldKind::Tags) {
                return Err(unsupported());
            }
            if op == Op::StartsWith && field.kind == FieldKind::Tags {
                return Err(unsupported());
            }
        }
        Op::Lt | Op::Lte | Op::Gt | Op::Gte => {
            if matches!(
                field.kind,
                FieldKind::Bool | FieldKind::Tags | FieldKind::Enum(_) | FieldKind::Uuid | FieldKind::ExternalId
            ) {
                return Err(unsupported());
            }
        }
        Op::Eq | Op::Neq => {}
    }
    let RawValue::One(v) = value else {
        return Err(invalid(format!("`{}` takes a single value; lists are for `in` and `nin`", op.as_str())));
    };
    Ok(vec![literal(field, v, full)?])
}

fn literal(field: &FieldDef, v: &str, full: &str) -> Result<Literal, FilterError> {
    let invalid = |what: &str| FilterError {
        field: full.to_string(),
        code: "invalid_value",
        message: format!("`{v}` is not {what} (field `{full}`)"),
    };
    Ok(match field.kind {
        FieldKind::Text => Literal::Text(v.to_string()),
        FieldKind::LowerText | FieldKind::Tags => Literal::Text(v.to_lowercase()),
        FieldKind::UpperText => Literal::Text(v.to_uppercase()),
        FieldKind::Int => Literal::Int(v.parse().map_err(|_| invalid("an integer"))?),
        FieldKind::Float => {
            let f: f64 = v.parse().map_err(|_| invalid("a number"))?;
            if !f.is_finite() {
                return Err(invalid("a finite number"));
            }
            Literal::Float(f)
        }
        FieldKind::Bool => Literal::Bool(match v {
            "true" => true,
            "false" => false,
            _ => return Err(invalid("true or false")),
        }),
        FieldKind::Timestamp => {
            Literal::Timestamp(parse_timestamp(v).ok_or_else(|| invalid("an RFC 3339 timestamp or a date"))?)
        }
        FieldKind::Date => {
            Literal::Date(NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| invalid("a date (YYYY-MM-DD)"))?)
        }
        FieldKind::Uuid => Literal::Uuid(uuid::Uuid::parse_str(v).map_err(|_| invalid("a UUID"))?),
        FieldKind::ExternalId => match crate::external::ExternalId::parse_pair(v) {
            Some(e) => Literal::Text(format!("{}:{}", e.source, e.id)),
            None => return Err(invalid("an external id written source:id (e.g. erp:C-10042)")),
        },
        FieldKind::Enum(allowed) => {
            if !allowed.contains(&v) {
                return Err(FilterError {
                    field: full.to_string(),
                    code: "invalid_value",
                    message: format!("`{v}` is not one of {} (field `{full}`)", allowed.join(", ")),
                });
            }
            Literal::Text(v.to_string())
        }
    })
}

/// RFC 3339 (any offset, converted to UTC), or a bare date meaning its midnight UTC.
pub fn parse_timestamp(v: &str) -> Option<NaiveDateTime> {
    if let Some(rel) = v.strip_prefix("now") {
        return relative_to_now(rel);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc).naive_utc());
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// `now`, `now-7d`, `now+2h`: the current time, optionally shifted by minutes (`m`), hours
/// (`h`), days (`d`) or weeks (`w`). Resolved when the filter is checked.
fn relative_to_now(rel: &str) -> Option<NaiveDateTime> {
    let now = Utc::now().naive_utc();
    if rel.is_empty() {
        return Some(now);
    }
    let (sign, rest) = match rel.as_bytes().first()? {
        b'+' => (1, &rel[1..]),
        b'-' => (-1, &rel[1..]),
        _ => return None,
    };
    let unit = rest.chars().last()?;
    let n: i64 = rest[..rest.len() - unit.len_utf8()].parse().ok().filter(|n| (0..=100_000).contains(n))?;
    let d = match unit {
        'm' => chrono::Duration::minutes(n),
        'h' => chrono::Duration::hours(n),
        'd' => chrono::Duration::days(n),
        'w' => chrono::Duration::weeks(n),
        _ => return None,
    };
    now.checked_add_signed(d * sign)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_can_be_relative_to_now() {
        let now = Utc::now().naive_utc();
        let t = parse_timestamp("now").unwrap();
        assert!((t - now).num_seconds().abs() < 5);
        let week_ago = parse_timestamp("now-7d").unwrap();
        assert!(((now - week_ago).num_hours() - 168).abs() <= 1);
        assert!(parse_timestamp("now+2h").unwrap() > now);
        for bad in ["now7d", "now-", "now-xd", "now-3y", "nowhere", "now--99999999999w", "now+-5d", "now-100001d"] {
            assert!(parse_timestamp(bad).is_none(), "{bad}");
        }
    }

    fn cond(path: &str, op: Op, v: &str) -> Filter {
        Filter::Cond { path: path.split('.').map(String::from).collect(), op, value: RawValue::One(v.into()) }
    }

    #[test]
    fn parses_the_documented_example() {
        let f = parse(
            "and(lifecycle_stage[eq]:customer,or(city[eq]:Seoul,city[eq]:Busan),account.tier[in]:[gold,platinum])",
        )
        .unwrap();
        assert_eq!(
            f,
            Filter::And(vec![
                cond("lifecycle_stage", Op::Eq, "customer"),
                Filter::Or(vec![cond("city", Op::Eq, "Seoul"), cond("city", Op::Eq, "Busan")]),
                Filter::Cond {
                    path: vec!["account".into(), "tier".into()],
                    op: Op::In,
                    value: RawValue::List(vec!["gold".into(), "platinum".into()]),
                },
            ])
        );
    }

    #[test]
    fn top_level_is_implicit_and_and_quotes_escape() {
        let f = parse(r#"name[eq]:"Acme, Inc. (\"HQ\")", not(city[is_null]:true)"#).unwrap();
        assert_eq!(
            f,
            Filter::And(vec![
                cond("name", Op::Eq, "Acme, Inc. (\"HQ\")"),
                Filter::Not(Box::new(cond("city", Op::IsNull, "true"))),
            ])
        );
        assert_eq!(parse("external_id[eq]:erp:C-10042").unwrap(), cond("external_id", Op::Eq, "erp:C-10042"));
        assert_eq!(parse("  ").unwrap(), Filter::And(vec![]));
        assert_eq!(parse("city[eq]:서울").unwrap(), cond("city", Op::Eq, "서울"));
    }

    #[test]
    fn syntax_errors_are_reported() {
        for bad in [
            "city",
            "city[eq]",
            "city[like]:x",
            "and(city[eq]:x",
            "xor(a[eq]:b)",
            "city[eq]:x)",
            "name[eq]:\"open",
            "not(a[eq]:1,b[eq]:2)",
            "a.[eq]:1",
            "a[in]:[x,",
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.code, "syntax", "{bad}");
        }
        let deep = format!("{}a[eq]:1{}", "not(".repeat(40), ")".repeat(40));
        assert_eq!(parse(&deep).unwrap_err().code, "too_complex");
        assert_eq!(parse(&"a".repeat(MAX_FILTER_LEN + 1)).unwrap_err().code, "too_complex");
    }

    static INNER: Catalog = Catalog {
        resource: "accounts",
        table: "accounts",
        fields: &[FieldDef {
            name: "tier",
            column: "tier",
            kind: FieldKind::Enum(&["gold", "silver"]),
            nullable: true,
            sortable: true,
        }],
        relations: &[],
    };
    static OUTER: Catalog = Catalog {
        resource: "contacts",
        table: "contacts",
        fields: &[
            FieldDef { name: "age", column: "age", kind: FieldKind::Int, nullable: true, sortable: true },
            FieldDef { name: "city", column: "city", kind: FieldKind::Text, nullable: true, sortable: true },
        ],
        relations: &[RelationDef { name: "account", local_column: "account_id", target: &INNER }],
    };

    #[test]
    fn resolution_names_the_bad_field() {
        assert!(resolve(&parse("account.tier[in]:[gold]").unwrap(), &OUTER).is_ok());
        let e = resolve(&parse("shoe_size[eq]:3").unwrap(), &OUTER).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("shoe_size", "unknown_field"));
        let e = resolve(&parse("account.color[eq]:red").unwrap(), &OUTER).unwrap_err();
        assert_eq!(e.field, "account.color");
        let e = resolve(&parse("account.tier[eq]:wood").unwrap(), &OUTER).unwrap_err();
        assert_eq!(e.code, "invalid_value");
        let e = resolve(&parse("age[gt]:old").unwrap(), &OUTER).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("age", "invalid_value"));
        let e = resolve(&parse("age[contains]:1").unwrap(), &OUTER).unwrap_err();
        assert_eq!(e.code, "unsupported_operator");
        let e = resolve(&parse("city[in]:Seoul").unwrap(), &OUTER).unwrap_err();
        assert_eq!(e.code, "invalid_value");
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(s in "\\PC{0,200}") {
            if let Ok(f) = parse(&s) {
                let _ = resolve(&f, &OUTER);
            }
        }

        #[test]
        fn parser_never_panics_on_grammar_soup(s in "[a-z_.,()\\[\\]:\"\\\\ ]{0,120}") {
            if let Ok(f) = parse(&s) {
                let _ = resolve(&f, &OUTER);
            }
        }

        #[test]
        fn quoted_values_round_trip(v in "\\PC{0,40}") {
            let quoted = format!("city[eq]:\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
            let f = parse(&quoted).unwrap();
            proptest::prop_assert_eq!(f, cond("city", Op::Eq, &v));
        }
    }
}
