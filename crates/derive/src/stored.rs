//! `#[derive(Stored)]`: the row, its conversions, the catalog, the blank record and
//! `crm_records::Stored`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{DeriveInput, Field, Ident, LitStr, Path};

use crate::fields::{Kind, Shape, ident, named, shape, snake, wire_name};

/// How a field is stored and listed.
struct Column {
    field: Ident,
    wire: String,
    shape: Shape,
    /// Not a column (child rows), or the external ids.
    skip: bool,
    column: String,
    json: bool,
    /// Money: the currency column, when it is not `<column>_currency`.
    currency: Option<String>,
    /// Money: the currency column belongs to another field of the record (a purchase's
    /// `currency`), which writes it.
    shared_currency: bool,
    filter: Option<Filter>,
}

#[derive(Default)]
struct Filter {
    sort: bool,
    lower: bool,
    upper: bool,
    relation: Option<(String, Path)>,
}

const META: [&str; 5] = ["id", "version", "created_at", "updated_at", "archived_at"];

fn column(f: &Field) -> syn::Result<Column> {
    let field = ident(f)?.clone();
    let mut c = Column {
        wire: wire_name(f),
        shape: shape(&f.ty)?,
        skip: field == "external_ids",
        column: field.to_string(),
        json: false,
        currency: None,
        shared_currency: false,
        filter: None,
        field,
    };
    for attr in &f.attrs {
        if attr.path().is_ident("stored") {
            attr.parse_nested_meta(|m| {
                if m.path.is_ident("skip") {
                    c.skip = true;
                } else if m.path.is_ident("json") {
                    c.json = true;
                } else if m.path.is_ident("column") {
                    c.column = m.value()?.parse::<LitStr>()?.value();
                } else if m.path.is_ident("currency") {
                    c.currency = Some(m.value()?.parse::<LitStr>()?.value());
                } else {
                    return Err(m.error("expected skip, json, column = \"…\" or currency = \"…\""));
                }
                Ok(())
            })?;
        } else if attr.path().is_ident("filter") {
            let mut fl = Filter::default();
            if !matches!(attr.meta, syn::Meta::Path(_)) {
                let mut relation = None;
                let mut to = None;
                attr.parse_nested_meta(|m| {
                    if m.path.is_ident("sort") {
                        fl.sort = true;
                    } else if m.path.is_ident("lower") {
                        fl.lower = true;
                    } else if m.path.is_ident("upper") {
                        fl.upper = true;
                    } else if m.path.is_ident("relation") {
                        relation = Some(m.value()?.parse::<LitStr>()?.value());
                    } else if m.path.is_ident("to") {
                        to = Some(m.value()?.parse::<Path>()?);
                    } else {
                        return Err(m.error("expected sort, lower, upper, relation = \"…\" or to = CATALOG"));
                    }
                    Ok(())
                })?;
                match (relation, to) {
                    (Some(r), Some(t)) => fl.relation = Some((r, t)),
                    (None, None) => {}
                    _ => return Err(syn::Error::new_spanned(attr, "`relation` and `to` go together")),
                }
            }
            c.filter = Some(fl);
        }
    }
    Ok(c)
}

