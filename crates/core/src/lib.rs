//! Shared vocabulary of the CRM: typed ids, the caller (`Actor`) and its scopes, money,
//! parsed value types, merge-patch fields, errors, and the list query language
//! (filter AST + parser, sort, keyset cursors) used by both REST and GraphQL.

pub mod actor;
pub mod custom;
pub mod error;
pub mod external;
pub mod filter;
pub mod geo;
pub mod ids;
pub mod list;
pub mod money;
pub mod patch;
pub mod time;
pub mod values;

/// Declares an enum that travels as lowercase snake_case strings, with its wire names
/// (`NAMES`, for filter catalogs), `as_str` and `parse`. The invoking crate decides, through its
/// `openapi` and `graphql` features, whether it is also a schema and a GraphQL enum.
#[macro_export]
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub const NAMES: &'static [&'static str] = &[$($wire),+];
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// What filters know of this enumeration.
            pub const DEF: $crate::filter::EnumDef =
                $crate::filter::EnumDef { name: stringify!($name), values: Self::NAMES, register: Self::REGISTER };
            #[cfg(feature = "graphql")]
            const REGISTER: Option<fn(&mut dyn std::any::Any)> = Some(|registry| {
                if let Some(registry) = registry.downcast_mut::<async_graphql::registry::Registry>() {
                    <Self as async_graphql::InputType>::create_type_info(registry);
                }
            });
            #[cfg(not(feature = "graphql"))]
            const REGISTER: Option<fn(&mut dyn std::any::Any)> = None;
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

pub use actor::{Actor, Role, Scope};
pub use error::{DomainError, ErrorClass, FieldError, FieldErrors};
pub use external::ExternalId;
pub use money::{Long, Money};
pub use patch::Patch;
pub use time::Timestamp;
