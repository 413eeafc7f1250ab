//! The customer 360 view: one timeline per contact or account merging the contact history,
//! cases, purchases, deals with their stage moves, activities and record changes, and the
//! summary an agent or a rep needs at a glance.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use crm_cases::Case;
use crm_core::ids::{InteractionId, ProductId, PurchaseId, UserId};
use crm_core::list::Cursor;
use crm_core::{Actor, Money, Scope, Timestamp, wire_enum};
use crm_db::sql::Key;
use crm_db::{AnyConnection, to_utc};
use crm_events::HistoryEntry;
use crm_interactions::{Direction, Interaction, InteractionType};
use crm_products::{Product, Purchase};
use crm_records::{RecordError, Stored};
use crm_sales::{Activity, Opportunity, StageVisit};
use crm_users::User;
use serde::Serialize;

wire_enum!(
    /// What a timeline entry is.
    TimelineKind {
        Interaction = "interaction",
        Case = "case",
        Purchase = "purchase",
        /// A deal opened.
        Opportunity = "opportunity",
        /// A deal moved to another stage (won and lost are moves into a closed stage).
        StageChange = "stage_change",
        /// An activity: when it was done, or when it was scheduled while still to do.
        Activity = "activity",
        Change = "change",
        /// A run of an automation rule on the customer (skipped runs are left out).
        Automation = "automation",
    }
);

impl TimelineKind {
    fn scope(self, subject: Subject) -> Scope {
        match self {
            TimelineKind::Interaction => Scope::InteractionsRead,
            TimelineKind::Case => Scope::CasesRead,
            TimelineKind::Purchase => Scope::ProductsRead,
            TimelineKind::Opportunity | TimelineKind::StageChange | TimelineKind::Activity => Scope::SalesRead,
            TimelineKind::Change => read_scope(subject),
            TimelineKind::Automation => Scope::AutomationRead,
        }
    }
}

/// Whose timeline: a contact or an account.
pub use crm_core::ids::Customer as Subject;

/// What reading a customer's timeline or summary needs: the subject's read scope.
pub fn read_scope(subject: Subject) -> Scope {
    match subject {
        Subject::Contact(_) => Scope::ContactsRead,
        Subject::Account(_) => Scope::AccountsRead,
    }
}

/// The subject's owner; None when there is no such contact or account.
fn owner(conn: &mut AnyConnection, subject: Subject) -> Result<Option<Option<UserId>>, RecordError> {
    Ok(match subject {
        Subject::Contact(c) => crm_contacts::read::owner_of(conn, c)?,
        Subject::Account(a) => crm_accounts::read::owner_of(conn, a)?,
    })
}

/// The entry itself.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TimelineEntry {
    Interaction(Interaction),
    Case(Case),
    Purchase(Purchase),
    Opportunity(Opportunity),
    StageChange(StageVisit),
    Activity(Activity),
    Change(HistoryEntry),
    Automation(crm_automation::AutomationRun),
}

/// One entry of a customer's timeline. Its schema (below) is written by hand: one object per
/// `kind`, discriminated by it, since `item`'s type follows `kind`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimelineItem {
    pub kind: TimelineKind,
    /// When it happened: an interaction's `occurred_at`, a case's opening, a purchase's
    /// `ordered_at`, a deal's opening, a stage move's `entered_at`, an activity's
    /// `completed_at` (or its creation while it is to do), a change's time, an automation
    /// run's creation.
    pub occurred_at: Timestamp,
    /// The interaction, case, purchase, opportunity or activity id, the stage visit's id, the
    /// change event's id, or the automation run's id.
    pub id: uuid::Uuid,
    pub item: TimelineEntry,
}

#[cfg(feature = "openapi")]
mod schema {
    use serde_json::json;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;
    use utoipa::{PartialSchema, ToSchema};

    use super::TimelineItem;

