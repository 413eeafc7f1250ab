//! A webhook subscription as clients see it, and the rules of its input.

use crm_core::external::parse_external_ids;
use crm_core::filter::Catalog;
use crm_core::ids::WebhookId;
use crm_core::values::{self, clean};
use crm_core::{Actor, ExternalId, FieldErrors, Scope, Timestamp};
use crm_db::AnyConnection;
use crm_records::{Record, RecordError};
use serde::{Deserialize, Serialize};

use crate::guard;

/// A webhook subscription: where to POST which events.
#[derive(Clone, Debug, PartialEq, Serialize, crm_records::Stored)]
#[stored(table = webhooks)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject), graphql(name = "WebhookFields", visible = false))]
pub struct Webhook {
    /// The record's id (UUIDv7: time-ordered).
    pub id: WebhookId,
    /// Where deliveries are POSTed (https in production).
    #[filter(sort)]
    pub url: String,
    /// Free text.
    pub description: Option<String>,
    /// The event types delivered: `contact.updated`, with `*` for any entity or action
    /// (`contact.*`, `*.archived`, `*`).
    #[filter]
    pub event_types: Vec<String>,
    /// Only events whose record matches this filter (the list grammar of the one resource the
    /// event types name), checked when the event is matched, against the record as it is then.
    pub filter: Option<String>,
    /// Only `updated` events that changed one of these fields (`custom_fields.tier` included);
    /// empty for all.
    pub fields: Vec<String>,
    /// Deliveries are attempted while true. A subscription failing for longer than the server
    /// allows (`CRM_WEBHOOK_DISABLE_AFTER`) is turned off, with the reason in `disabled_reason`;
    /// turning it on again resumes where it stopped.
    #[filter]
    pub enabled: bool,
    /// Why the server turned it off (null while enabled).
    pub disabled_reason: Option<String>,
    /// When the signing secret was last rotated.
    pub secret_rotated_at: Option<Timestamp>,
    /// The signing secret (`whsec_…`): present only in the answer that creates the subscription
    /// or rotates its secret. Keep it; it is never shown again.
    #[stored(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Free labels, lower case, without duplicates.
    #[filter]
    pub tags: Vec<String>,
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub external_ids: Vec<ExternalId>,
    /// Incremented by every write; send it back in `If-Match` / `expectedVersion`.
    pub version: i64,
    /// When the record was created (UTC).
    pub created_at: Timestamp,
    /// When the record last changed (UTC).
    pub updated_at: Timestamp,
    /// When the record was archived (deliveries stop); null while it is live.
    pub archived_at: Option<Timestamp>,
}

/// A new subscription, or the whole writable state of one.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, crm_records::MergePatch)]
#[patch(name = WebhookPatch, record = Webhook)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct WebhookInput {
    /// Where deliveries are POSTed: `https://…` (`http://` outside production). Addresses on
    /// loopback, private, link-local and metadata networks are refused unless allowed by
    /// `CRM_WEBHOOK_ALLOW`.
    #[cfg_attr(feature = "openapi", schema(example = "https://erp.example.com/hooks/crm"))]
    pub url: Option<String>,
    /// Free text, at most 500 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// At least one: `contact.updated`, `contact.*`, `*.archived`, `*`.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    #[cfg_attr(feature = "openapi", schema(example = json!(["contact.*", "account.created"])))]
    pub event_types: Vec<String>,
    /// A filter on the record (the list grammar), when every event type names one resource.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "lifecycle_stage[eq]:customer"))]
    pub filter: Option<String>,
    /// Only `updated` events that changed one of these fields.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub fields: Vec<String>,
    /// Defaults to true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Free labels, lower case, without duplicates.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub tags: Vec<String>,
    /// Ids in other systems, each unique among webhooks.
    #[serde(default)]
    #[cfg_attr(feature = "graphql", graphql(default))]
    pub external_ids: Vec<ExternalId>,
}

