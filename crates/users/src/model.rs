//! A member of staff as clients see it, and the inputs that create and change one.

use crm_core::external::parse_external_ids;
use crm_core::ids::UserId;
use crm_core::values::{self, clean};
use crm_core::{ExternalId, FieldErrors, Patch, Timestamp, wire_enum};
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
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "UserFields", visible = false))]
pub struct User {
    pub id: UserId,
    pub name: String,
    /// Lower case; unique among live users.
    pub email: Option<String>,
    /// The JWT `sub` this user signs in as; unique among live users.
    pub subject: Option<String>,
    pub role: UserRole,
    pub team: Option<String>,
    pub department: Option<Department>,
    /// Sales territory or service region, e.g. `KR-Seoul`.
    pub territory: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    /// Skills for routing (languages, products), lower case.
    pub skills: Vec<String>,
    /// Inactive users keep their history but cannot be given new work.
    pub active: bool,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub archived_at: Option<Timestamp>,
}

/// A new user, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct UserInput {
    #[cfg_attr(feature = "openapi", schema(example = "Seo-yeon Park"))]
    pub name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "seoyeon.park@example.com"))]
    pub email: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    /// Defaults to `readonly`.
    #[serde(default)]
    pub role: Option<UserRole>,
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub department: Option<Department>,
    #[serde(default)]
    pub territory: Option<String>,
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

/// A JSON merge patch of a user.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct UserPatch {
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub name: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub email: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub subject: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<UserRole>))]
    pub role: Patch<UserRole>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub team: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Department>))]
    pub department: Patch<Department>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub territory: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub phone: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub skills: Patch<Vec<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<bool>))]
    pub active: Patch<bool>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<ExternalId>>))]
    pub external_ids: Patch<Vec<ExternalId>>,
}

impl UserPatch {
    pub fn apply(self, c: &User) -> UserInput {
        let c = c.clone();
        UserInput {
            name: self.name.apply_to(Some(c.name).filter(|n| !n.is_empty())),
            email: self.email.apply_to(c.email),
            subject: self.subject.apply_to(c.subject),
            role: Some(self.role.apply_to(Some(c.role)).unwrap_or(UserRole::Readonly)),
            team: self.team.apply_to(c.team),
            department: self.department.apply_to(c.department),
            territory: self.territory.apply_to(c.territory),
            phone: self.phone.apply_to(c.phone),
            skills: self.skills.apply_to(Some(c.skills)).unwrap_or_default(),
            active: Some(self.active.apply_to(Some(c.active)).unwrap_or(true)),
            external_ids: self.external_ids.apply_to(Some(c.external_ids)).unwrap_or_default(),
        }
    }
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

impl User {
    pub fn blank() -> User {
        let epoch = Timestamp(chrono::DateTime::UNIX_EPOCH);
        User {
            id: UserId(uuid::Uuid::nil()),
            name: String::new(),
            email: None,
            subject: None,
            role: UserRole::Readonly,
            team: None,
            department: None,
            territory: None,
            phone: None,
            skills: Vec::new(),
            active: true,
            external_ids: Vec::new(),
            version: 0,
            created_at: epoch,
            updated_at: epoch,
            archived_at: None,
        }
    }
}