    /// `kind`, the name of the variant's schema, and the name of its item's schema.
    const VARIANTS: [(&str, &str, &str); 8] = [
        ("interaction", "TimelineInteraction", "Interaction"),
        ("case", "TimelineCase", "Case"),
        ("purchase", "TimelinePurchase", "Purchase"),
        ("opportunity", "TimelineOpportunity", "Opportunity"),
        ("stage_change", "TimelineStageChange", "StageVisit"),
        ("activity", "TimelineActivity", "Activity"),
        ("change", "TimelineChange", "HistoryEntry"),
        ("automation", "TimelineAutomation", "AutomationRun"),
    ];

    fn schema_of(v: serde_json::Value) -> RefOr<Schema> {
        serde_json::from_value(v).unwrap_or_else(|e| panic!("the timeline schema is invalid: {e}"))
    }

    impl PartialSchema for TimelineItem {
        fn schema() -> RefOr<Schema> {
            let one_of: Vec<_> =
                VARIANTS.iter().map(|(_, n, _)| json!({"$ref": format!("#/components/schemas/{n}")})).collect();
            let mapping: serde_json::Map<String, serde_json::Value> =
                VARIANTS.iter().map(|(k, n, _)| (k.to_string(), json!(format!("#/components/schemas/{n}")))).collect();
            schema_of(json!({
                "description": "One entry of a customer's timeline: `kind` says what `item` is.",
                "oneOf": one_of,
                "discriminator": {"propertyName": "kind", "mapping": mapping},
            }))
        }
    }

    impl ToSchema for TimelineItem {
        fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            for (kind, name, item) in VARIANTS {
                let variant = schema_of(json!({
                    "type": "object",
                    "description": format!("A timeline entry holding a {item}."),
                    "required": ["kind", "occurred_at", "id", "item"],
                    "properties": {
                        "kind": {"type": "string", "enum": [kind]},
                        "occurred_at": {
                            "$ref": "#/components/schemas/Timestamp",
                            "description": "When it happened: an interaction's `occurred_at`, a case's opening, \
                                a purchase's `ordered_at`, a deal's opening, a stage move's `entered_at`, an \
                                activity's `completed_at` (or its creation while it is to do), a change's time, an \
                                automation run's creation.",
                        },
                        "id": {
                            "type": "string",
                            "format": "uuid",
                            "description": "The interaction, case, purchase, opportunity or activity id, the \
                                stage visit's id, the change event's id, or the automation run's id.",
                        },
                        "item": {"$ref": format!("#/components/schemas/{item}")},
                    },
                }));
                schemas.push((name.to_string(), variant));
            }
            schemas.push((crm_core::Timestamp::name().into(), crm_core::Timestamp::schema()));
            schemas.push((crm_interactions::Interaction::name().into(), crm_interactions::Interaction::schema()));
            <crm_interactions::Interaction as ToSchema>::schemas(schemas);
            schemas.push((crm_cases::Case::name().into(), crm_cases::Case::schema()));
            <crm_cases::Case as ToSchema>::schemas(schemas);
            schemas.push((crm_products::Purchase::name().into(), crm_products::Purchase::schema()));
            <crm_products::Purchase as ToSchema>::schemas(schemas);
            schemas.push((
                <crm_sales::Opportunity as ToSchema>::name().into(),
                <crm_sales::Opportunity as PartialSchema>::schema(),
            ));
            <crm_sales::Opportunity as ToSchema>::schemas(schemas);
            schemas.push((
                <crm_sales::StageVisit as ToSchema>::name().into(),
                <crm_sales::StageVisit as PartialSchema>::schema(),
            ));
            <crm_sales::StageVisit as ToSchema>::schemas(schemas);
            schemas.push((
                <crm_sales::Activity as ToSchema>::name().into(),
                <crm_sales::Activity as PartialSchema>::schema(),
            ));
            <crm_sales::Activity as ToSchema>::schemas(schemas);
            schemas.push((crm_events::HistoryEntry::name().into(), crm_events::HistoryEntry::schema()));
            <crm_events::HistoryEntry as ToSchema>::schemas(schemas);
            schemas.push((
                <crm_automation::AutomationRun as ToSchema>::name().into(),
                <crm_automation::AutomationRun as PartialSchema>::schema(),
            ));
            <crm_automation::AutomationRun as ToSchema>::schemas(schemas);
        }
    }
}

