//! Typed ids: UUIDv7 (time-ordered) behind a newtype per entity.

/// Declares a typed id. Ids serialize as plain UUID strings.
#[macro_export]
macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
        #[cfg_attr(feature = "graphql", derive(async_graphql::NewType))]
        pub struct $name(pub uuid::Uuid);

        impl $name {
            /// A new time-ordered id.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                uuid::Uuid::parse_str(s).map(Self)
            }
        }

        #[cfg(not(feature = "graphql"))]
        impl From<$name> for uuid::Uuid {
            fn from(id: $name) -> uuid::Uuid {
                id.0
            }
        }

        // async-graphql's NewType derive provides these conversions when the feature is on.
        #[cfg(not(feature = "graphql"))]
        impl From<uuid::Uuid> for $name {
            fn from(u: uuid::Uuid) -> Self {
                Self(u)
            }
        }
    };
}

define_id!(
    /// Id of an account (a company or organisation).
    AccountId
);
define_id!(
    /// Id of a contact (a person).
    ContactId
);
define_id!(
    /// Id of a user (a member of staff).
    UserId
);
define_id!(
    /// Id of an interaction (a call, email, meeting, note, visit, … in the contact history).
    InteractionId
);
define_id!(
    /// Id of a support case.
    CaseId
);
define_id!(
    /// Id of a comment on a case.
    CommentId
);
define_id!(
    /// Id of a product in the catalog.
    ProductId
);
define_id!(
    /// Id of a purchase (an order a customer placed).
    PurchaseId
);
define_id!(
    /// Id of a lead (a prospect not yet qualified into an account and contact).
    LeadId
);
define_id!(
    /// Id of a sales pipeline.
    PipelineId
);
define_id!(
    /// Id of a stage of a pipeline.
    StageId
);
define_id!(
    /// Id of an opportunity (a deal in a pipeline).
    OpportunityId
);
define_id!(
    /// Id of an activity (scheduled work: a task, call, meeting or mailing).
    ActivityId
);
define_id!(
    /// Id of a target account list.
    TargetListId
);
define_id!(
    /// Id of a sales quota.
    QuotaId
);
