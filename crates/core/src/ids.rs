//! Typed ids: UUIDv7 (time-ordered) behind a newtype per entity. Each id type names the entity
//! it identifies and the table that holds it, so any domain can check a reference to a record
//! of another without reading that domain's tables by hand (`crm_records::check_ref`).

/// What an id type identifies.
pub trait EntityId: Copy + Eq + std::hash::Hash + Ord + std::fmt::Display + Send + Sync + 'static {
    /// The entity's name in the event log, the external-id table and messages (`contact`).
    const ENTITY: &'static str;
    /// The table that holds its records (`contacts`); trusted SQL text.
    const TABLE: &'static str;
    fn uuid(self) -> uuid::Uuid;
    fn from_uuid(u: uuid::Uuid) -> Self;
}

/// Declares a typed id for the records of `$entity` kept in `$table`. Ids serialize as plain
/// UUID strings.
#[macro_export]
macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident, $entity:literal, $table:literal) => {
        $crate::define_id!($(#[$meta])* $name);

        impl $crate::ids::EntityId for $name {
            const ENTITY: &'static str = $entity;
            const TABLE: &'static str = $table;
            fn uuid(self) -> uuid::Uuid {
                self.0
            }
            fn from_uuid(u: uuid::Uuid) -> Self {
                Self(u)
            }
        }
    };
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
    AccountId, "account", "accounts"
);
define_id!(
    /// Id of a contact (a person).
    ContactId, "contact", "contacts"
);
define_id!(
    /// Id of a user (a member of staff).
    UserId, "user", "users"
);
define_id!(
    /// Id of an interaction (a call, email, meeting, note, visit, … in the contact history).
    InteractionId, "interaction", "interactions"
);
define_id!(
    /// Id of a support case.
    CaseId, "case", "cases"
);
define_id!(
    /// Id of a comment on a case.
    CommentId, "case_comment", "case_comments"
);
define_id!(
    /// Id of a product in the catalog.
    ProductId, "product", "products"
);
define_id!(
    /// Id of a purchase (an order a customer placed).
    PurchaseId, "purchase", "purchases"
);
define_id!(
    /// Id of a lead (a prospect not yet qualified into an account and contact).
    LeadId, "lead", "leads"
);
define_id!(
    /// Id of a sales pipeline.
    PipelineId, "pipeline", "pipelines"
);
define_id!(
    /// Id of a stage of a pipeline.
    StageId, "pipeline_stage", "pipeline_stages"
);
define_id!(
    /// Id of an opportunity (a deal in a pipeline).
    OpportunityId, "opportunity", "opportunities"
);
define_id!(
    /// Id of an activity (scheduled work: a task, call, meeting or mailing).
    ActivityId, "activity", "activities"
);
define_id!(
    /// Id of a target account list.
    TargetListId, "target_list", "target_lists"
);
define_id!(
    /// Id of a sales quota.
    QuotaId, "quota", "quotas"
);
define_id!(
    /// Id of a segment (a target group of contacts).
    SegmentId, "segment", "segments"
);
define_id!(
    /// Id of a marketing campaign.
    CampaignId, "campaign", "campaigns"
);

define_id!(
    /// Id of a custom field's definition.
    CustomFieldId, "custom_field", "custom_fields"
);
define_id!(
    /// Id of a webhook subscription.
    WebhookId, "webhook", "webhooks"
);
define_id!(
    /// Id of an automation rule (a trigger, conditions and actions on one resource's records).
    AutomationRuleId, "automation_rule", "automation_rules"
);
define_id!(
    /// Id of one run of an automation rule.
    AutomationRunId, "automation_run", "automation_runs"
);
define_id!(
    /// Id of an API key.
    ApiKeyId, "api_key", "api_keys"
);
define_id!(
    /// Id of a sharing rule (how widely one resource's records are seen).
    SharingRuleId, "sharing_rule", "sharing_rules"
);
define_id!(
    /// Id of a consent record: what a person agreed to, or withdrew, for a purpose and channel.
    ConsentId, "consent", "consents"
);
define_id!(
    /// Id of a legal hold: a person's data kept whatever else asks to erase it.
    LegalHoldId, "legal_hold", "legal_holds"
);
define_id!(
    /// Id of a retention policy: which records of a resource are archived or erased once untouched.
    RetentionPolicyId, "retention_policy", "retention_policies"
);
define_id!(
    /// Id of a share: one record made visible to a user or a team.
    ShareId, "share", "shares"
);
define_id!(
    /// Id of an email template.
    EmailTemplateId, "email_template", "email_templates"
);

define_id!(
    /// Id of a background job (a bulk geocoding, an import, …).
    JobId, "job", "jobs"
);
define_id!(
    /// Id of a sales-intelligence alert (a drifting customer, a cross-sell opportunity, …).
    AlertId, "alert", "alerts"
);

/// A customer: a person or a company, for what is kept per customer (the 360 view).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Customer {
    Contact(ContactId),
    Account(AccountId),
}

impl Customer {
    pub fn entity(self) -> &'static str {
        match self {
            Customer::Contact(_) => ContactId::ENTITY,
            Customer::Account(_) => AccountId::ENTITY,
        }
    }

    pub fn uuid(self) -> uuid::Uuid {
        match self {
            Customer::Contact(c) => c.0,
            Customer::Account(a) => a.0,
        }
    }

    /// The column that points at this kind of customer (`contact_id`, `account_id`).
    pub fn column(self) -> &'static str {
        match self {
            Customer::Contact(_) => "contact_id",
            Customer::Account(_) => "account_id",
        }
    }
}