/// A `has_many` relation: name, column, target catalog, and the link table and its far column
/// when it goes through one.
type HasMany = (String, String, Path, Option<(String, String)>);

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let name = &input.ident;
    let mut table: Option<Ident> = None;
    // `has_many(name = "lines", column = "purchase_id", to = LINE_CATALOG)`: to-many
    // relations that filters can follow (`lines.product_id[eq]:…`); with `through = "link
    // table", far = "column"`, through a link table whose `column` holds this row's id and
    // `far` the target's.
    let mut has_many: Vec<HasMany> = Vec::new();
    for attr in &input.attrs {
        if attr.path().is_ident("stored") {
            attr.parse_nested_meta(|m| {
                if m.path.is_ident("table") {
                    table = Some(m.value()?.parse()?);
                    Ok(())
                } else if m.path.is_ident("has_many") {
                    let (mut rel, mut col, mut to, mut through, mut far) = (None, None, None, None, None);
                    m.parse_nested_meta(|h| {
                        if h.path.is_ident("name") {
                            rel = Some(h.value()?.parse::<LitStr>()?.value());
                        } else if h.path.is_ident("column") {
                            col = Some(h.value()?.parse::<LitStr>()?.value());
                        } else if h.path.is_ident("to") {
                            to = Some(h.value()?.parse::<Path>()?);
                        } else if h.path.is_ident("through") {
                            through = Some(h.value()?.parse::<LitStr>()?.value());
                        } else if h.path.is_ident("far") {
                            far = Some(h.value()?.parse::<LitStr>()?.value());
                        } else {
                            return Err(h.error(
                                "expected name = \"…\", column = \"…\", to = CATALOG, through = \"…\" or far = \"…\"",
                            ));
                        }
                        Ok(())
                    })?;
                    let link = match (through, far) {
                        (Some(t), Some(f)) => Some((t, f)),
                        (None, None) => None,
                        _ => return Err(m.error("has_many takes `through` and `far` together")),
                    };
                    match (rel, col, to) {
                        (Some(r), Some(c), Some(t)) => has_many.push((r, c, t, link)),
                        _ => return Err(m.error("has_many takes name, column and to")),
                    }
                    Ok(())
                } else {
                    Err(m.error("expected table = <table of crm_db::schema> or has_many(…)"))
                }
            })?;
        }
    }
    let table = table.ok_or_else(|| syn::Error::new_spanned(name, "#[stored(table = …)] is required"))?;
    let mut fields: Vec<Column> = named(input)?.iter().map(column).collect::<syn::Result<_>>()?;
    let columns: Vec<String> = fields.iter().filter(|c| !c.skip).map(|c| c.column.clone()).collect();
    for c in &mut fields {
        if let Some(cur) = &c.currency {
            c.shared_currency = columns.contains(cur);
        }
    }
    for m in META {
        if !fields.iter().any(|c| c.field == m) {
            return Err(syn::Error::new_spanned(name, format!("a record has a field `{m}`")));
        }
    }
    let id_ty = fields.iter().find(|c| c.field == "id").map(|c| c.shape.inner.clone());
    let row = format_ident!("{}Row", name);
    let catalog = format_ident!("{}_CATALOG", snake(&name.to_string()).to_uppercase());
    let table_name = table.to_string();
    let search = format!("{table_name}_fts");

    let mut row_fields = Vec::new();
    let mut from_row = Vec::new();
    let mut before_row = Vec::new();
    let mut to_row = Vec::new();
    let mut blank = Vec::new();
    let mut catalog_fields = Vec::new();
    let mut relations = Vec::new();
    for c in &fields {
        let _f = &c.field;
        blank.push(blank_value(c));
        if c.skip {
            // Child rows (loaded by `Record::load_children`) and external ids start blank.
            from_row.push(blank_value(c));
            continue;
        }
        let (rf, fr, tr, pre) = conversions(c);
        row_fields.extend(rf);
        before_row.extend(pre);
        from_row.push(fr);
        to_row.extend(tr);
        if let Some(fl) = &c.filter {
            catalog_fields.extend(filter_defs(c, fl)?);
            if let Some((rel, target)) = &fl.relation {
                let col = &c.column;
                relations.push(quote! {
                    crm_core::filter::RelationDef::to_one(#rel, #col, &#target)
                });
            }
        }
    }
    for (rel, col, target, link) in &has_many {
        relations.push(match link {
            None => quote! { crm_core::filter::RelationDef::to_many(#rel, #col, &#target) },
            Some((table, far)) => quote! {
                crm_core::filter::RelationDef::to_many_through(
                    #rel,
                    crm_core::filter::Through { table: #table, near: #col, far: #far },
                    &#target,
                )
            },
        });
    }
    let std_field = |n: &str, kind: TokenStream, nullable: bool, sortable: bool| {
        quote! { crm_core::filter::FieldDef { name: #n, column: #n, kind: #kind, nullable: #nullable, sortable: #sortable, currency: None } }
    };
    let mut all_catalog = vec![std_field("id", quote!(crm_core::filter::FieldKind::Uuid), false, false)];
    all_catalog.extend(catalog_fields);
    all_catalog.push(quote! {
        crm_core::filter::FieldDef {
            name: "external_id",
            column: <#id_ty as crm_core::ids::EntityId>::ENTITY,
            kind: crm_core::filter::FieldKind::ExternalId,
            nullable: false,
            sortable: false,
            currency: None,
        }
    });
    all_catalog.push(std_field("version", quote!(crm_core::filter::FieldKind::Int), false, false));
    all_catalog.push(std_field("created_at", quote!(crm_core::filter::FieldKind::Timestamp), false, true));
    all_catalog.push(std_field("updated_at", quote!(crm_core::filter::FieldKind::Timestamp), false, true));
    all_catalog.push(std_field("archived_at", quote!(crm_core::filter::FieldKind::Timestamp), true, true));

    let set_distance = if fields.iter().any(|c| c.field == "distance_m") {
        quote! {
            fn set_distance_m(&mut self, distance_m: Option<f64>) {
                self.distance_m = distance_m;
            }
        }
    } else {
        quote! {}
    };
    let name_str = name.to_string();
    let row_doc = format!("The stored row of [`{name}`] (table `{table_name}`).");
    let catalog_doc = format!("What lists of {table_name} filter and sort on.");
    Ok(quote! {
        #[doc = #row_doc]
        #[derive(diesel::Queryable, diesel::Selectable, diesel::Insertable, diesel::AsChangeset, Clone, Debug)]
        #[diesel(table_name = crm_db::schema::#table, treat_none_as_null = true)]
        pub struct #row {
            #(#row_fields,)*
        }

        impl From<#row> for #name {
            fn from(r: #row) -> #name {
                #(#before_row)*
                #name { #(#from_row,)* }
            }
        }

        impl From<&#name> for #row {
            fn from(r: &#name) -> #row {
                #row { #(#to_row,)* }
            }
        }

        #[doc = #catalog_doc]
        pub static #catalog: crm_core::filter::Catalog = crm_core::filter::Catalog {
            name: #name_str,
            resource: #table_name,
            table: #table_name,
            fields: &[#(#all_catalog),*],
            relations: &[#(#relations),*],
        };

        impl crm_records::Stored for #name {
            type Id = #id_ty;

            fn catalog() -> &'static crm_core::filter::Catalog {
                &#catalog
            }
            fn id(&self) -> #id_ty {
                self.id
            }
            fn meta(&self) -> crm_records::Meta {
                crm_records::Meta {
                    version: self.version,
                    created_at: self.created_at,
                    updated_at: self.updated_at,
                    archived_at: self.archived_at,
                }
            }
            fn set_meta(&mut self, m: crm_records::Meta) {
                (self.version, self.created_at, self.updated_at, self.archived_at) =
                    (m.version, m.created_at, m.updated_at, m.archived_at);
            }
            fn external_ids(&self) -> &[crm_core::ExternalId] {
                &self.external_ids
            }
            fn external_ids_mut(&mut self) -> &mut Vec<crm_core::ExternalId> {
                &mut self.external_ids
            }
            fn blank() -> Self {
                #name { #(#blank,)* }
            }
            #set_distance

            crm_records::diesel_store!(
                table: #table,
                row: #row,
                search: crm_db::sql::SearchIndex { pg_column: "search_tsv", sqlite_table: #search }
            );
        }

        impl crm_core::external::BatchRecord for #name {
            fn record_id(&self) -> uuid::Uuid {
                crm_core::ids::EntityId::uuid(self.id)
            }
            fn record_version(&self) -> i64 {
                self.version
            }
        }
    })
}

