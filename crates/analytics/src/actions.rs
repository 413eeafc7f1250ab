//! The next best actions for one customer, now: what the customer screen of a front office
//! shows. Ranked by a score from 0 to 100 (docs/ANALYTICS.md has the table):
//!
//! - `resolve_complaint` (100): an open complaint, before anything else;
//! - `follow_up_case` (60): another open case;
//! - `reactivate` (50 + 40 × (1 − probability alive), 70 without a model): the customer drifts;
//! - `offer` (cross-sell 10 + 40 × confidence × min(lift, 3) / 3; up-sell 25): a product to
//!   offer, unless an open complaint or the customer's marketing opt-out suppresses offers
//!   (they are then listed under `suppressed`, with the reason);
//! - `nothing` (0): when none of these holds, with why.
//!
//! Read from the latest refresh's stored analysis (or the customer computed alone when that
//! refresh did not see it), the customer's open cases and its consent: a few indexed reads.

use chrono::NaiveDateTime;
use crm_core::ids::Customer;
use crm_core::{Actor, Scope, wire_enum};
use crm_db::AnyConnection;
use crm_db::schema::{cases, contacts};
use crm_db::types::DbUuid;
use crm_records::RecordError;
use diesel::prelude::*;
use serde::Serialize;

use crate::analysis::{CustomerAnalysis, CustomerType};
use crate::associations::{Offer, OfferKind};

wire_enum!(
    /// What to do.
    ActionKind {
        ResolveComplaint = "resolve_complaint",
        FollowUpCase = "follow_up_case",
        Reactivate = "reactivate",
        FollowUpInterest = "follow_up_interest",
        Offer = "offer",
        Nothing = "nothing",
    }
);

/// One action, with its score and reasons.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct NextBestAction {
    pub action: ActionKind,
    /// 0 to 100; the list is ordered by it.
    pub score: f64,
    pub title: String,
    pub reasons: Vec<String>,
    /// The case to follow up.
    pub case_id: Option<uuid::Uuid>,
    /// The product to offer.
    pub product_id: Option<uuid::Uuid>,
    pub offer_kind: Option<OfferKind>,
}

/// An offer held back, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct SuppressedOffer {
    pub product_id: uuid::Uuid,
    pub sku: String,
    pub name: String,
    pub reason: String,
}

/// A customer's next best actions.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct NextBestActions {
    pub customer_type: CustomerType,
    pub customer_id: uuid::Uuid,
    /// When the analysis behind them was computed (now, for a customer without one).
    pub as_of: chrono::DateTime<chrono::Utc>,
    pub actions: Vec<NextBestAction>,
    pub suppressed: Vec<SuppressedOffer>,
}

/// An open case of the customer.
struct OpenCase {
    id: uuid::Uuid,
    number: String,
    subject: String,
    complaint: bool,
    priority: String,
    opened: NaiveDateTime,
}

fn open_cases(conn: &mut AnyConnection, customer: Customer) -> QueryResult<Vec<OpenCase>> {
    let open: Vec<&str> = crm_cases::CaseStatus::ALL.iter().filter(|s| s.is_open()).map(|s| s.as_str()).collect();
    let q = cases::table
        .filter(cases::archived_at.is_null())
        .filter(cases::status.eq_any(open))
        .select((cases::id, cases::number, cases::subject, cases::case_type, cases::priority, cases::created_at))
        .order(cases::created_at)
        .into_boxed::<crm_db::MultiBackend>();
    let id = DbUuid(customer.uuid());
    let q = match customer {
        Customer::Account(_) => q.filter(cases::account_id.eq(id)),
        Customer::Contact(_) => q.filter(cases::contact_id.eq(id)),
    };
    let complaint = crm_cases::CaseType::Complaint.as_str();
    Ok(q.load::<(DbUuid, String, String, String, String, NaiveDateTime)>(conn)?
        .into_iter()
        .map(|(id, number, subject, kind, priority, opened)| OpenCase {
            id: id.0,
            number,
            subject,
            complaint: kind == complaint,
            priority,
            opened,
        })
        .collect())
}

/// Whether the customer may be offered products: a contact that has not opted out of
/// marketing; an account with at least one live contact that has not.
fn reachable(conn: &mut AnyConnection, customer: Customer) -> QueryResult<bool> {
    let q = contacts::table
        .filter(contacts::archived_at.is_null())
        .filter(contacts::marketing_opt_out.eq(false))
        .select(contacts::id)
        .into_boxed::<crm_db::MultiBackend>();
    let id = DbUuid(customer.uuid());
    let q = match customer {
        Customer::Account(_) => q.filter(contacts::account_id.eq(id)),
        Customer::Contact(_) => q.filter(contacts::id.eq(id)),
    };
    Ok(q.first::<DbUuid>(conn).optional()?.is_some())
}

