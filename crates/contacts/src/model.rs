//! The contact as clients see it, and the inputs that create and change it.

use crm_core::external::parse_external_ids;
use crm_core::ids::{AccountId, ContactId, UserId};
use crm_core::values::{self, clean};
use crm_core::{ExternalId, FieldErrors, Patch, Timestamp};
use serde::{Deserialize, Serialize};
use validator::Validate;

use crm_core::wire_enum;

wire_enum!(
    /// Where a person stands in the customer lifecycle.
    LifecycleStage {
        Subscriber = "subscriber",
        Lead = "lead",
        MarketingQualifiedLead = "marketing_qualified_lead",
        SalesQualifiedLead = "sales_qualified_lead",
        Opportunity = "opportunity",
        Customer = "customer",
        Evangelist = "evangelist",
        Churned = "churned",
        Other = "other",
    }
);

wire_enum!(
    /// Consent to receive marketing email.
    EmailConsent {
        Unknown = "unknown",
        OptedIn = "opted_in",
        OptedOut = "opted_out",
    }
);

/// A reference to an account by our id or by an external id (for syncs that never see our ids).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "AccountRefInput"))]
pub struct AccountRef {
    pub id: Option<AccountId>,
    pub external_id: Option<ExternalId>,
}

/// A person.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "ContactFields", visible = false))]
pub struct Contact {
    pub id: ContactId,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Primary email, lower case; unique among live contacts.
    pub email: Option<String>,
    /// Further email addresses.
    pub emails: Vec<String>,
    /// Primary phone, E.164.
    pub phone: Option<String>,
    /// Further phone numbers, E.164.
    pub phones: Vec<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub account_id: Option<AccountId>,
    pub owner_id: Option<UserId>,
    pub lifecycle_stage: LifecycleStage,
    pub email_consent: EmailConsent,
    /// When `email_consent` last changed.
    pub email_consent_at: Option<crm_core::Timestamp>,
    pub do_not_call: bool,
    pub street: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub tags: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub custom_fields: serde_json::Value,
    /// Ids of this person in other systems.
    // GraphQL resolves it on the node (`ContactNode`), which can read it on demand.
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    pub version: i64,
    pub created_at: crm_core::Timestamp,
    pub updated_at: crm_core::Timestamp,
    pub archived_at: Option<crm_core::Timestamp>,
}

/// A new contact, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ContactInput {
    #[serde(default)]
    #[validate(length(max = 100))]
    #[cfg_attr(feature = "openapi", schema(example = "민준"))]
    pub first_name: Option<String>,
    #[serde(default)]
    #[validate(length(max = 100))]
    #[cfg_attr(feature = "openapi", schema(example = "김"))]
    pub last_name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "minjun.kim@example.kr"))]
    pub email: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub emails: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "+82 10 1234 5678"))]
    pub phone: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub phones: Vec<String>,
    #[serde(default)]
    #[validate(length(max = 100))]
    pub title: Option<String>,
    #[serde(default)]
    #[validate(length(max = 100))]
    pub department: Option<String>,
    #[serde(default)]
    pub account_id: Option<AccountId>,
    /// The account by id or external id: `{"external_id": {"source": "erp", "id": "A-7"}}`.
    #[serde(default)]
    pub account: Option<AccountRef>,
    #[serde(default)]
    pub owner_id: Option<UserId>,
    /// Defaults to `lead`.
    #[serde(default)]
    pub lifecycle_stage: Option<LifecycleStage>,
    /// Defaults to `unknown`.
    #[serde(default)]
    pub email_consent: Option<EmailConsent>,
    /// Defaults to false.
    #[serde(default)]
    pub do_not_call: Option<bool>,
    #[serde(default)]
    #[validate(length(max = 200))]
    pub street: Option<String>,
    #[serde(default)]
    #[validate(length(max = 100))]
    pub city: Option<String>,
    #[serde(default)]
    #[validate(length(max = 100))]
    pub region: Option<String>,
    #[serde(default)]
    #[validate(length(max = 20))]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub latitude: Option<f64>,
    #[serde(default)]
    pub longitude: Option<f64>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub custom_fields: Option<serde_json::Value>,
    /// Ids in other systems, each unique among contacts.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// A JSON merge patch of a contact: absent = unchanged, `null` = cleared.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ContactPatch {
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub first_name: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub last_name: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub email: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub emails: Patch<Vec<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub phone: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub phones: Patch<Vec<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub title: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub department: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid))]
    pub account_id: Patch<AccountId>,
    /// The account by id or external id; `null` detaches the contact.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<AccountRef>))]
    pub account: Patch<AccountRef>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<uuid::Uuid>))]
    pub owner_id: Patch<UserId>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<LifecycleStage>))]
    pub lifecycle_stage: Patch<LifecycleStage>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<EmailConsent>))]
    pub email_consent: Patch<EmailConsent>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<bool>))]
    pub do_not_call: Patch<bool>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub street: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub city: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub region: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub postal_code: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub country: Patch<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f64>))]
    pub latitude: Patch<f64>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<f64>))]
    pub longitude: Patch<f64>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub tags: Patch<Vec<String>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub custom_fields: Patch<serde_json::Value>,
    /// Replaces the whole list when present.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<ExternalId>>))]
    pub external_ids: Patch<Vec<ExternalId>>,
}

