//! Derives that write a record's boilerplate once, for every resource:
//!
//! - `#[derive(Stored)]` on a record: its stored row (`ContactRow`, with the conversions both
//!   ways), its list catalog (`CONTACT_CATALOG`, from the fields marked `#[filter]` plus the
//!   standard `id`, `external_id`, `version`, `created_at`, `updated_at`, `archived_at`), a
//!   blank record, and `crm_records::Stored` (bookkeeping accessors and the storage statements).
//! - `#[derive(MergePatch)]` on a record's input: its JSON merge patch (`ContactPatch`, every
//!   field a `crm_core::Patch`) and how the patch applies to a record.
//!
//! What a field's column holds follows from its type (see `fields::Kind`): text, numbers,
//! booleans, timestamps, dates, UUIDs and typed ids as they are; `Money` as two columns
//! (`<name>_minor`, `<name>_currency`); `Vec<_>` and `serde_json::Value` as JSON; any other
//! type is a `wire_enum!` stored as its text. See docs/ARCHITECTURE.md, "How to add a resource".

mod fields;
mod names;
mod patch;
mod stored;

use proc_macro::TokenStream;

/// See the crate docs. Struct attribute: `#[stored(table = contacts)]` (a table of
/// `crm_db::schema`), with `has_many(name = "lines", column = "purchase_id", to = CATALOG)`
/// for each to-many relation filters can follow. Field attributes: `#[stored(skip)]` (not a column: child rows, loaded by
/// `Record::load_children`), `#[stored(column = "…")]`, `#[stored(json)]`; `#[filter]` makes a
/// field filterable, with `sort`, `lower` / `upper` (text stored in that case) and
/// `relation = "account", to = path::TO_CATALOG` (filters follow it: `account.tier`).
#[proc_macro_derive(Stored, attributes(stored, filter))]
pub fn derive_stored(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    stored::expand(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// See the crate docs. Struct attribute: `#[patch(name = ContactPatch, record = Contact)]`.
/// Field attributes: `#[patch(merge)]` (a JSON object merged key by key, RFC 7396),
/// `#[patch(input_only)]` (not a field of the record: only what the patch sends),
/// `#[patch(with = path)]` (`fn(&Patch, &Record) -> FieldType`, for a field that depends on
/// others).
#[proc_macro_derive(MergePatch, attributes(patch))]
pub fn derive_merge_patch(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    patch::expand(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// The names of a resource's API, made from its record type and its collection, passed to a
/// macro with the rest of the declaration: `resource!(crate::resource_api; Account "accounts"
/// { … })` calls `crate::resource_api! { names { record: Account, module: accounts, paths:
/// "/accounts", "/accounts/{id}", …; rest: list_accounts, get_account, …; graphql: AccountNode
/// as "Account", …; query: AccountsQuery { account, accounts, account_by_external_id }; … } { … } }`.
/// Types are named after the record (`AccountInput`, `AccountPatch`, `AccountId`).
#[proc_macro]
pub fn resource(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as names::Input);
    names::expand(input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// [`resource!`] for a list of resources, then `registry! { accounts, contacts, … }` with their
/// modules: `resources!(api, registry; Account "accounts" { … }, Contact "contacts" { … })`.
#[proc_macro]
pub fn resources(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as names::List);
    names::expand_list(input).unwrap_or_else(syn::Error::into_compile_error).into()
}
