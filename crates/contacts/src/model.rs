//! The contact as clients see it, and the inputs that create and change it.

use crm_core::external::parse_external_ids;
use crm_core::ids::{AccountId, ContactId, UserId};
use crm_core::values::{self, clean};
use crm_core::{ExternalId, FieldErrors, Money, Patch, Timestamp};
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
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = contacts)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "ContactFields", visible = false))]
pub struct Contact {
    /// The record's id (UUIDv7: time-ordered).
    pub id: ContactId,
    /// Given name.
    #[filter(sort)]
    pub first_name: Option<String>,
    /// Family name.
    #[filter(sort)]
    pub last_name: Option<String>,
    /// Primary email, lower case; unique among live contacts.
    #[filter(lower, sort)]
    pub email: Option<String>,
    /// Further email addresses.
    pub emails: Vec<String>,
    /// Primary phone, E.164.
    #[filter]
    pub phone: Option<String>,
    /// Further phone numbers, E.164.
    pub phones: Vec<String>,
    #[filter(sort)]
    pub title: Option<String>,
    /// The department (a name).
    #[filter(sort)]
    pub department: Option<String>,
    /// The account it belongs to.
    #[filter(relation = "account", to = crm_accounts::ACCOUNT_CATALOG)]
    pub account_id: Option<AccountId>,
    /// The user who owns it.
    #[filter(relation = "owner", to = crm_users::USER_CATALOG)]
    pub owner_id: Option<UserId>,
    #[filter(sort)]
    pub lifecycle_stage: LifecycleStage,
    #[filter(sort)]
    pub email_consent: EmailConsent,
    /// When `email_consent` last changed.
    #[filter(sort)]
    pub email_consent_at: Option<crm_core::Timestamp>,
    /// Never call: phone campaigns exclude the contact.
    #[filter]
    pub do_not_call: bool,
    /// Never send post: postal campaigns exclude the contact.
    #[filter]
    pub do_not_mail: bool,
    /// Opted out of all marketing: every campaign, on every channel, excludes the contact.
    #[filter]
    pub marketing_opt_out: bool,
    /// Street and number of the postal address.
    // The postal address and its coordinates: the same fields on accounts and contacts (and
    // leads), by design: each record is filtered and sorted on its own columns.
    #[filter]
    pub street: Option<String>,
    /// City of the postal address.
    #[filter(sort)]
    pub city: Option<String>,
    /// The region (a name).
    #[filter(sort)]
    pub region: Option<String>,
    /// Postal code of the postal address.
    #[filter(sort)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[filter(upper, sort)]
    pub country: Option<String>,
    /// Latitude in decimal degrees (WGS 84).
    #[filter(sort)]
    pub latitude: Option<f64>,
    /// Longitude in decimal degrees (WGS 84).
    #[filter(sort)]
    pub longitude: Option<f64>,
    /// Where the coordinates come from: `given` (sent by the client), `geocoded` (from the
    /// address, in the gazetteer), `manual` (placed by a person), `unresolved` (the address
    /// matched no place, so there are no coordinates).
    #[filter(sort)]
    pub location_source: Option<crm_core::geo::LocationSource>,
    /// How precise the coordinates are: `rooftop`, `postal_code` or `city`.
    #[filter(sort)]
    pub location_accuracy: Option<crm_core::geo::LocationAccuracy>,
    /// Metres from the point of the list's `location[near]` condition (or `near=`): only in
    /// such lists, which may sort by it (`sort=distance`).
    #[stored(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(read_only))]
    pub distance_m: Option<f64>,
    /// Free labels, lower case, without duplicates.
    #[filter]
    pub tags: Vec<String>,
    /// Custom fields, by name: the fields an administrator defined for contacts
    /// (`GET /api/v1/schema/contacts/fields`), each value checked against its type.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub custom_fields: serde_json::Value,
    /// What the person bought in all (read-only, kept by the server from the live purchases
    /// that were not cancelled or returned): the total in its main currency, the one most of
    /// them were paid in (the summary lists every currency). Sorting or comparing it needs a
    /// filter on `lifetime_value_currency`.
    #[filter(sort)]
    pub lifetime_value: Option<Money>,
    /// How many of those purchases there are (read-only).
    #[filter(sort)]
    pub purchase_count: i64,
    /// When the latest of them was ordered (read-only).
    #[filter(sort)]
    pub last_purchase_at: Option<crm_core::Timestamp>,
    /// Ids of this person in other systems.
    // GraphQL resolves it on the node (`ContactNode`), which can read it on demand.
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: crm_core::Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: crm_core::Timestamp,
    /// When the record was archived; null while it is live.
    pub archived_at: Option<crm_core::Timestamp>,
}