/// A page of the timeline, newest first.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelinePage {
    pub data: Vec<TimelineItem>,
    /// Pass as `cursor` for older entries; null at the beginning of the history.
    pub next_cursor: Option<String>,
}

/// Largest timeline page.
pub const MAX_TIMELINE_PAGE: u32 = 200;

const CURSOR_SIGNATURE: &str = "timeline";

fn bad_cursor() -> RecordError {
    RecordError::List(crm_core::list::ListError::Cursor)
}

/// The subject's owner; not found when there is no such customer or the caller may not see it.
fn check_subject(conn: &mut AnyConnection, actor: &Actor, subject: Subject) -> Result<Option<UserId>, RecordError> {
    let not_found = || RecordError::NotFound { entity: subject.entity() };
    let owner_id = owner(conn, subject)?.ok_or_else(not_found)?;
    let seen = crm_records::visibility::of_entity(conn, actor, subject.entity())?;
    if !seen.sees(owner_id.map(|u| u.0), subject.uuid()) {
        return Err(not_found());
    }
    Ok(owner_id)
}

/// Resolves which kinds to include: the requested ones (each must be readable), or every kind
/// the caller can read.
fn kinds_for(actor: &Actor, subject: Subject, requested: &[TimelineKind]) -> Result<Vec<TimelineKind>, RecordError> {
    if requested.is_empty() {
        return Ok(TimelineKind::ALL.iter().copied().filter(|k| actor.has(k.scope(subject))).collect());
    }
    for k in requested {
        actor.require(k.scope(subject))?;
    }
    Ok(requested.to_vec())
}