/// The score of an offer.
fn offer_score(o: &Offer) -> f64 {
    match o.kind {
        OfferKind::CrossSell => 10.0 + 40.0 * o.confidence.unwrap_or(0.0) * o.lift.unwrap_or(0.0).min(3.0) / 3.0,
        OfferKind::UpSell => 25.0,
        OfferKind::SwitchSell => 35.0,
    }
}

/// The next best actions for a customer with purchases (the analysis needs them).
pub fn next_best_actions(
    conn: &mut AnyConnection,
    actor: &Actor,
    customer: Customer,
) -> Result<NextBestActions, RecordError> {
    actor.require(Scope::CasesRead)?;
    // A customer without purchases (or a base not analysed yet) still has its cases.
    let analysis: Option<CustomerAnalysis> = match crate::read::customer(conn, actor, customer, false) {
        Ok(a) => Some(a),
        Err(RecordError::Conflict { code: "NO_PURCHASES" | "NOT_ANALYSED" | "PROFILING_WITHDRAWN", .. }) => None,
        Err(e) => return Err(e),
    };
    let cases = open_cases(conn, customer)?;
    let now = crm_db::now();
    let mut actions = Vec::new();
    for c in cases.iter().take(3) {
        let days = (now - c.opened).num_days();
        let (action, score, title) = if c.complaint {
            (ActionKind::ResolveComplaint, 100.0, format!("Resolve complaint {} before selling", c.number))
        } else {
            (ActionKind::FollowUpCase, 60.0, format!("Follow up case {}", c.number))
        };
        actions.push(NextBestAction {
            action,
            score,
            title,
            reasons: vec![format!("“{}”, {} priority, open for {days} days", c.subject, c.priority)],
            case_id: Some(c.id),
            product_id: None,
            offer_kind: None,
        });
    }
    if let Some(analysis) = analysis.as_ref().filter(|a| a.drifting) {
        let alive = analysis.prediction.as_ref().map(|p| p.probability_alive);
        actions.push(NextBestAction {
            action: ActionKind::Reactivate,
            score: alive.map(|a| 50.0 + 40.0 * (1.0 - a)).unwrap_or(70.0),
            title: "Call to reactivate".into(),
            reasons: analysis.drift.iter().map(|d| d.message.clone()).collect(),
            case_id: None,
            product_id: None,
            offer_kind: None,
        });
    }
    let offers: Vec<&Offer> = analysis.iter().flat_map(|a| a.offers.iter()).collect();
    // Offers are held back by an open complaint, or when no one may receive marketing.
    // An interest shown on the website: at least `web_min_events` in the last period, more
    // than in the one before.
    if let Some(a) = analysis.as_ref() {
        let (recent, before) = (a.web.recent, a.web.before);
        let settings = crate::settings::load(conn)?;
        if recent.total() >= i64::from(settings.web_min_events) && recent.total() > before.total() {
            actions.push(NextBestAction {
                action: ActionKind::FollowUpInterest,
                score: 55.0,
                title: "Follow up the interest shown on the website".into(),
                reasons: vec![format!(
                    "{} page views, {} downloads and {} form views in the last {} days, against {} events before",
                    recent.page_views,
                    recent.downloads,
                    recent.form_views,
                    settings.period_days,
                    before.total()
                )],
                case_id: None,
                product_id: None,
                offer_kind: None,
            });
        }
    }
    let complaint = cases.iter().find(|c| c.complaint);
    let hold = match complaint {
        _ if offers.is_empty() => None,
        Some(c) => Some(format!("complaint {} is open", c.number)),
        None if !reachable(conn, customer)? => Some(match customer {
            Customer::Account(_) => "every contact of the account opted out of marketing".to_string(),
            Customer::Contact(_) => "the contact opted out of marketing".to_string(),
        }),
        None => None,
    };
    let mut suppressed = Vec::new();
    for o in offers {
        match &hold {
            Some(reason) => suppressed.push(SuppressedOffer {
                product_id: o.product_id,
                sku: o.sku.clone(),
                name: o.name.clone(),
                reason: reason.clone(),
            }),
            None => actions.push(NextBestAction {
                action: ActionKind::Offer,
                score: offer_score(o),
                title: format!("Offer {}", o.name),
                reasons: vec![o.reason.clone()],
                case_id: None,
                product_id: Some(o.product_id),
                offer_kind: Some(o.kind),
            }),
        }
    }
    actions.sort_by(|a, b| b.score.total_cmp(&a.score));
    if actions.is_empty() {
        let why = match &hold {
            Some(reason) => format!("offers are held back: {reason}"),
            None => "no open case, no drift and no product to offer".to_string(),
        };
        actions.push(NextBestAction {
            action: ActionKind::Nothing,
            score: 0.0,
            title: "Nothing to do now".into(),
            reasons: vec![why],
            case_id: None,
            product_id: None,
            offer_kind: None,
        });
    }
    Ok(NextBestActions {
        customer_type: CustomerType::of(customer),
        customer_id: customer.uuid(),
        as_of: analysis.map(|a| a.as_of).unwrap_or_else(|| now.and_utc()),
        actions,
        suppressed,
    })
}