/// A new contact, or the full writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Validate, crm_records::MergePatch)]
#[patch(name = ContactPatch, record = Contact)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct ContactInput {
    /// Given name.
    #[serde(default)]
    #[validate(length(max = 100))]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    #[cfg_attr(feature = "openapi", schema(example = "민준"))]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default)]
    #[validate(length(max = 100))]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    #[cfg_attr(feature = "openapi", schema(example = "김"))]
    pub last_name: Option<String>,
    /// Email address, trimmed and lower-cased.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "minjun.kim@example.kr"))]
    pub email: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub emails: Vec<String>,
    /// Phone number in E.164 (`+821012345678`); one without `+` is read in the record's `country`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "+82 10 1234 5678"))]
    pub phone: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub phones: Vec<String>,
    #[serde(default)]
    #[validate(length(max = 100))]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub title: Option<String>,
    /// The department (a name).
    #[serde(default)]
    #[validate(length(max = 100))]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub department: Option<String>,
    /// The account it belongs to.
    #[serde(default)]
    #[patch(with = account_id_after)]
    pub account_id: Option<AccountId>,
    /// The account by id or external id: `{"external_id": {"source": "erp", "id": "A-7"}}`;
    /// in a patch, `null` detaches the contact.
    #[serde(default)]
    #[patch(input_only)]
    pub account: Option<AccountRef>,
    /// The user who owns it.
    #[serde(default)]
    pub owner_id: Option<UserId>,
    /// Defaults to `lead`.
    #[serde(default)]
    pub lifecycle_stage: Option<LifecycleStage>,
    /// Defaults to `unknown`.
    #[serde(default)]
    pub email_consent: Option<EmailConsent>,
    /// Never call (defaults to false).
    #[serde(default)]
    pub do_not_call: Option<bool>,
    /// Never send post (defaults to false).
    #[serde(default)]
    pub do_not_mail: Option<bool>,
    /// Opted out of all marketing (defaults to false).
    #[serde(default)]
    pub marketing_opt_out: Option<bool>,
    /// Street and number of the postal address.
    #[serde(default)]
    #[validate(length(max = 200))]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub street: Option<String>,
    /// City of the postal address.
    #[serde(default)]
    #[validate(length(max = 100))]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub city: Option<String>,
    /// The region (a name).
    #[serde(default)]
    #[validate(length(max = 100))]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub region: Option<String>,
    /// Postal code of the postal address.
    #[serde(default)]
    #[validate(length(max = 20))]
    #[cfg_attr(feature = "openapi", schema(max_length = 20))]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code, upper case.
    #[serde(default)]
    pub country: Option<String>,
    /// Latitude in decimal degrees (WGS 84).
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude in decimal degrees (WGS 84).
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Where coordinates sent with this write come from: `given` (the default), `geocoded` or
    /// `manual`. Without coordinates, the server locates the record from its address.
    #[serde(default)]
    pub location_source: Option<crm_core::geo::LocationSource>,
    /// How precise coordinates sent with this write are (default `rooftop`).
    #[serde(default)]
    pub location_accuracy: Option<crm_core::geo::LocationAccuracy>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    /// Custom fields by name (`GET /api/v1/schema/contacts/fields` lists them); a value of each
    /// field's type, `null` to clear one. A patch merges them key by key.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[patch(merge)]
    pub custom_fields: Option<serde_json::Value>,
    /// Ids in other systems, each unique among contacts.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// `account_id` after a patch: `account` (a reference) replaces the current account, and an
/// `account_id` sent alongside it must name the same one (checked when the reference is
/// resolved).
fn account_id_after(p: &ContactPatch, c: &Contact) -> Option<AccountId> {
    match (&p.account, &p.account_id) {
        (Patch::Null, _) => None,
        (Patch::Value(_), Patch::Value(id)) => Some(*id),
        (Patch::Value(_), _) => None,
        (Patch::Absent, a) => a.clone().apply_to(c.account_id),
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
        let base = prev.cloned().unwrap_or_else(<Contact as crm_records::Stored>::blank);
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
            do_not_mail: i.do_not_mail.unwrap_or(false),
            marketing_opt_out: i.marketing_opt_out.unwrap_or(false),
            street: i.street,
            city: i.city,
            region: i.region,
            postal_code: i.postal_code,
            country: i.country,
            latitude: i.latitude,
            longitude: i.longitude,
            location_source: i.location_source,
            location_accuracy: i.location_accuracy,
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
        // Each further email and phone is parsed (phones by a costly parser): a list far longer
        // than can be kept is refused before any entry is.
        let sent_ok = errs.take(values::check_sent("emails", i.emails.len(), 20, "further emails")).is_some()
            & errs.take(values::check_sent("phones", i.phones.len(), 20, "further phones")).is_some();
        if !sent_ok {
            i.emails.clear();
            i.phones.clear();
        }
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
        let stored = current.map(|c| (c.latitude, c.longitude));
        (i.latitude, i.longitude) = values::location(i.latitude, i.longitude, stored, &mut errs);
        i.tags = errs.take(values::parse_tags("tags", &i.tags)).unwrap_or_default();
        i.external_ids = parse_external_ids("external_ids", std::mem::take(&mut i.external_ids), &mut errs);
        errs.into_result().map(|_| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_records::Stored;

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
        // A stored contact (a blank one, with a nil id, is what an upsert creates from).
        let current = Contact {
            id: ContactId::new(),
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
