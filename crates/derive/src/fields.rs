//! What the derives read of a field: its type's shape, its wire name, its docs.

use syn::{Attribute, Field, GenericArgument, Ident, LitStr, PathArguments, Type};

/// What a field holds, and so how it is stored and filtered.
#[derive(Clone)]
pub enum Kind {
    Text,
    Bool,
    Int64,
    /// Stored as a 64-bit integer.
    Int32,
    Float,
    Timestamp,
    Date,
    Uuid,
    /// A typed id (`AccountId`), stored as a UUID.
    Id(Type),
    /// Two columns: `<name>_minor`, `<name>_currency`.
    Money,
    /// `Vec<_>` or a JSON value, stored as JSON.
    Json {
        value: bool,
    },
    /// A `wire_enum!`, stored as its text.
    Enum(Type),
}

/// A field's type: optional or not, and what it holds.
pub struct Shape {
    pub optional: bool,
    pub kind: Kind,
    /// The type inside `Option`, or the type itself.
    pub inner: Type,
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

/// The single type argument of `Option<T>` / `Vec<T>`.
pub fn generic_arg(ty: &Type, wrapper: &str) -> Option<Type> {
    let seg = last_segment(ty)?;
    if seg.ident != wrapper {
        return None;
    }
    match &seg.arguments {
        PathArguments::AngleBracketed(a) => a.args.iter().find_map(|g| match g {
            GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        }),
        _ => None,
    }
}

pub fn shape(ty: &Type) -> syn::Result<Shape> {
    if let Some(inner) = generic_arg(ty, "Option") {
        if generic_arg(&inner, "Option").is_some() {
            return Err(syn::Error::new_spanned(ty, "nested options are not supported"));
        }
        return Ok(Shape { optional: true, kind: kind(&inner), inner });
    }
    Ok(Shape { optional: false, kind: kind(ty), inner: ty.clone() })
}

fn kind(ty: &Type) -> Kind {
    let Some(seg) = last_segment(ty) else { return Kind::Enum(ty.clone()) };
    let name = seg.ident.to_string();
    match name.as_str() {
        "String" => Kind::Text,
        "bool" => Kind::Bool,
        "i64" => Kind::Int64,
        "i32" => Kind::Int32,
        "f64" => Kind::Float,
        "Timestamp" => Kind::Timestamp,
        "NaiveDate" => Kind::Date,
        "Uuid" => Kind::Uuid,
        "Money" => Kind::Money,
        "Vec" => Kind::Json { value: false },
        "Value" => Kind::Json { value: true },
        n if n.ends_with("Id") && n.len() > 2 => Kind::Id(ty.clone()),
        _ => Kind::Enum(ty.clone()),
    }
}

/// The name a field has on the wire: its `#[serde(rename = "…")]`, or its own.
pub fn wire_name(field: &Field) -> String {
    for attr in &field.attrs {
        if !attr.path().is_ident("serde") {
            continue;
        }
        let mut found = None;
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let lit: LitStr = meta.value()?.parse()?;
                found = Some(lit.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            } else if meta.input.peek(syn::token::Paren) {
                let _content;
                syn::parenthesized!(_content in meta.input);
            }
            Ok(())
        });
        if let Some(f) = found {
            return f;
        }
    }
    field.ident.as_ref().map(ToString::to_string).unwrap_or_default()
}

pub fn ident(field: &Field) -> syn::Result<&Ident> {
    field.ident.as_ref().ok_or_else(|| syn::Error::new_spanned(field, "named fields only"))
}

/// A field's doc comments.
pub fn docs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("doc")).cloned().collect()
}

/// The named fields of a struct.
pub fn named(input: &syn::DeriveInput) -> syn::Result<Vec<Field>> {
    match &input.data {
        syn::Data::Struct(s) => match &s.fields {
            syn::Fields::Named(n) => Ok(n.named.iter().cloned().collect()),
            _ => Err(syn::Error::new_spanned(&input.ident, "a struct with named fields")),
        },
        _ => Err(syn::Error::new_spanned(&input.ident, "a struct with named fields")),
    }
}

/// `ContactPatch` → `contact patch`; `TargetList` → `target_list` (for names and docs).
pub fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
