//! A resource with a field of every kind, a money amount, a location and a relation: what the
//! targets resolve requests against.

use crm_core::filter::{Catalog, EnumDef, FieldDef, FieldKind, RelationDef};
use crm_core::list::{ListParams, ListQuery};
use crm_db::Backend;
use crm_db::sql::{SearchIndex, list_sql};

const fn field(name: &'static str, kind: FieldKind, sortable: bool) -> FieldDef {
    FieldDef { name, column: name, kind, nullable: true, sortable, currency: None }
}

static STAGE: EnumDef = EnumDef { name: "Stage", values: &["lead", "customer", "churned"], register: None };

pub static ACCOUNT: Catalog = Catalog {
    name: "Account",
    resource: "accounts",
    table: "accounts",
    fields: &[field("name", FieldKind::Text, true), field("tier", FieldKind::Enum(&STAGE), true)],
    relations: &[],
};

pub static CONTACT: Catalog = Catalog {
    name: "Contact",
    resource: "contacts",
    table: "contacts",
    fields: &[
        field("last_name", FieldKind::Text, true),
        field("email", FieldKind::LowerText, true),
        field("country", FieldKind::UpperText, true),
        field("age", FieldKind::Int, true),
        field("score", FieldKind::Float, true),
        field("active", FieldKind::Bool, true),
        field("created_at", FieldKind::Timestamp, true),
        field("birthday", FieldKind::Date, true),
        field("owner_id", FieldKind::Uuid, true),
        field("stage", FieldKind::Enum(&STAGE), true),
        field("tags", FieldKind::Tags, false),
        FieldDef {
            name: "external_id",
            column: "contact",
            kind: FieldKind::ExternalId,
            nullable: false,
            sortable: false,
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
        field("revenue_currency", FieldKind::UpperText, false),
        field("latitude", FieldKind::Float, true),
        field("longitude", FieldKind::Float, true),
    ],
    relations: &[RelationDef::to_one("account", "account_id", &ACCOUNT)],
};

const INDEX: SearchIndex = SearchIndex { pg_column: "search", sqlite_table: "contacts_fts" };

/// Resolves `params` against the contact catalog and, when it is a valid request, builds its
/// statement for both backends: neither step may panic, whatever the text.
pub fn resolve_and_build(params: &ListParams) -> Option<ListQuery> {
    let q = params.resolve(&CONTACT, "-created_at").ok()?;
    for backend in [Backend::Postgres, Backend::Sqlite] {
        let _ = list_sql(&q, INDEX, backend);
    }
    Some(q)
}
