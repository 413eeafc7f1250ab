//! The filter language shared by every resource and both transports.
//!
//! ```text
//! filter   := expr (',' expr)*                 -- top level is an implicit and
//! expr     := ('and' | 'or') '(' expr (',' expr)* ')' | 'not' '(' expr ')' | within | cond
//! within   := path '(' expr (',' expr)* ')'    -- all of them hold for one related record
//! cond     := path '[' op ']' ':' value
//! path     := ident ('.' ident)*
//! value    := '[' item (',' item)* ']' | item   -- lists for in / nin
//! item     := '"' ... '"' (with \" and \\) | bare text up to , ) ]
//! ```
//! Parsing never panics: length and nesting are bounded, and every error names its position.
//!
//! A path follows relations: to one record (`account.tier[eq]:gold`: the contact's account is
//! gold) or to many (`purchases.ordered_at[gte]:2026-01-01`: some purchase of the contact is
//! that recent). `within` groups conditions on one related record:
//! `purchases(ordered_at[gte]:now-90d,lines.product.family[eq]:analytics)` is "a purchase in
//! the last 90 days that had an analytics product", where two separate paths would be satisfied
//! by two different purchases. `not(purchases.ordered_at[gte]:…)` is "no purchase since".

mod parse;
mod resolve;

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};

pub use parse::parse;
pub use resolve::{MAX_HOPS, parse_geo, parse_timestamp, resolve, resolve_with};

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
    /// `location[near]:[lat,lng,radius]`: within a distance of a point.
    Near,
    /// `location[bbox]:[south,west,north,east]`: inside a box.
    Bbox,
}

impl Op {
    pub const ALL: [Op; 13] = [
        Op::Eq,
        Op::Neq,
        Op::Lt,
        Op::Lte,
        Op::Gt,
        Op::Gte,
        Op::In,
        Op::Nin,
        Op::Contains,
        Op::StartsWith,
        Op::IsNull,
        Op::Near,
        Op::Bbox,
    ];

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
            Op::Near => "near",
            Op::Bbox => "bbox",
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
    /// `path(…)`: the inner filter holds for one record that `path` leads to.
    Within {
        path: Vec<String>,
        inner: Box<Filter>,
    },
    Cond {
        path: Vec<String>,
        op: Op,
        value: RawValue,
    },
}

/// The first segment of a custom field's path (`custom_fields.tier`).
pub const CUSTOM_FIELDS: &str = "custom_fields";

impl Filter {
    /// Whether some condition names a custom field (`custom_fields.…`, at any relation).
    pub fn mentions_custom_fields(&self) -> bool {
        match self {
            Filter::And(v) | Filter::Or(v) => v.iter().any(Filter::mentions_custom_fields),
            Filter::Not(x) => x.mentions_custom_fields(),
            Filter::Within { path, inner } => path.iter().any(|p| p == CUSTOM_FIELDS) || inner.mentions_custom_fields(),
            Filter::Cond { path, .. } => path.iter().any(|p| p == CUSTOM_FIELDS),
        }
    }
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
    pub(crate) fn syntax(pos: usize, msg: impl fmt::Display) -> FilterError {
        FilterError { field: "filter".into(), code: "syntax", message: format!("filter syntax error at {pos}: {msg}") }
    }
}

// ---------------------------------------------------------------------------------------------
// What type checking reads: a resource's catalog, and what it yields.

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
    Enum(&'static EnumDef),
    /// A JSON array of strings (tags); supports `contains`, `eq` (has), `in` (has any).
    Tags,
    /// `external_id[eq]:erp:C-10042`: the record carries that external id. `column` holds the
    /// entity name used in the external_ids table.
    ExternalId,
}

/// An enumeration as filters see it: its type's name (the GraphQL enum) and its wire values.
#[derive(Debug)]
pub struct EnumDef {
    pub name: &'static str,
    pub values: &'static [&'static str],
    /// Registers the enumeration's GraphQL type (given an `async_graphql` registry) when the
    /// crate that declares it is built with GraphQL; typed GraphQL filters reuse that type.
    pub register: Option<fn(&mut dyn std::any::Any)>,
}