/// The row's field(s), the record's field from the row, the row's field(s) from the record, and
/// what the conversion from the row reads first.
fn conversions(c: &Column) -> (Vec<TokenStream>, TokenStream, Vec<TokenStream>, Vec<TokenStream>) {
    let f = &c.field;
    let col = format_ident!("{}", c.column);
    let opt = c.shape.optional;
    let inner = &c.shape.inner;
    let wrap = |t: TokenStream| if opt { quote!(Option<#t>) } else { t };
    let kind = if c.json { Kind::Json { value: false } } else { c.shape.kind.clone() };
    match kind {
        Kind::Money => {
            let minor = format_ident!("{}_minor", c.column);
            let currency = format_ident!("{}", c.currency.clone().unwrap_or_else(|| format!("{}_currency", c.column)));
            let (minor_ty, currency_ty) = (wrap(quote!(i64)), wrap(quote!(String)));
            let mut fields = vec![quote!(pub #minor: #minor_ty)];
            let mut pre = Vec::new();
            // The currency as read: this field's own column, or a copy of another field's.
            let read_currency = if c.shared_currency {
                let var = format_ident!("__{}_currency", c.field);
                pre.push(quote!(let #var = r.#currency.clone();));
                quote!(#var)
            } else {
                fields.push(quote!(pub #currency: #currency_ty));
                quote!(r.#currency)
            };
            let (fr, mut tr) = if opt {
                (
                    quote! {
                        #f: match (r.#minor, #read_currency) {
                            (Some(a), Some(c)) => Some(crm_core::Money { amount_minor: crm_core::Long(a), currency: c }),
                            _ => None,
                        }
                    },
                    vec![quote!(#minor: r.#f.as_ref().map(|m| m.amount_minor.0))],
                )
            } else {
                (
                    quote!(#f: crm_core::Money { amount_minor: crm_core::Long(r.#minor), currency: #read_currency }),
                    vec![quote!(#minor: r.#f.amount_minor.0)],
                )
            };
            if !c.shared_currency {
                tr.push(if opt {
                    quote!(#currency: r.#f.as_ref().map(|m| m.currency.clone()))
                } else {
                    quote!(#currency: r.#f.currency.clone())
                });
            }
            (fields, fr, tr, pre)
        }
        kind => {
            let (db, from, to): (TokenStream, TokenStream, TokenStream) = match kind {
                Kind::Text => (quote!(String), quote!(v), quote!(v.clone())),
                Kind::Bool | Kind::Int64 | Kind::Float | Kind::Date => (quote!(#inner), quote!(v), quote!(*v)),
                Kind::Int32 => (quote!(i64), quote!(i32::try_from(v).unwrap_or_default()), quote!(i64::from(*v))),
                Kind::Timestamp => (quote!(chrono::NaiveDateTime), quote!(crm_db::to_utc(v)), quote!(v.naive_utc())),
                Kind::Uuid => (quote!(crm_db::types::DbUuid), quote!(v.0), quote!(crm_db::types::DbUuid(*v))),
                Kind::Id(ty) => (
                    quote!(crm_db::types::DbUuid),
                    quote!(<#ty as crm_core::ids::EntityId>::from_uuid(v.0)),
                    quote!(crm_db::types::DbUuid(crm_core::ids::EntityId::uuid(*v))),
                ),
                Kind::Json { value: true } => {
                    (quote!(crm_db::types::DbJson), quote!(v.0), quote!(crm_db::types::DbJson(v.clone())))
                }
                Kind::Json { value: false } => (
                    quote!(crm_db::types::DbJson),
                    quote!(serde_json::from_value(v.0).unwrap_or_default()),
                    quote!(crm_db::types::DbJson(serde_json::json!(v))),
                ),
                Kind::Enum(ty) => (
                    quote!(String),
                    if opt { quote!(#ty::parse(&v)) } else { quote!(#ty::parse(&v).unwrap_or(#ty::ALL[0])) },
                    quote!(v.as_str().to_string()),
                ),
                Kind::Money => (quote!(), quote!(), quote!()),
            };
            let db_ty = wrap(db);
            let field = quote!(pub #col: #db_ty);
            let enum_opt = matches!(c.shape.kind, Kind::Enum(_)) && opt && !c.json;
            let fr = if enum_opt {
                quote!(#f: r.#col.and_then(|v| #from))
            } else if opt {
                quote!(#f: r.#col.map(|v| #from))
            } else {
                quote!(#f: { let v = r.#col; #from })
            };
            let tr = if opt { quote!(#col: r.#f.as_ref().map(|v| #to)) } else { quote!(#col: { let v = &r.#f; #to }) };
            (vec![field], fr, vec![tr], Vec::new())
        }
    }
}

/// The field's value in a blank record.
fn blank_value(c: &Column) -> TokenStream {
    let f = &c.field;
    if c.shape.optional {
        return quote!(#f: Default::default());
    }
    match &c.shape.kind {
        Kind::Id(ty) => quote!(#f: <#ty as crm_core::ids::EntityId>::from_uuid(uuid::Uuid::nil())),
        Kind::Timestamp => quote!(#f: crm_core::Timestamp(chrono::DateTime::UNIX_EPOCH)),
        Kind::Uuid => quote!(#f: uuid::Uuid::nil()),
        Kind::Money => quote!(#f: crm_core::Money::new(0, "")),
        Kind::Json { value: true } => quote!(#f: serde_json::json!({})),
        Kind::Enum(ty) if !c.json => quote!(#f: #ty::ALL[0]),
        _ => quote!(#f: Default::default()),
    }
}

/// The catalog entries of a filterable field.
fn filter_defs(c: &Column, fl: &Filter) -> syn::Result<Vec<TokenStream>> {
    let name = &c.wire;
    let column = &c.column;
    let nullable = c.shape.optional;
    let sortable = fl.sort;
    let def_with = |name: &str,
                    column: &str,
                    kind: TokenStream,
                    nullable: bool,
                    sortable: bool,
                    currency: TokenStream| {
        quote! {
            crm_core::filter::FieldDef {
                name: #name, column: #column, kind: #kind, nullable: #nullable, sortable: #sortable, currency: #currency,
            }
        }
    };
    let def = |name: &str, column: &str, kind: TokenStream, nullable: bool, sortable: bool| {
        def_with(name, column, kind, nullable, sortable, quote!(None))
    };
    let kind = match &c.shape.kind {
        Kind::Text if fl.lower => quote!(crm_core::filter::FieldKind::LowerText),
        Kind::Text if fl.upper => quote!(crm_core::filter::FieldKind::UpperText),
        Kind::Text => quote!(crm_core::filter::FieldKind::Text),
        Kind::Bool => quote!(crm_core::filter::FieldKind::Bool),
        Kind::Int64 | Kind::Int32 => quote!(crm_core::filter::FieldKind::Int),
        Kind::Float => quote!(crm_core::filter::FieldKind::Float),
        Kind::Timestamp => quote!(crm_core::filter::FieldKind::Timestamp),
        Kind::Date => quote!(crm_core::filter::FieldKind::Date),
        Kind::Uuid | Kind::Id(_) => quote!(crm_core::filter::FieldKind::Uuid),
        Kind::Json { value: false } => quote!(crm_core::filter::FieldKind::Tags),
        Kind::Enum(ty) => quote!(crm_core::filter::FieldKind::Enum(&#ty::DEF)),
        Kind::Money => {
            let minor = format!("{column}_minor");
            let (currency_name, currency_col) = match &c.currency {
                Some(cur) => (cur.clone(), cur.clone()),
                None => (format!("{name}_currency"), format!("{column}_currency")),
            };
            let mut defs = vec![def_with(
                name,
                &minor,
                quote!(crm_core::filter::FieldKind::Int),
                nullable,
                sortable,
                quote!(Some(#currency_name)),
            )];
            // The currency, unless another field of the record lists it.
            if !c.shared_currency {
                defs.push(def(
                    &currency_name,
                    &currency_col,
                    quote!(crm_core::filter::FieldKind::UpperText),
                    nullable,
                    false,
                ));
            }
            return Ok(defs);
        }
        Kind::Json { value: true } => {
            return Err(syn::Error::new_spanned(&c.field, "a JSON object cannot be filtered on"));
        }
    };
    Ok(vec![def(name, column, kind, nullable, sortable)])
}
