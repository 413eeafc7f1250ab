//! Behaviour on the web (e-CRM): the page views, downloads and form views a website's backend
//! sends (`POST /api/v1/web/events`) under an anonymous visitor id, linked to a contact when the
//! visitor is identified (with the events or by `POST /api/v1/web/identify`: after a login, a
//! form, a tracked click). Identifying a visitor links its past events too; the latest
//! identification wins. Events are kept for `web_retention_days` (each refresh deletes older
//! ones). A contact's events count in its analysis (and its account's): the web drift reason,
//! the `web_events_recent` criterion of segments, and the next best action to follow up an
//! interest.

use chrono::NaiveDateTime;
use crm_core::ids::{ContactId, EntityId};
use crm_core::{Actor, FieldError, FieldErrors, Scope, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::{web_events, web_visitors};
use crm_db::types::DbUuid;
use crm_records::RecordError;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

wire_enum!(
    /// What a visitor did.
    WebEventKind {
        PageView = "page_view",
        Download = "download",
        FormView = "form_view",
    }
);

/// One event as a website sends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct WebEventInput {
    /// The website's anonymous id of the browser (1 to 128 letters, digits or `-_.:`).
    pub visitor_id: String,
    pub kind: WebEventKind,
    /// The page or file (an http or https URL, at most 2000 characters).
    pub url: String,
    /// At most 500 characters.
    #[serde(default)]
    pub title: Option<String>,
    /// At most 2000 characters.
    #[serde(default)]
    pub referrer: Option<String>,
    /// Default now; at most 5 minutes ahead, and within the retention.
    #[serde(default)]
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The contact the visitor is, when the website knows it (identifies the visitor).
    #[serde(default)]
    pub contact_id: Option<ContactId>,
}

/// A batch of events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "TrackWebInput"))]
pub struct TrackInput {
    /// 1 to 500 events.
    pub events: Vec<WebEventInput>,
}

/// What was taken.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Tracked {
    pub accepted: i64,
}

/// `POST /web/identify`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "IdentifyVisitorInput"))]
pub struct IdentifyInput {
    pub visitor_id: String,
    pub contact_id: ContactId,
}

/// A visitor and the contact it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Identified {
    pub visitor_id: String,
    pub contact_id: ContactId,
    /// Its events so far, now the contact's.
    pub events: i64,
}

const ENTITY: &str = "web_event";

fn check_visitor(field: &str, v: &str, errs: &mut Vec<FieldError>) {
    let ok = !v.is_empty()
        && v.len() <= 128
        && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if !ok {
        errs.push(FieldError::new(field, "invalid", "1 to 128 letters, digits or -_.:"));
    }
}

fn invalid(errors: Vec<FieldError>) -> RecordError {
    RecordError::Invalid { entity: ENTITY, errors: FieldErrors(errors) }
}

