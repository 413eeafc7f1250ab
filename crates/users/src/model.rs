//! A member of staff as clients see it, and the inputs that create and change one.

use crm_core::external::parse_external_ids;
use crm_core::ids::UserId;
use crm_core::values::{self, clean};
use crm_core::{ExternalId, FieldErrors, Timestamp, wire_enum};
use serde::{Deserialize, Serialize};

wire_enum!(
    /// The staff role; tokens for this user should carry it (authorization reads the token).
    UserRole {
        Admin = "admin",
        Sales = "sales",
        Marketing = "marketing",
        Support = "support",
        Readonly = "readonly",
    }
);

wire_enum!(
    /// The department a person works in; interactions and comments carry it so every
    /// department sees who said what.
    Department {
        Sales = "sales",
        Marketing = "marketing",
        Service = "service",
        Finance = "finance",
        Operations = "operations",
        Management = "management",
        Other = "other",
    }
);

/// A member of staff: owns records, logs interactions, works cases.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = users)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "UserFields", visible = false))]
pub struct User {
    /// The record's id (UUIDv7: time-ordered).
    pub id: UserId,
    /// The name people see.
    #[filter(sort)]
    pub name: String,
    /// Lower case; unique among live users.
    #[filter(lower, sort)]
    pub email: Option<String>,
    /// The JWT `sub` this user signs in as; unique among live users.
    #[filter]
    pub subject: Option<String>,
    #[filter(sort)]
    pub role: UserRole,
    /// The team (a name).
    #[filter(sort)]
    pub team: Option<String>,
    /// The user's manager: a manager sees what the people under them own, down the chain.
    #[filter]
    pub manager_id: Option<UserId>,
    /// The department (a name).
    #[filter(sort)]
    pub department: Option<Department>,
    /// Sales territory or service region, e.g. `KR-Seoul`.
    #[filter(sort)]
    pub territory: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    /// Skills for routing (languages, products), lower case.
    #[filter]
    pub skills: Vec<String>,
    /// Inactive users keep their history but cannot be given new work.
    #[filter]
    pub active: bool,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the record was archived; null while it is live.
    pub archived_at: Option<Timestamp>,
}

/// A new user, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = UserPatch, record = User)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct UserInput {
    /// The name people see.
    #[cfg_attr(feature = "openapi", schema(example = "Seo-yeon Park"))]
    pub name: Option<String>,
    /// Email address, trimmed and lower-cased.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "seoyeon.park@example.com"))]
    pub email: Option<String>,
    /// A one-line summary.
    #[serde(default)]
    pub subject: Option<String>,
    /// Defaults to `readonly`.
    #[serde(default)]
    pub role: Option<UserRole>,
    /// The team (a name).
    #[serde(default)]
    pub team: Option<String>,
    /// The user's manager (an active user; not the user, nor anyone under the user).
    #[serde(default)]
    pub manager_id: Option<UserId>,
    /// The department (a name).
    #[serde(default)]
    pub department: Option<Department>,
    #[serde(default)]
    pub territory: Option<String>,
    /// Phone number in E.164 (`+821012345678`); one without `+` is read in the record's `country`.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub skills: Vec<String>,
    /// Defaults to true.
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

impl UserInput {
    /// Validates and normalizes every field, reporting all problems at once.
    pub fn normalize(self) -> Result<UserInput, FieldErrors> {
        let mut errs = FieldErrors::new();
        let mut i = self;
        let opt = |v: Option<String>| v.as_deref().and_then(clean);
        i.name = opt(i.name);
        i.team = opt(i.team);
        i.territory = opt(i.territory);
        i.subject = opt(i.subject);
        match &i.name {
            None => errs.add("name", "required", "a user needs a name"),
            Some(n) if n.chars().count() > 200 => errs.add("name", "too_long", "at most 200 characters"),
            _ => {}
        }
        for (field, v) in [("team", &i.team), ("territory", &i.territory), ("subject", &i.subject)] {
            if v.as_ref().is_some_and(|s| s.chars().count() > 200) {
                errs.add(field, "too_long", "at most 200 characters");
            }
        }
        i.email = match opt(i.email) {
            Some(e) => errs.take(values::parse_email("email", &e)),
            None => None,
        };
        i.phone = match opt(i.phone) {
            Some(p) => errs.take(values::parse_phone("phone", &p, None)),
            None => None,
        };
        i.skills = errs.take(values::parse_tags("skills", &i.skills)).unwrap_or_default();
        i.external_ids = parse_external_ids("external_ids", std::mem::take(&mut i.external_ids), &mut errs);
        errs.into_result().map(|_| i)
    }
}