impl ContactPatch {
    /// The full writable state after applying this patch to `current`.
    pub fn apply(self, current: &Contact) -> ContactInput {
        let c = current.clone();
        ContactInput {
            first_name: self.first_name.apply_to(c.first_name),
            last_name: self.last_name.apply_to(c.last_name),
            email: self.email.apply_to(c.email),
            emails: self.emails.apply_to(Some(c.emails)).unwrap_or_default(),
            phone: self.phone.apply_to(c.phone),
            phones: self.phones.apply_to(Some(c.phones)).unwrap_or_default(),
            title: self.title.apply_to(c.title),
            department: self.department.apply_to(c.department),
            // `account` (a reference) replaces the current account; `account_id` sent alongside it
            // must name the same one (checked when the reference is resolved).
            account_id: match (&self.account, self.account_id) {
                (Patch::Null, _) => None,
                (Patch::Value(_), Patch::Value(id)) => Some(id),
                (Patch::Value(_), _) => None,
                (Patch::Absent, p) => p.apply_to(c.account_id),
            },
            account: match self.account {
                Patch::Value(r) => Some(r),
                _ => None,
            },
            owner_id: self.owner_id.apply_to(c.owner_id),
            // Required enums: null resets to the default.
            lifecycle_stage: Some(
                self.lifecycle_stage.apply_to(Some(c.lifecycle_stage)).unwrap_or(LifecycleStage::Lead),
            ),
            email_consent: Some(self.email_consent.apply_to(Some(c.email_consent)).unwrap_or(EmailConsent::Unknown)),
            do_not_call: Some(self.do_not_call.apply_to(Some(c.do_not_call)).unwrap_or(false)),
            street: self.street.apply_to(c.street),
            city: self.city.apply_to(c.city),
            region: self.region.apply_to(c.region),
            postal_code: self.postal_code.apply_to(c.postal_code),
            country: self.country.apply_to(c.country),
            latitude: self.latitude.apply_to(c.latitude),
            longitude: self.longitude.apply_to(c.longitude),
            tags: self.tags.apply_to(Some(c.tags)).unwrap_or_default(),
            custom_fields: Some(self.custom_fields.merge_into(c.custom_fields)),
            external_ids: self.external_ids.apply_to(Some(c.external_ids)).unwrap_or_default(),
        }
    }
}

