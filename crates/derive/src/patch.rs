//! `#[derive(MergePatch)]`: a record input's JSON merge patch and how it applies.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, DeriveInput, Ident, Path};

use crate::fields::{docs, generic_arg, ident, named, snake};

enum Apply {
    /// The record has the field: absent keeps it, `null` clears it.
    Field,
    /// A JSON object merged key by key.
    Merge,
    /// Not a field of the record: only what the patch sends.
    InputOnly,
    /// Computed by a function of the patch and the record.
    With(Path),
    /// A required field: `null` keeps it as it is (it cannot be cleared).
    KeepOnNull,
    /// Defaults from another field (an account from the contact): when the patch changes that
    /// field and does not name this one, it is recomputed (left empty for the build).
    Follows(Ident),
    /// Not in the patch: the record's value is kept (set by other use cases).
    Keep,
}

/// A field's JSON name: its `serde(rename)`, else its own.
fn wire_name(attrs: &[Attribute], ident: &Ident) -> String {
    let mut name = ident.to_string();
    for a in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = a.parse_nested_meta(|m| {
            if m.path.is_ident("rename") {
                name = m.value()?.parse::<syn::LitStr>()?.value();
            } else if m.input.peek(syn::Token![=]) {
                let _: syn::Expr = m.value()?.parse()?;
            }
            Ok(())
        });
    }
    name
}