/// One page of a contact's or account's timeline, newest first, merging interactions (where
/// the contact took part, or with the account), cases, purchases, deals and their stage moves,
/// activities and changes to the record
/// itself (changes are kept as long as the event log keeps them).
#[tracing::instrument(skip_all, fields(actor = %actor.sub, ?subject))]
pub fn timeline(
    conn: &mut AnyConnection,
    actor: &Actor,
    subject: Subject,
    kinds: &[TimelineKind],
    cursor: Option<&str>,
    limit: u32,
) -> Result<TimelinePage, RecordError> {
    actor.require(read_scope(subject))?;
    crm_core::list::page_size(limit, MAX_TIMELINE_PAGE)?;
    let kinds = kinds_for(actor, subject, kinds)?;
    let before: Option<Key> = match cursor {
        None => None,
        Some(c) => {
            let c = Cursor::decode(c).filter(|c| c.s == CURSOR_SIGNATURE).ok_or_else(bad_cursor)?;
            let t = c.v.first().and_then(|v| v.as_str()).ok_or_else(bad_cursor)?;
            let t = NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").map_err(|_| bad_cursor())?;
            Some((t, c.id))
        }
    };
    check_subject(conn, actor, subject)?;
    let n = i64::from(limit) + 1;
    let mut keys: Vec<(Key, TimelineKind)> = Vec::new();
    let mut changes: HashMap<uuid::Uuid, HistoryEntry> = HashMap::new();
    for kind in &kinds {
        let found: Vec<Key> = match kind {
            TimelineKind::Interaction => crm_interactions::read::newest_of(conn, subject, before, n)?,
            TimelineKind::Case => crm_cases::read::newest_of(conn, subject, before, n)?,
            TimelineKind::Purchase => crm_products::read::newest_of(conn, subject, before, n)?,
            TimelineKind::Opportunity => crm_sales::customer::newest_deals(conn, subject, before, n)?,
            TimelineKind::StageChange => crm_sales::customer::newest_stage_moves(conn, subject, before, n)?,
            TimelineKind::Activity => crm_sales::customer::newest_activities(conn, subject, before, n)?,
            TimelineKind::Change => {
                let rows = crm_events::changes_before(
                    conn,
                    subject.entity(),
                    subject.uuid(),
                    before,
                    limit.saturating_add(1),
                )?;
                rows.into_iter()
                    .map(|(t, id, entry)| {
                        changes.insert(id, entry);
                        (t, id)
                    })
                    .collect()
            }
            TimelineKind::Automation => {
                crm_automation::runs::newest_of(conn, subject.entity(), subject.uuid(), before, n)?
            }
        };
        keys.extend(found.into_iter().map(|k| (k, *kind)));
    }
    // Newest first across kinds; the id breaks ties the same way the cursor does.
    keys.sort_by_key(|k| std::cmp::Reverse(k.0));
    let more = keys.len() > limit as usize;
    keys.truncate(limit as usize);
    let next_cursor = if more {
        keys.last().map(|((t, id), _)| {
            Cursor {
                s: CURSOR_SIGNATURE.into(),
                v: vec![t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string().into()],
                id: *id,
            }
            .encode()
        })
    } else {
        None
    };
    let ids_of = |k: TimelineKind| -> Vec<uuid::Uuid> {
        keys.iter().filter(|(_, kind)| *kind == k).map(|((_, id), _)| *id).collect()
    };
    let mut interactions = by_id::<Interaction>(conn, actor, ids_of(TimelineKind::Interaction))?;
    let mut cases = by_id::<Case>(conn, actor, ids_of(TimelineKind::Case))?;
    let mut purchases = by_id::<Purchase>(conn, actor, ids_of(TimelineKind::Purchase))?;
    let mut deals = by_id::<Opportunity>(conn, actor, ids_of(TimelineKind::Opportunity))?;
    let mut moves = crm_sales::customer::stage_visits(conn, &ids_of(TimelineKind::StageChange))?;
    // A stage move is seen with its deal.
    let moved: Vec<_> = moves.values().map(|m| m.opportunity_id).collect();
    let seen_deals = by_id::<Opportunity>(conn, actor, moved.iter().map(|o| o.0).collect())?;
    moves.retain(|_, m| seen_deals.contains_key(&m.opportunity_id.0));
    let mut activities = by_id::<Activity>(conn, actor, ids_of(TimelineKind::Activity))?;
    let mut runs = crm_automation::runs::by_ids(conn, &ids_of(TimelineKind::Automation))?;
    let data = keys
        .into_iter()
        .filter_map(|((t, id), kind)| {
            let item = match kind {
                TimelineKind::Interaction => TimelineEntry::Interaction(interactions.remove(&id)?),
                TimelineKind::Case => TimelineEntry::Case(cases.remove(&id)?),
                TimelineKind::Purchase => TimelineEntry::Purchase(purchases.remove(&id)?),
                TimelineKind::Opportunity => TimelineEntry::Opportunity(deals.remove(&id)?),
                TimelineKind::StageChange => TimelineEntry::StageChange(moves.remove(&id)?),
                TimelineKind::Activity => TimelineEntry::Activity(activities.remove(&id)?),
                TimelineKind::Change => TimelineEntry::Change(changes.remove(&id)?),
                TimelineKind::Automation => TimelineEntry::Automation(runs.remove(&id)?),
            };
            Some(TimelineItem { kind, occurred_at: to_utc(t), id, item })
        })
        .collect();
    Ok(TimelinePage { data, next_cursor })
}

/// The records of `R` with these ids (archived ones too: the keys were chosen live) that the
/// caller sees, by id. (A page may so hold fewer entries than asked; its cursor still follows
/// the last key read.)
fn by_id<R: crm_records::Record>(
    conn: &mut AnyConnection,
    actor: &Actor,
    ids: Vec<uuid::Uuid>,
) -> Result<HashMap<uuid::Uuid, R>, RecordError> {
    use crm_core::ids::EntityId;
    let ids: Vec<R::Id> = ids.into_iter().map(R::Id::from_uuid).collect();
    let seen = crm_records::visibility::of::<R>(conn, actor)?;
    Ok(R::find_many(conn, &ids, true)?
        .into_iter()
        .filter(|r| seen.sees(r.owner(), r.id().uuid()))
        .map(|r| (r.id().uuid(), r))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Summary

/// The last contact with the customer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct LastInteraction {
    pub id: InteractionId,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "graphql", graphql(name = "type"))]
    pub interaction_type: InteractionType,
    pub direction: Option<Direction>,
    /// A one-line summary.
    pub subject: Option<String>,
    /// When it happened (UTC).
    pub occurred_at: Timestamp,
}