/// The catalogs of the resources whose events a subscription may filter, by entity
/// (`contact` → the contacts' catalog). The application puts them on its database handle
/// (`Db::with_context`), as it does with the domains' hooks.
#[derive(Clone, Copy)]
pub struct Catalogs(pub fn(&str) -> Option<&'static Catalog>);

/// The one entity the event types name, when they name one (`contact.*`, `contact.updated`).
pub fn single_entity(types: &[String]) -> Option<&str> {
    let mut entities = types.iter().map(|t| t.split_once('.').map_or(t.as_str(), |(e, _)| e));
    let first = entities.next()?;
    (first != "*" && entities.all(|e| e == first)).then_some(first)
}

/// The actions an event type may name (after the entity).
const ACTIONS: &[&str] = &["created", "updated", "archived", "restored", "deleted", "reminder_due", "merged", "*"];

/// Checks an event type pattern: `entity.action`, either part `*`, or `*` alone.
fn check_type(t: &str) -> Result<String, String> {
    let t = t.trim();
    if t == "*" || t == "*.*" {
        return Ok("*".into());
    }
    // Not a change of the feed: the messages automation rules send (`call_webhook`).
    if t == crate::dispatch::AUTOMATION_TYPE {
        return Ok(t.into());
    }
    let Some((entity, action)) = t.split_once('.') else {
        return Err(format!("`{t}` is not `entity.action` (e.g. `contact.updated`, `contact.*`)"));
    };
    if entity != "*" && !crm_events::ENTITIES.iter().any(|(e, _)| *e == entity) {
        let known: Vec<&str> = crm_events::ENTITIES.iter().map(|(e, _)| *e).collect();
        return Err(format!("`{entity}` is not an entity; entities: {}", known.join(", ")));
    }
    if !ACTIONS.contains(&action) {
        return Err(format!("`{action}` is not an action; actions: {}", ACTIONS.join(", ")));
    }
    Ok(format!("{entity}.{action}"))
}

impl WebhookInput {
    fn normalize(mut self, conn: &mut AnyConnection) -> Result<WebhookInput, RecordError> {
        let mut errs = FieldErrors::new();
        self.url = self.url.as_deref().and_then(clean);
        match &self.url {
            None => errs.add("url", "required", "a webhook needs a url"),
            Some(u) => {
                if let Err(e) = guard::check_url(u) {
                    errs.add("url", e.code(), e.to_string());
                }
            }
        }
        self.description = self.description.as_deref().and_then(clean);
        if self.description.as_ref().is_some_and(|d| d.chars().count() > 500) {
            errs.add("description", "too_long", "at most 500 characters");
        }
        if self.event_types.len() > 100 {
            errs.add("event_types", "too_many", "at most 50 event types");
        } else {
            let mut types = Vec::new();
            for (i, t) in std::mem::take(&mut self.event_types).iter().enumerate() {
                match check_type(t) {
                    Ok(t) if !types.contains(&t) => types.push(t),
                    Ok(_) => {}
                    Err(m) => errs.add(&format!("event_types[{i}]"), "invalid_value", m),
                }
            }
            if types.len() > 50 {
                errs.add("event_types", "too_many", "at most 50 event types");
            }
            if types.is_empty() && errs.is_empty() {
                errs.add("event_types", "required", "at least one event type, e.g. `contact.*`");
            }
            self.event_types = types;
        }
        if self.fields.len() > 100 {
            errs.add("fields", "too_many", "at most 100 fields");
        } else {
            self.fields = values::parse_field_names("fields", std::mem::take(&mut self.fields), &mut errs);
        }
        self.filter = self.filter.as_deref().map(str::trim).filter(|f| !f.is_empty()).map(String::from);
        if let Some(f) = &self.filter {
            match single_entity(&self.event_types) {
                None if errs.is_empty() => errs.add(
                    "filter",
                    "not_applicable",
                    "a filter needs event types of one resource (e.g. `contact.*`)",
                ),
                None => {}
                Some(entity) => {
                    if let Err(e) = crate::dispatch::resolve_filter(conn, entity, f) {
                        errs.add("filter", e.code, e.message);
                    }
                }
            }
        }
        self.tags = errs.take(values::parse_tags("tags", &self.tags)).unwrap_or_default();
        self.external_ids = parse_external_ids("external_ids", std::mem::take(&mut self.external_ids), &mut errs);
        errs.into_result().map_err(|errors| RecordError::Invalid { entity: Webhook::ENTITY, errors })?;
        Ok(self)
    }
}

impl Record for Webhook {
    type Input = WebhookInput;
    type Patch = WebhookPatch;

    const READ: Scope = Scope::WebhooksRead;
    const WRITE: Scope = Scope::WebhooksWrite;

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: WebhookId,
        input: WebhookInput,
        prev: Option<&Self>,
        _now: Timestamp,
    ) -> Result<Self, RecordError> {
        let i = input.normalize(conn)?;
        let mut w = prev.cloned().unwrap_or_else(<Webhook as crm_records::Stored>::blank);
        w.id = id;
        w.url = i.url.unwrap_or_default();
        w.description = i.description;
        w.event_types = i.event_types;
        w.filter = i.filter;
        w.fields = i.fields;
        w.enabled = i.enabled.unwrap_or(true);
        if w.enabled {
            w.disabled_reason = None;
        }
        w.tags = i.tags;
        w.external_ids = i.external_ids;
        if prev.is_none() {
            w.secret = Some(crate::signing::new_secret());
        }
        Ok(w)
    }

    /// A new subscription gets its secret, and starts at the feed's head: it receives the
    /// events committed after it.
    fn after_write(
        conn: &mut AnyConnection,
        _actor: &Actor,
        before: Option<&Self>,
        after: &Self,
    ) -> Result<(), RecordError> {
        if before.is_none()
            && let Some(secret) = &after.secret
        {
            crate::dispatch::start(conn, after.id, secret)?;
        }
        Ok(())
    }

    /// The secret never reaches the change feed or the history.
    fn redact(json: &mut serde_json::Value) {
        if let Some(o) = json.as_object_mut() {
            o.remove("secret");
        }
    }
}