impl Contact {
    /// An empty contact, the starting point when an upsert creates one.
    pub fn blank() -> Contact {
        let epoch = crm_core::Timestamp(chrono::DateTime::UNIX_EPOCH);
        Contact {
            id: ContactId(uuid::Uuid::nil()),
            first_name: None,
            last_name: None,
            email: None,
            emails: Vec::new(),
            phone: None,
            phones: Vec::new(),
            title: None,
            department: None,
            account_id: None,
            owner_id: None,
            lifecycle_stage: LifecycleStage::Lead,
            email_consent: EmailConsent::Unknown,
            email_consent_at: None,
            do_not_call: false,
            street: None,
            city: None,
            region: None,
            postal_code: None,
            country: None,
            latitude: None,
            longitude: None,
            tags: Vec::new(),
            custom_fields: serde_json::json!({}),
            external_ids: Vec::new(),
            version: 0,
            created_at: epoch,
            updated_at: epoch,
            archived_at: None,
        }
    }
}

impl Contact {
    /// The contact a normalized input describes, with `prev`'s bookkeeping when it updates one.
    /// `email_consent_at` moves to `now` when the consent changes.
    pub fn from_input(id: ContactId, i: ContactInput, prev: Option<&Contact>, now: Timestamp) -> Contact {
        let email_consent = i.email_consent.unwrap_or(EmailConsent::Unknown);
        let email_consent_at = match prev {
            Some(p) if p.email_consent == email_consent => p.email_consent_at,
            None if email_consent == EmailConsent::Unknown => None,
            _ => Some(now),
        };
        let base = prev.cloned().unwrap_or_else(Contact::blank);
        Contact {
            id,
            first_name: i.first_name,
            last_name: i.last_name,
            email: i.email,
            emails: i.emails,
            phone: i.phone,
            phones: i.phones,
            title: i.title,
            department: i.department,
            account_id: i.account_id,
            owner_id: i.owner_id,
            lifecycle_stage: i.lifecycle_stage.unwrap_or(LifecycleStage::Lead),
            email_consent,
            email_consent_at,
            do_not_call: i.do_not_call.unwrap_or(false),
            street: i.street,
            city: i.city,
            region: i.region,
            postal_code: i.postal_code,
            country: i.country,
            latitude: i.latitude,
            longitude: i.longitude,
            tags: i.tags,
            custom_fields: i.custom_fields.unwrap_or_else(|| serde_json::json!({})),
            external_ids: i.external_ids,
            ..base
        }
    }
}

impl ContactInput {
    /// Validates and normalizes every field, reporting all problems at once.
    pub fn normalize(self) -> Result<ContactInput, FieldErrors> {
        self.normalize_over(None)
    }

