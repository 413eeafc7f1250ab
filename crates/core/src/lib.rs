//! Shared vocabulary of the CRM: typed ids, the caller (`Actor`) and its scopes, money,
//! parsed value types, merge-patch fields, errors, and the list query language
//! (filter AST + parser, sort, keyset cursors) used by both REST and GraphQL.

pub mod actor;
pub mod error;
pub mod external;
pub mod filter;
pub mod ids;
pub mod list;
pub mod money;
pub mod patch;
pub mod time;
pub mod values;

pub use actor::{Actor, Role, Scope};
pub use error::{DomainError, ErrorClass, FieldError, FieldErrors};
pub use external::ExternalId;
pub use money::{Long, Money};
pub use patch::Patch;
pub use time::Timestamp;