impl PartialEq for EnumDef {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.values == other.values
    }
}

impl Eq for EnumDef {}

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
    /// Money: the wire name of the field that holds the amount's currency. Amounts compare
    /// only within one currency, so a comparison or a sort on this field needs a filter that
    /// pins that currency (`currency[eq]:KRW`).
    pub currency: Option<&'static str>,
}

/// A relation that filters can follow: to one record (`account.tier`: the row's
/// `local_column` holds the account's id) or to many (`purchases.ordered_at`: the purchases
/// whose `target_column` holds this row's id), directly or through a link table
/// (`interactions`, through `interaction_contacts`). A condition on a to-many relation holds
/// when it holds for some related record.
#[derive(Clone, Copy, Debug)]
pub struct RelationDef {
    pub name: &'static str,
    /// Column of this table matched against the related rows.
    pub local_column: &'static str,
    /// Column of the target table (or of the link table's far side) it matches: `id` for a
    /// to-one relation.
    pub target_column: &'static str,
    /// A link table between this table and the target, when there is one.
    pub through: Option<Through>,
    /// Whether one row relates to many (documentation, GraphQL descriptions).
    pub many: bool,
    pub target: &'static Catalog,
}

/// A link table of a many-to-many relation: `near` matches this table's `local_column`, `far`
/// the target's `target_column`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Through {
    pub table: &'static str,
    pub near: &'static str,
    pub far: &'static str,
}

impl RelationDef {
    /// `name` is the record whose id this table's `local_column` holds.
    pub const fn to_one(name: &'static str, local_column: &'static str, target: &'static Catalog) -> RelationDef {
        RelationDef { name, local_column, target_column: "id", through: None, many: false, target }
    }

    /// `name` are the records of `target` whose `target_column` holds this row's id.
    pub const fn to_many(name: &'static str, target_column: &'static str, target: &'static Catalog) -> RelationDef {
        RelationDef { name, local_column: "id", target_column, through: None, many: true, target }
    }

    /// `name` are the records of `target` that `through` links to this row's id.
    pub const fn to_many_through(name: &'static str, through: Through, target: &'static Catalog) -> RelationDef {
        RelationDef { name, local_column: "id", target_column: "id", through: Some(through), many: true, target }
    }
}

impl PartialEq for RelationDef {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.local_column == other.local_column
            && self.target_column == other.target_column
            && self.through == other.through
            && self.target.table == other.target.table
    }
}

/// Everything the list API may touch in one resource.
#[derive(Debug)]
pub struct Catalog {
    /// The record's type name (`Contact`): the GraphQL node, and the prefix of its filter types.
    pub name: &'static str,
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

