//! `resource!`: the names of a resource's API, made once from its record type and collection.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Path, Token};

use crate::fields::snake;

/// `callback; Record "collection" { … }`.
pub struct Input {
    callback: Path,
    record: Ident,
    collection: LitStr,
    rest: TokenStream,
}

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let callback = input.parse()?;
        input.parse::<Token![;]>()?;
        let record = input.parse()?;
        let collection = input.parse()?;
        let rest = input.parse()?;
        Ok(Input { callback, record, collection, rest })
    }
}

fn camel(snake: &str) -> String {
    snake.split('_').filter(|p| !p.is_empty()).map(|p| p[..1].to_uppercase() + &p[1..]).collect()
}

pub fn expand(input: Input) -> syn::Result<TokenStream> {
    let t = &input.record;
    let coll = input.collection.value();
    if coll.is_empty() || !coll.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
        return Err(syn::Error::new_spanned(
            &input.collection,
            "a collection is lower-case kebab case: \"target-lists\"",
        ));
    }
    let one = snake(&t.to_string());
    let many = coll.replace('-', "_");
    let lit = |s: String| LitStr::new(&s, Span::call_site());
    let id = |s: String| Ident::new(&s, Span::call_site());
    let path = |suffix: &str| lit(format!("/{coll}{suffix}"));
    let (collection, item, restore, batch, by_ext, history) = (
        path(""),
        path("/{id}"),
        path("/{id}/restore"),
        path("/batch"),
        path("/by-external-id/{source}/{external_id}"),
        path("/{id}/history"),
    );
    let module = id(many.clone());
    let many_camel = camel(&many);
    let (list, get, create, update, archive, restore_fn, batch_fn, get_ext, upsert, history_fn) = (
        id(format!("list_{many}")),
        id(format!("get_{one}")),
        id(format!("create_{one}")),
        id(format!("update_{one}")),
        id(format!("archive_{one}")),
        id(format!("restore_{one}")),
        id(format!("batch_{many}")),
        id(format!("get_{one}_by_external_id")),
        id(format!("upsert_{one}")),
        id(format!("{one}_history")),
    );
    let (gql_one, gql_many, gql_by_ext) = (id(one.clone()), id(many.clone()), id(format!("{one}_by_external_id")));
    let (input_ty, patch_ty, id_ty) = (format_ident!("{t}Input"), format_ident!("{t}Patch"), format_ident!("{t}Id"));
    let (list_ty, batch_op_doc, batch_req_doc, resource) = (
        format_ident!("{t}List"),
        format_ident!("{t}BatchOperation"),
        format_ident!("{t}BatchRequest"),
        format_ident!("{t}Resource"),
    );
    let (node, connection, upsert_result, batch_op, update_op, upsert_op, delete_op) = (
        format_ident!("{t}Node"),
        format_ident!("{t}Connection"),
        format_ident!("Upsert{t}Result"),
        format_ident!("{t}BatchOp"),
        format_ident!("{t}UpdateOp"),
        format_ident!("{t}UpsertOp"),
        format_ident!("{t}DeleteOp"),
    );
    let (query, mutation) = (id(format!("{many_camel}Query")), id(format!("{many_camel}Mutation")));
    let gql_name = lit(t.to_string());
    let callback = &input.callback;
    let rest = &input.rest;
    Ok(quote! {
        #callback! {
            names {
                record: #t, module: #module, input: #input_ty, patch: #patch_ty, id: #id_ty, resource: #resource,
                paths: #collection, #item, #restore, #batch, #by_ext, #history;
                rest: #list, #get, #create, #update, #archive, #restore_fn, #batch_fn, #get_ext, #upsert, #history_fn;
                rest_types: #list_ty, #batch_op_doc, #batch_req_doc;
                graphql: #node as #gql_name, #connection, #upsert_result, #batch_op, #update_op, #upsert_op, #delete_op;
                query: #query { #gql_one, #gql_many, #gql_by_ext };
                mutation: #mutation { #create, #update, #archive, #restore_fn, #upsert, #batch_fn };
            }
            #rest
        }
    })
}

/// `resources!(api, registry; Record "collection" { … }, …)`: `api!` for each resource, then
/// `registry! { module, … }`.
pub struct List {
    api: Path,
    registry: Path,
    entries: Vec<(Ident, LitStr, TokenStream)>,
}

impl Parse for List {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let api = input.parse()?;
        input.parse::<Token![,]>()?;
        let registry = input.parse()?;
        input.parse::<Token![;]>()?;
        let mut entries = Vec::new();
        while !input.is_empty() {
            let record: Ident = input.parse()?;
            let collection: LitStr = input.parse()?;
            let body: proc_macro2::Group = input.parse()?;
            entries.push((record, collection, quote!(#body)));
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(List { api, registry, entries })
    }
}

pub fn expand_list(list: List) -> syn::Result<TokenStream> {
    let mut out = TokenStream::new();
    let mut modules = Vec::new();
    for (record, collection, rest) in list.entries {
        modules.push(Ident::new(&collection.value().replace('-', "_"), Span::call_site()));
        out.extend(expand(Input { callback: list.api.clone(), record, collection, rest })?);
    }
    let registry = &list.registry;
    out.extend(quote!(#registry! { #(#modules),* }));
    Ok(out)
}