/// Records a visitor seen from `first` to `last`, and links it to `contact` when one is named
/// (the latest identification wins).
fn link(
    conn: &mut AnyConnection,
    visitor: &str,
    contact: Option<ContactId>,
    first_at: NaiveDateTime,
    last_at: NaiveDateTime,
) -> QueryResult<()> {
    let now = crm_db::now();
    let found: Option<(Option<DbUuid>, NaiveDateTime, NaiveDateTime)> = web_visitors::table
        .filter(web_visitors::visitor_id.eq(visitor))
        .select((web_visitors::contact_id, web_visitors::first_seen, web_visitors::last_seen))
        .first(conn)
        .optional()?;
    let contact_db = contact.map(|c| DbUuid(c.0));
    match found {
        None => {
            diesel::insert_into(web_visitors::table)
                .values((
                    web_visitors::visitor_id.eq(visitor),
                    web_visitors::contact_id.eq(contact_db),
                    web_visitors::identified_at.eq(contact.map(|_| now)),
                    web_visitors::first_seen.eq(first_at),
                    web_visitors::last_seen.eq(last_at),
                ))
                .execute(conn)?;
        }
        Some((known, first, last)) => {
            let target = web_visitors::table.filter(web_visitors::visitor_id.eq(visitor));
            diesel::update(target)
                .set((web_visitors::first_seen.eq(first.min(first_at)), web_visitors::last_seen.eq(last.max(last_at))))
                .execute(conn)?;
            if contact.is_some() && known.map(|k| k.0) != contact.map(|c| c.0) {
                diesel::update(target)
                    .set((web_visitors::contact_id.eq(contact_db), web_visitors::identified_at.eq(Some(now))))
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

/// Takes a batch of events: all of them, or none with a 422 naming each bad one.
pub fn track(conn: &mut AnyConnection, actor: &Actor, input: TrackInput) -> Result<Tracked, RecordError> {
    actor.require(Scope::WebTrack)?;
    let retention_days = crate::settings::load(conn)?.web_retention_days;
    let now = crm_db::now();
    let oldest = now - chrono::Duration::days(i64::from(retention_days));
    let mut errs = Vec::new();
    if input.events.is_empty() || input.events.len() > 500 {
        errs.push(FieldError::new("events", "out_of_range", "1 to 500 events"));
    }
    let mut contacts: Vec<uuid::Uuid> = Vec::new();
    for (i, e) in input.events.iter().enumerate() {
        let f = |name: &str| format!("events[{i}].{name}");
        check_visitor(&f("visitor_id"), &e.visitor_id, &mut errs);
        let url_ok =
            e.url.len() <= 2000 && url::Url::parse(&e.url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !url_ok {
            errs.push(FieldError::new(f("url"), "invalid", "an http or https URL of at most 2000 characters"));
        }
        if e.title.as_ref().is_some_and(|t| t.chars().count() > 500) {
            errs.push(FieldError::new(f("title"), "too_long", "at most 500 characters"));
        }
        if e.referrer.as_ref().is_some_and(|t| t.len() > 2000) {
            errs.push(FieldError::new(f("referrer"), "too_long", "at most 2000 characters"));
        }
        if let Some(t) = e.occurred_at.map(|t| t.naive_utc()) {
            if t > now + chrono::Duration::minutes(5) {
                errs.push(FieldError::new(f("occurred_at"), "in_future", "at most 5 minutes ahead"));
            } else if t < oldest {
                errs.push(FieldError::new(f("occurred_at"), "too_old", "older than the retention"));
            }
        }
        if let Some(c) = e.contact_id {
            contacts.push(c.0);
        }
    }
    contacts.sort_unstable();
    contacts.dedup();
    for c in &contacts {
        if !crm_db::sql::id_exists(conn, ContactId::TABLE, *c)? {
            let i = input.events.iter().position(|e| e.contact_id.map(|x| x.0) == Some(*c)).unwrap_or(0);
            errs.push(FieldError::new(format!("events[{i}].contact_id"), "not_found", "no such contact"));
        }
    }
    if !errs.is_empty() {
        return Err(invalid(errs));
    }
    let rows: Vec<_> = input
        .events
        .iter()
        .map(|e| {
            (
                web_events::id.eq(DbUuid(uuid::Uuid::now_v7())),
                web_events::visitor_id.eq(e.visitor_id.clone()),
                web_events::kind.eq(e.kind.as_str()),
                web_events::url.eq(e.url.clone()),
                web_events::title.eq(e.title.clone()),
                web_events::referrer.eq(e.referrer.clone()),
                web_events::occurred_at.eq(e.occurred_at.map(|t| t.naive_utc()).unwrap_or(now)),
                web_events::received_at.eq(now),
            )
        })
        .collect();
    crm_db::insert_rows!(conn, web_events::table, &rows)?;
    // Each visitor once: the span of its events, and the last contact they name.
    let mut visitors: std::collections::BTreeMap<&str, (NaiveDateTime, NaiveDateTime, Option<ContactId>)> =
        std::collections::BTreeMap::new();
    for e in &input.events {
        let at = e.occurred_at.map(|t| t.naive_utc()).unwrap_or(now);
        let v = visitors.entry(e.visitor_id.as_str()).or_insert((at, at, None));
        v.0 = v.0.min(at);
        v.1 = v.1.max(at);
        v.2 = e.contact_id.or(v.2);
    }
    for (visitor, (first, last, contact)) in visitors {
        link(conn, visitor, contact, first, last)?;
    }
    Ok(Tracked { accepted: input.events.len() as i64 })
}

/// Identifies a visitor as a contact; its events so far become the contact's.
pub fn identify(conn: &mut AnyConnection, actor: &Actor, input: IdentifyInput) -> Result<Identified, RecordError> {
    actor.require(Scope::WebTrack)?;
    let mut errs = Vec::new();
    check_visitor("visitor_id", &input.visitor_id, &mut errs);
    if !crm_db::sql::id_exists(conn, ContactId::TABLE, input.contact_id.0)? {
        errs.push(FieldError::new("contact_id", "not_found", "no such contact"));
    }
    if !errs.is_empty() {
        return Err(invalid(errs));
    }
    let now = crm_db::now();
    link(conn, &input.visitor_id, Some(input.contact_id), now, now)?;
    let events: i64 =
        web_events::table.filter(web_events::visitor_id.eq(&input.visitor_id)).count().get_result(conn)?;
    Ok(Identified { visitor_id: input.visitor_id, contact_id: input.contact_id, events })
}

/// Counts of each kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct WebCounts {
    pub page_views: i64,
    pub downloads: i64,
    pub form_views: i64,
}

impl WebCounts {
    pub fn add(&mut self, kind: &str, n: i64) {
        match WebEventKind::parse(kind) {
            Some(WebEventKind::PageView) => self.page_views += n,
            Some(WebEventKind::Download) => self.downloads += n,
            Some(WebEventKind::FormView) => self.form_views += n,
            None => {}
        }
    }

    pub fn total(&self) -> i64 {
        self.page_views + self.downloads + self.form_views
    }
}

/// One event, as read back.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct WebEvent {
    pub visitor_id: String,
    pub kind: WebEventKind,
    pub url: String,
    pub title: Option<String>,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
}

/// A contact's behaviour on the web.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct WebActivity {
    pub contact_id: ContactId,
    /// The visitors identified as it.
    pub visitors: i64,
    /// Every event kept (within the retention).
    pub all: WebCounts,
    /// The last 30 days.
    pub last_30_days: WebCounts,
    pub last_seen_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The 20 newest events.
    pub recent: Vec<WebEvent>,
}

/// A contact's web activity.
pub fn activity(conn: &mut AnyConnection, actor: &Actor, contact: ContactId) -> Result<WebActivity, RecordError> {
    actor.require(Scope::AnalyticsRead)?;
    actor.require(Scope::ContactsRead)?;
    if !crm_db::sql::id_exists(conn, ContactId::TABLE, contact.0)? {
        return Err(RecordError::NotFound { entity: ContactId::ENTITY });
    }
    let mine = web_visitors::table.filter(web_visitors::contact_id.eq(DbUuid(contact.0)));
    let visitors: i64 = mine.count().get_result(conn)?;
    let ids = mine.select(web_visitors::visitor_id);
    let since = crm_db::now() - chrono::Duration::days(30);
    let rows: Vec<(String, NaiveDateTime)> = web_events::table
        .filter(web_events::visitor_id.eq_any(ids))
        .select((web_events::kind, web_events::occurred_at))
        .load(conn)?;
    let (mut all, mut last_30_days) = (WebCounts::default(), WebCounts::default());
    for (kind, at) in &rows {
        all.add(kind, 1);
        if *at > since {
            last_30_days.add(kind, 1);
        }
    }
    let last_seen_at = rows.iter().map(|r| r.1).max().map(|t| t.and_utc());
    let ids =
        web_visitors::table.filter(web_visitors::contact_id.eq(DbUuid(contact.0))).select(web_visitors::visitor_id);
    let recent: Vec<(String, String, String, Option<String>, NaiveDateTime)> = web_events::table
        .filter(web_events::visitor_id.eq_any(ids))
        .order((web_events::occurred_at.desc(), web_events::id.desc()))
        .limit(20)
        .select((web_events::visitor_id, web_events::kind, web_events::url, web_events::title, web_events::occurred_at))
        .load(conn)?;
    Ok(WebActivity {
        contact_id: contact,
        visitors,
        all,
        last_30_days,
        last_seen_at,
        recent: recent
            .into_iter()
            .map(|(visitor_id, kind, url, title, at)| WebEvent {
                visitor_id,
                kind: WebEventKind::parse(&kind).unwrap_or(WebEventKind::PageView),
                url,
                title,
                occurred_at: at.and_utc(),
            })
            .collect(),
    })
}

/// Deletes the events older than the retention, and the visitors seen last before it that no
/// contact claims. Returns the events deleted.
pub fn purge(conn: &mut AnyConnection, retention_days: u32) -> QueryResult<usize> {
    let cutoff = crm_db::now() - chrono::Duration::days(i64::from(retention_days));
    let n = diesel::delete(web_events::table.filter(web_events::occurred_at.lt(cutoff))).execute(conn)?;
    diesel::delete(
        web_visitors::table.filter(web_visitors::last_seen.lt(cutoff)).filter(web_visitors::contact_id.is_null()),
    )
    .execute(conn)?;
    Ok(n)
}