    pub(crate) fn field_names(&self) -> String {
        let mut names: Vec<String> = self.fields.iter().map(|f| f.name.to_string()).collect();
        if self.located() {
            names.push(format!("{LOCATION} (near, bbox)"));
        }
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
    /// `location[near]:…` / `location[bbox]:…` on a resource with `latitude` and `longitude`.
    Geo(crate::geo::GeoCond),
}

/// The pseudo-field of location conditions, on resources whose catalog has `latitude` and
/// `longitude`.
pub const LOCATION: &str = "location";

impl Catalog {
    /// Whether records of this catalog have a location (`latitude` and `longitude`).
    pub fn located(&self) -> bool {
        self.field("latitude").is_some() && self.field("longitude").is_some()
    }
}

/// Most values one filter may bind (keeps every query under the databases' parameter limits).
pub const MAX_VALUES: usize = 5000;

#[cfg(test)]
mod tests {
    use chrono::Utc;

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
        name: "Account",
        resource: "accounts",
        table: "accounts",
        fields: &[
            FieldDef {
                name: "tier",
                column: "tier",
                kind: FieldKind::Enum(&EnumDef { name: "Tier", values: &["gold", "silver"], register: None }),
                nullable: true,
                sortable: true,
                currency: None,
            },
            FieldDef {
                name: "revenue",
                column: "revenue_minor",
                kind: FieldKind::Int,
                nullable: true,
                sortable: true,
                currency: Some("revenue_currency"),
            },
            FieldDef {
                name: "revenue_currency",
                column: "revenue_currency",
                kind: FieldKind::UpperText,
                nullable: true,
                sortable: false,
                currency: None,
            },
        ],
        relations: &[],
    };
    static OUTER: Catalog = Catalog {
        name: "Contact",
        resource: "contacts",
        table: "contacts",
        fields: &[
            FieldDef {
                name: "age",
                column: "age",
                kind: FieldKind::Int,
                nullable: true,
                sortable: true,
                currency: None,
            },
            FieldDef {
                name: "city",
                column: "city",
                kind: FieldKind::Text,
                nullable: true,
                sortable: true,
                currency: None,
            },
        ],
        relations: &[RelationDef::to_one("account", "account_id", &INNER)],
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

    #[test]
    fn amounts_compare_only_within_one_pinned_currency() {
        let ok = |f: &str, cat: &'static Catalog| resolve(&parse(f).unwrap(), cat).map(|_| ()).map_err(|e| e.code);
        for f in [
            "and(revenue_currency[eq]:krw,revenue[gte]:100)",
            "revenue_currency[in]:[KRW], revenue[lt]:5",
            "revenue_currency[eq]:KRW, or(revenue[lt]:5,revenue[gt]:500), tier[eq]:gold",
            "or(and(revenue_currency[eq]:KRW,revenue[gt]:1000),and(revenue_currency[eq]:USD,revenue[gt]:1))",
            "revenue[is_null]:true",
            "revenue[eq]:0",
            "revenue[in]:[0]",
        ] {
            assert_eq!(ok(f, &INNER), Ok(()), "{f}");
        }
        for f in [
            "revenue[gte]:100",
            "revenue[eq]:100",
            "revenue[in]:[0,5]",
            "revenue_currency[in]:[KRW,USD], revenue[lt]:5",
            "or(revenue_currency[eq]:KRW,revenue[gt]:5)",
            "not(revenue_currency[eq]:KRW), revenue[gt]:5",
        ] {
            assert_eq!(ok(f, &INNER), Err("currency_required"), "{f}");
        }
        // Through a relation: both conditions on the same related record.
        assert_eq!(ok("account(revenue_currency[eq]:KRW,revenue[gt]:5)", &OUTER), Ok(()));
        let e = resolve(&parse("account.revenue_currency[eq]:KRW,account.revenue[gt]:5").unwrap(), &OUTER).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("account.revenue", "currency_required"));
        assert!(e.message.contains("`account(and(revenue_currency[eq]:KRW,revenue[gte]:…))`"), "{}", e.message);
        let e = resolve(&parse("revenue[gt]:5").unwrap(), &INNER).unwrap_err();
        assert!(e.message.contains("`and(revenue_currency[eq]:KRW,revenue[gte]:…)`"), "{}", e.message);
    }