/// A product the customer bought, with the quantity over all live, non-cancelled purchases.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct ProductOwned {
    /// The product.
    pub product_id: ProductId,
    pub sku: String,
    /// The name people see.
    pub name: String,
    /// How many units.
    pub quantity: i64,
}

/// What a service agent needs at a glance. Sections the caller cannot read are null; the
/// figures count only the cases, contacts, deals and activities the caller sees.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CustomerSummary {
    /// The record owner.
    #[cfg_attr(feature = "graphql", graphql(skip))]
    pub owner: Option<User>,
    /// The user who owns it.
    pub owner_id: Option<UserId>,
    /// Cases that still need work (`new`, `open`, `pending`).
    pub open_cases: Option<i64>,
    /// Open cases past their SLA due time.
    pub overdue_cases: Option<i64>,
    pub last_case_at: Option<Timestamp>,
    pub interactions_total: Option<i64>,
    pub interactions_last_90_days: Option<i64>,
    pub last_interaction: Option<LastInteraction>,
    /// Live purchases that were not cancelled or returned.
    pub purchases: Option<i64>,
    /// Their total, one amount per currency.
    pub lifetime_value: Option<Vec<Money>>,
    pub last_purchase_at: Option<Timestamp>,
    /// Up to 20 products, most units first.
    pub products_owned: Option<Vec<ProductOwned>>,
    /// Live contacts (account summaries only).
    pub contacts: Option<i64>,
    /// Live deals in an open stage.
    pub open_opportunities: Option<i64>,
    /// Their amounts, one per currency.
    pub pipeline_value: Option<Vec<Money>>,
    pub won_opportunities: Option<i64>,
    /// Won deals' amounts, one per currency.
    pub won_value: Option<Vec<Money>>,
    pub lost_opportunities: Option<i64>,
    pub last_opportunity_at: Option<Timestamp>,
    /// Activities still to do.
    pub open_activities: Option<i64>,
    /// To do and past their due time.
    pub overdue_activities: Option<i64>,
    /// The earliest due time of the activities still to do.
    pub next_activity_due_at: Option<Timestamp>,
    pub last_activity_done_at: Option<Timestamp>,
}

/// Sums in minor units per currency as money, in currency-code order (a sum past the range
/// of an amount is capped at its maximum).
fn per_currency(mut sums: Vec<(String, i128)>) -> Vec<Money> {
    sums.sort();
    sums.into_iter().map(|(c, sum)| Money::new(i64::try_from(sum).unwrap_or(i64::MAX), &c)).collect()
}