    /// `normalize` for an update of `current`: phones it already stores are kept as they are
    /// (see `values::parse_phone_unless_stored`).
    pub fn normalize_over(self, current: Option<&Contact>) -> Result<ContactInput, FieldErrors> {
        let stored: Vec<&str> =
            current.map(|c| c.phone.iter().chain(&c.phones).map(String::as_str).collect()).unwrap_or_default();
        let mut errs = FieldErrors::new();
        let mut i = self;
        let opt = |v: Option<String>| v.as_deref().and_then(clean);
        i.first_name = opt(i.first_name);
        i.last_name = opt(i.last_name);
        i.title = opt(i.title);
        i.department = opt(i.department);
        i.street = opt(i.street);
        i.city = opt(i.city);
        i.region = opt(i.region);
        i.postal_code = opt(i.postal_code);
        if let Err(e) = i.validate() {
            errs.extend_validator(e);
        }
        i.country = match opt(i.country) {
            Some(c) => errs.take(values::parse_country("country", &c)),
            None => None,
        };
        i.email = match opt(i.email) {
            Some(e) => errs.take(values::parse_email("email", &e)),
            None => None,
        };
        let mut emails: Vec<String> = Vec::new();
        for (n, e) in i.emails.iter().enumerate() {
            if let Some(e) = errs.take(values::parse_email(&format!("emails[{n}]"), e))
                && Some(&e) != i.email.as_ref()
                && !emails.contains(&e)
            {
                emails.push(e);
            }
        }
        i.emails = emails;
        let country = i.country.clone();
        i.phone = match opt(i.phone) {
            Some(p) => errs.take(values::parse_phone_unless_stored("phone", &p, country.as_deref(), &stored)),
            None => None,
        };
        let mut phones: Vec<String> = Vec::new();
        for (n, p) in i.phones.iter().enumerate() {
            if let Some(p) =
                errs.take(values::parse_phone_unless_stored(&format!("phones[{n}]"), p, country.as_deref(), &stored))
                && Some(&p) != i.phone.as_ref()
                && !phones.contains(&p)
            {
                phones.push(p);
            }
        }
        i.phones = phones;
        if i.emails.len() > 20 || i.phones.len() > 20 {
            errs.add("emails", "too_many", "at most 20 further emails and 20 further phones");
        }
        if i.first_name.is_none() && i.last_name.is_none() && i.email.is_none() {
            errs.add("last_name", "required", "a contact needs a first name, a last name or an email");
        }
        i.latitude = i.latitude.and_then(|v| errs.take(values::check_coordinate("latitude", v, 90.0)));
        i.longitude = i.longitude.and_then(|v| errs.take(values::check_coordinate("longitude", v, 180.0)));
        i.tags = errs.take(values::parse_tags("tags", &i.tags)).unwrap_or_default();
        i.external_ids = parse_external_ids("external_ids", std::mem::take(&mut i.external_ids), &mut errs);
        i.custom_fields = Some(
            errs.take(values::parse_custom_fields(
                "custom_fields",
                i.custom_fields.take().unwrap_or_else(|| serde_json::json!({})),
            ))
            .unwrap_or_else(|| serde_json::json!({})),
        );
        errs.into_result().map(|_| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_emails_and_phones() {
        let i = ContactInput {
            first_name: Some(" 민준 ".into()),
            email: Some(" MinJun@Example.KR".into()),
            emails: vec!["minjun@example.kr".into(), "mj@work.kr".into(), "MJ@work.kr".into()],
            phone: Some("010-1234-5678".into()),
            country: Some("kr".into()),
            ..Default::default()
        }
        .normalize()
        .unwrap();
        assert_eq!(i.first_name.as_deref(), Some("민준"));
        assert_eq!(i.email.as_deref(), Some("minjun@example.kr"));
        assert_eq!(i.emails, vec!["mj@work.kr"]);
        assert_eq!(i.phone.as_deref(), Some("+821012345678"));
        assert_eq!(i.country.as_deref(), Some("KR"));
    }

    #[test]
    fn an_update_keeps_stored_phones_and_checks_new_ones() {
        // Stored before the numbering metadata changed, say: no longer valid to the parser.
        let current = Contact {
            last_name: Some("Kim".into()),
            phone: Some("+999123".into()),
            phones: vec!["+888456".into()],
            ..Contact::blank()
        };
        let patch = ContactPatch { title: Patch::Value("CTO".into()), ..Default::default() };
        let i = patch.apply(&current).normalize_over(Some(&current)).unwrap();
        assert_eq!(i.phone.as_deref(), Some("+999123"));
        assert_eq!(i.phones, vec!["+888456"]);
        assert_eq!(i.title.as_deref(), Some("CTO"));

        // A number the contact does not store yet is still parsed and checked.
        let patch = ContactPatch {
            phones: Patch::Value(vec!["+888456".into(), "+82 10-1234-5678".into(), "+999777".into()]),
            ..Default::default()
        };
        let e = patch.apply(&current).normalize_over(Some(&current)).unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, vec!["phones[2]"]);
        let patch = ContactPatch { phones: Patch::Value(vec!["+82 10-1234-5678".into()]), ..Default::default() };
        let i = patch.apply(&current).normalize_over(Some(&current)).unwrap();
        assert_eq!(i.phones, vec!["+821012345678"]);
        // Without a current record nothing is taken as stored.
        let e = ContactInput { phone: Some("+999123".into()), last_name: Some("X".into()), ..Default::default() }
            .normalize()
            .unwrap_err();
        assert_eq!(e.0[0].field, "phone");
    }

    #[test]
    fn a_contact_needs_a_name_or_email() {
        let e = ContactInput { emails: vec!["bad".into()], ..Default::default() }.normalize().unwrap_err();
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"last_name") && fields.contains(&"emails[0]"), "{fields:?}");
    }
}