    #[test]
    fn custom_fields_resolve_on_the_record_and_through_relations() {
        use crate::custom::{CustomFieldSpec, CustomFieldType, CustomFilters};
        let spec = |resource: &str, name: &str, t| CustomFieldSpec {
            resource: resource.into(),
            name: name.into(),
            field_type: t,
            required: false,
            default: None,
            options: vec!["a".into(), "b".into()],
            min: None,
            max: None,
            max_length: None,
            reference_to: None,
        };
        let custom = CustomFilters::from_specs(&[
            spec("contacts", "vip", CustomFieldType::Boolean),
            spec("accounts", "budget", CustomFieldType::Money),
            spec("accounts", "grade", CustomFieldType::Enum),
        ]);
        let ok = |f: &str| resolve_with(&parse(f).unwrap(), &OUTER, &custom).map(|_| ()).map_err(|e| (e.field, e.code));
        assert_eq!(ok("custom_fields.vip[eq]:true"), Ok(()));
        assert_eq!(ok("account.custom_fields.grade[in]:[a,b]"), Ok(()));
        assert_eq!(ok("account(custom_fields.budget_currency[eq]:KRW,custom_fields.budget[gt]:5)"), Ok(()));
        assert_eq!(
            ok("account.custom_fields.grade[eq]:c"),
            Err(("account.custom_fields.grade".into(), "invalid_value"))
        );
        assert_eq!(
            ok("account.custom_fields.budget[gt]:5"),
            Err(("account.custom_fields.budget".into(), "currency_required"))
        );
        assert_eq!(ok("custom_fields.budget[gt]:5"), Err(("custom_fields.budget".into(), "unknown_field")));
        let e = resolve_with(&parse("custom_fields.shoe[eq]:1").unwrap(), &OUTER, &custom).unwrap_err();
        assert!(e.message.contains("its custom fields: custom_fields.vip"), "{}", e.message);
        // Without the definitions, the path is unknown.
        assert_eq!(resolve(&parse("custom_fields.vip[eq]:true").unwrap(), &OUTER).unwrap_err().code, "unknown_field");
        assert!(parse("account.custom_fields.vip[eq]:true").unwrap().mentions_custom_fields());
        assert!(!parse("account.tier[eq]:gold").unwrap().mentions_custom_fields());
    }

    #[test]
    fn within_groups_conditions_on_one_related_record() {
        let f = parse("account(tier[eq]:gold, age[gt]:3), account.tier[eq]:silver").unwrap();
        assert_eq!(
            f,
            Filter::And(vec![
                Filter::Within {
                    path: vec!["account".into()],
                    inner: Box::new(Filter::And(vec![cond("tier", Op::Eq, "gold"), cond("age", Op::Gt, "3")])),
                },
                cond("account.tier", Op::Eq, "silver"),
            ])
        );
        // One `Related` around both conditions (a path per condition would be one each).
        let r = resolve(&parse("account(tier[eq]:gold,tier[neq]:silver)").unwrap(), &OUTER).unwrap();
        let Resolved::Related { relation, inner } = r else { panic!("{r:?}") };
        assert_eq!(relation.name, "account");
        assert!(matches!(*inner, Resolved::And(ref v) if v.len() == 2));
        // `xor(` is a relation scope like any other name: it resolves to an unknown relation.
        let e = resolve(&parse("xor(a[eq]:b)").unwrap(), &OUTER).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("xor", "unknown_field"));
        let e = resolve(&parse("account(colour[eq]:red)").unwrap(), &OUTER).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("account.colour", "unknown_field"));
        assert_eq!(parse("account()").unwrap_err().code, "syntax");
    }

    static TREE: Catalog = Catalog {
        name: "Node",
        resource: "nodes",
        table: "nodes",
        fields: &[FieldDef {
            name: "label",
            column: "label",
            kind: FieldKind::Text,
            nullable: false,
            sortable: true,
            currency: None,
        }],
        relations: &[RelationDef::to_one("parent", "parent_id", &TREE)],
    };

    #[test]
    fn relations_are_followed_up_to_the_depth_limit() {
        let deepest = format!("{}label[eq]:root", "parent.".repeat(MAX_HOPS));
        let r = resolve(&parse(&deepest).unwrap(), &TREE).unwrap();
        let mut depth = 0;
        let mut at = &r;
        while let Resolved::Related { inner, .. } = at {
            depth += 1;
            at = inner;
        }
        assert_eq!(depth, MAX_HOPS);
        let too_deep = format!("{}label[eq]:root", "parent.".repeat(MAX_HOPS + 1));
        let e = resolve(&parse(&too_deep).unwrap(), &TREE).unwrap_err();
        assert_eq!(e.code, "too_complex");
        let e = resolve(&parse("parent.parent.colour[eq]:red").unwrap(), &TREE).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("parent.parent.colour", "unknown_field"));
        // Scopes count their hops too.
        let scoped = "parent(parent(parent(parent.label[eq]:root)))";
        assert_eq!(resolve(&parse(scoped).unwrap(), &TREE).unwrap_err().code, "too_complex");
        assert!(resolve(&parse("parent(parent.parent(label[eq]:root))").unwrap(), &TREE).is_ok());
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