/// The summary of a contact or an account.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, ?subject))]
pub fn summary(conn: &mut AnyConnection, actor: &Actor, subject: Subject) -> Result<CustomerSummary, RecordError> {
    actor.require(read_scope(subject))?;
    let owner_id = check_subject(conn, actor, subject)?;
    let owner = match owner_id {
        Some(id) if actor.has(Scope::UsersRead) => User::find(conn, id)?,
        _ => None,
    };
    let now = crm_db::now();

    let (mut open_cases, mut overdue_cases, mut last_case_at) = (None, None, None);
    if actor.has(Scope::CasesRead) {
        let seen = crm_records::visibility::of::<Case>(conn, actor)?;
        let c = crm_cases::read::stats_of(conn, subject, &seen, now)?;
        (open_cases, overdue_cases, last_case_at) = (Some(c.open), Some(c.overdue), c.last_opened.map(to_utc));
    }

    let (mut interactions_total, mut interactions_last_90_days, mut last_interaction) = (None, None, None);
    if actor.has(Scope::InteractionsRead) {
        let i = crm_interactions::read::stats_of(conn, subject, now - chrono::Duration::days(90), now)?;
        (interactions_total, interactions_last_90_days) = (Some(i.total), Some(i.recent));
        if let Some(id) = i.last
            && let Some(x) = Interaction::find(conn, InteractionId(id))?
        {
            last_interaction = Some(LastInteraction {
                id: x.id,
                interaction_type: x.interaction_type,
                direction: x.direction,
                subject: x.subject,
                occurred_at: x.occurred_at,
            });
        }
    }

    let (mut purchase_count, mut lifetime_value, mut last_purchase_at, mut products_owned) = (None, None, None, None);
    if actor.has(Scope::ProductsRead) {
        let bought = crm_products::read::bought_by(conn, subject)?;
        purchase_count = Some(i64::try_from(bought.len()).unwrap_or(i64::MAX));
        last_purchase_at = bought.iter().map(|b| b.ordered_at).max().map(to_utc);
        let mut totals: Vec<(String, i128)> = Vec::new();
        for b in &bought {
            match totals.iter_mut().find(|(c, _)| *c == b.currency) {
                Some((_, sum)) => *sum += i128::from(b.total_minor),
                None => totals.push((b.currency.clone(), i128::from(b.total_minor))),
            }
        }
        lifetime_value = Some(per_currency(totals));
        let ids: Vec<PurchaseId> = bought.iter().map(|b| b.id).collect();
        let mut top: Vec<(ProductId, i64)> = crm_products::read::units_by_product(conn, &ids)?.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(20);
        let products: HashMap<ProductId, Product> =
            Product::find_many(conn, &top.iter().map(|t| t.0).collect::<Vec<_>>(), true)?
                .into_iter()
                .map(|mut p| {
                    crm_records::Record::conceal(&mut p, actor);
                    (p.id, p)
                })
                .collect();
        products_owned = Some(
            top.into_iter()
                .filter_map(|(id, quantity)| {
                    let p = products.get(&id)?;
                    Some(ProductOwned { product_id: id, sku: p.sku.clone(), name: p.name.clone(), quantity })
                })
                .collect(),
        );
    }

    let contacts = match subject {
        Subject::Account(a) if actor.has(Scope::ContactsRead) => {
            let seen = crm_records::visibility::of_entity(conn, actor, "contact")?;
            Some(crm_contacts::read::live_count_at(conn, a, &seen)?)
        }
        _ => None,
    };

    let (deals, tasks) = if actor.has(Scope::SalesRead) {
        let (deals_seen, tasks_seen) = (
            crm_records::visibility::of::<Opportunity>(conn, actor)?,
            crm_records::visibility::of::<Activity>(conn, actor)?,
        );
        (
            Some(crm_sales::customer::deal_stats(conn, subject, &deals_seen)?),
            Some(crm_sales::customer::activity_stats(conn, subject, &tasks_seen, now)?),
        )
    } else {
        (None, None)
    };

    Ok(CustomerSummary {
        owner,
        owner_id,
        open_cases,
        overdue_cases,
        last_case_at,
        interactions_total,
        interactions_last_90_days,
        last_interaction,
        purchases: purchase_count,
        lifetime_value,
        last_purchase_at,
        products_owned,
        contacts,
        open_opportunities: deals.as_ref().map(|d| d.open),
        pipeline_value: deals.as_ref().map(|d| per_currency(d.open_amounts.clone())),
        won_opportunities: deals.as_ref().map(|d| d.won),
        won_value: deals.as_ref().map(|d| per_currency(d.won_amounts.clone())),
        lost_opportunities: deals.as_ref().map(|d| d.lost),
        last_opportunity_at: deals.as_ref().and_then(|d| d.last_opened).map(to_utc),
        open_activities: tasks.as_ref().map(|t| t.open),
        overdue_activities: tasks.as_ref().map(|t| t.overdue),
        next_activity_due_at: tasks.as_ref().and_then(|t| t.next_due).map(to_utc),
        last_activity_done_at: tasks.as_ref().and_then(|t| t.last_done).map(to_utc),
    })
}