/// Attributes of the input field the patch field keeps: its wire name in both transports and,
/// for an optional input field, its documented schema (examples, `value_type`). Also whether a
/// kept schema attribute already gives the `value_type`. (`cfg_attr`s are expanded before a
/// derive runs: what the enabled features add arrives as plain attributes.)
fn kept(attrs: &[Attribute], optional: bool) -> (Vec<TokenStream>, bool) {
    let mut value_type = false;
    let mut keep = Vec::new();
    for a in attrs {
        let tokens = a.meta.require_list().map(|l| l.tokens.to_string()).unwrap_or_default();
        if a.path().is_ident("serde") {
            let mut rename = None;
            let _ = a.parse_nested_meta(|m| {
                if m.path.is_ident("rename") {
                    rename = Some(m.value()?.parse::<syn::LitStr>()?);
                } else if m.input.peek(syn::Token![=]) {
                    let _: syn::Expr = m.value()?.parse()?;
                }
                Ok(())
            });
            if let Some(r) = rename {
                keep.push(quote!(#[serde(rename = #r)]));
            }
        } else if a.path().is_ident("graphql") && tokens.contains("name") {
            keep.push(quote!(#a));
        } else if a.path().is_ident("schema") && optional {
            value_type |= tokens.contains("value_type");
            keep.push(quote!(#a));
        }
    }
    (keep, value_type)
}

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let input_ty = &input.ident;
    let (mut name, mut record): (Option<Ident>, Option<Ident>) = (None, None);
    let mut doc: Option<String> = None;
    for attr in &input.attrs {
        if attr.path().is_ident("patch") {
            attr.parse_nested_meta(|m| {
                if m.path.is_ident("name") {
                    name = Some(m.value()?.parse()?);
                } else if m.path.is_ident("record") {
                    record = Some(m.value()?.parse()?);
                } else if m.path.is_ident("doc") {
                    doc = Some(m.value()?.parse::<syn::LitStr>()?.value());
                } else {
                    return Err(m.error("expected name = <Patch type>, record = <Record type>, doc = \"…\""));
                }
                Ok(())
            })?;
        }
    }
    let (Some(name), Some(record)) = (name, record) else {
        return Err(syn::Error::new_spanned(input_ty, "#[patch(name = …, record = …)] is required"));
    };
    let entity = snake(&record.to_string()).replace('_', " ");
    let article = if entity.starts_with(['a', 'e', 'i', 'o']) { "an" } else { "a" };
    let mut struct_doc = format!("A JSON merge patch of {article} {entity}: absent = unchanged, `null` = cleared.");
    if let Some(d) = doc {
        struct_doc = format!("{struct_doc} {d}");
    }
    let mut patch_fields = Vec::new();
    let mut computed = Vec::new();
    let mut following = Vec::new();
    let mut applied = Vec::new();
    let mut has_external_ids = false;
    // The patch's fields that are also the record's (what a merge can take from a record).
    let mut record_fields: Vec<String> = Vec::new();
    for f in named(input)? {
        let fi = ident(&f)?.clone();
        has_external_ids |= fi == "external_ids";
        let mut how = Apply::Field;
        for attr in &f.attrs {
            if attr.path().is_ident("patch") {
                attr.parse_nested_meta(|m| {
                    if m.path.is_ident("merge") {
                        how = Apply::Merge;
                    } else if m.path.is_ident("input_only") {
                        how = Apply::InputOnly;
                    } else if m.path.is_ident("with") {
                        how = Apply::With(m.value()?.parse()?);
                    } else if m.path.is_ident("keep_on_null") {
                        how = Apply::KeepOnNull;
                    } else if m.path.is_ident("keep") {
                        how = Apply::Keep;
                    } else if m.path.is_ident("follows") {
                        how = Apply::Follows(m.value()?.parse()?);
                    } else {
                        return Err(
                            m.error("expected merge, input_only, keep_on_null, follows = <field> or with = <fn>")
                        );
                    }
                    Ok(())
                })?;
            }
        }
        let optional = generic_arg(&f.ty, "Option");
        let inner = optional.clone().unwrap_or_else(|| f.ty.clone());
        let doc = docs(&f.attrs);
        let (keep, has_value_type) = kept(&f.attrs, optional.is_some());
        let value_type = if has_value_type {
            quote!()
        } else {
            quote!(#[cfg_attr(feature = "openapi", schema(value_type = Option<#inner>))])
        };
        let extra_doc = if fi == "external_ids" {
            quote!(#[doc = ""] #[doc = " Replaces the whole list when present."])
        } else {
            quote!()
        };
        if matches!(how, Apply::Keep) {
            let value = if optional.is_some() {
                quote!(crm_core::patch::AsOption::<#inner>::as_option(&current.#fi))
            } else {
                quote!(current.#fi.clone())
            };
            applied.push(quote!(#fi: #value));
            continue;
        }
        if !matches!(how, Apply::InputOnly) {
            record_fields.push(wire_name(&f.attrs, &fi));
        }
        patch_fields.push(quote! {
            #(#doc)*
            #extra_doc
            #(#keep)*
            #value_type
            pub #fi: crm_core::Patch<#inner>
        });
        let value = match how {
            Apply::With(path) => {
                let var = quote::format_ident!("__{}", fi);
                computed.push(quote!(let #var = #path(&self, current);));
                quote!(#var)
            }
            Apply::Merge => quote! {
                Some(self.#fi.merge_into(if live { current.#fi.clone() } else { serde_json::json!({}) }))
            },
            Apply::KeepOnNull => quote! {
                match self.#fi {
                    crm_core::Patch::Value(v) => Some(v),
                    _ if live => crm_core::patch::AsOption::<#inner>::as_option(&current.#fi),
                    _ => None,
                }
            },
            Apply::Follows(other) => {
                // After every `with` (they read the whole patch), before the fields move.
                let var = quote::format_ident!("__{}", fi);
                following.push(quote! {
                    let #var = match (&self.#other, self.#fi) {
                        (crm_core::Patch::Absent, own) => {
                            own.apply_to(crm_core::patch::AsOption::<#inner>::as_option(&current.#fi))
                        }
                        (_, crm_core::Patch::Absent) => None,
                        (_, own) => own.apply_to(crm_core::patch::AsOption::<#inner>::as_option(&current.#fi)),
                    };
                });
                quote!(#var)
            }
            Apply::Keep => quote!(),
            Apply::InputOnly => quote! {
                match self.#fi { crm_core::Patch::Value(v) => Some(v), _ => None }
            },
            Apply::Field if optional.is_some() => quote! {
                self.#fi.apply_to(if live { crm_core::patch::AsOption::<#inner>::as_option(&current.#fi) } else { None })
            },
            Apply::Field => quote! {
                self.#fi.apply_to(Some(current.#fi.clone())).unwrap_or_default()
            },
        };
        applied.push(quote!(#fi: #value));
    }
    if !has_external_ids {
        return Err(syn::Error::new_spanned(input_ty, "a record input has `external_ids`"));
    }
    Ok(quote! {
        #[doc = #struct_doc]
        #[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
        pub struct #name {
            #(#patch_fields,)*
        }

        impl #name {
            /// The full writable state after applying this patch to `current`. On a blank record
            /// (what an upsert creates from) what the patch leaves out takes its default.
            pub fn apply(self, current: &#record) -> #input_ty {
                let live = !crm_core::ids::EntityId::uuid(current.id).is_nil();
                let _ = live;
                #(#computed)*
                #(#following)*
                #input_ty { #(#applied,)* }
            }
        }

        impl crm_records::MergePatch<#record> for #name {
            type Input = #input_ty;
            const FIELDS: &'static [&'static str] = &[#(#record_fields),*];
            fn apply(self, current: &#record) -> #input_ty {
                #name::apply(self, current)
            }
            fn external_ids(&mut self) -> &mut crm_core::Patch<Vec<crm_core::ExternalId>> {
                &mut self.external_ids
            }
        }

        impl crm_records::RecordInput for #input_ty {
            fn external_ids(&mut self) -> &mut Vec<crm_core::ExternalId> {
                &mut self.external_ids
            }
        }
    })
}
