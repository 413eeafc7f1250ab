//! The voice of the customer: what one customer told the company through its cases and its
//! surveys (docs/ANALYTICS.md). Its cases by type and priority, open and in all; its complaints;
//! the CSAT of its cases (`satisfaction`, 1 to 5) and the NPS answers logged with its
//! interactions (`nps`, 0 to 10); and the same per month over the last 12 months.
//!
//! NPS = the share of promoters (9 or 10) minus the share of detractors (0 to 6), × 100.
//! A case counts in the month it was opened (its CSAT too); an answer in the month of its
//! interaction.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use crm_core::ids::Customer;
use crm_core::{Actor, Scope};
use crm_db::AnyConnection;
use crm_db::schema::{cases, interaction_contacts, interactions};
use crm_db::types::DbUuid;
use crm_records::RecordError;
use diesel::prelude::*;
use serde::Serialize;

use crate::analysis::CustomerType;
use crate::trends::{last_12_months, month_of};

/// Cases of one type or priority.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct CaseGroup {
    /// The type (`complaint`, …) or the priority (`high`, …).
    pub key: String,
    pub total: i64,
    pub open: i64,
}

/// NPS answers and their score.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Nps {
    pub responses: i64,
    /// 9 or 10.
    pub promoters: i64,
    /// 7 or 8.
    pub passives: i64,
    /// 0 to 6.
    pub detractors: i64,
    /// −100 to 100; absent without answers.
    pub score: Option<f64>,
}

/// CSAT answers and their mean.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct Csat {
    pub responses: i64,
    /// 1 to 5; absent without answers.
    pub average: Option<f64>,
}

/// One month.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct VoiceMonth {
    /// `2026-11`.
    pub month: String,
    pub cases: i64,
    pub complaints: i64,
    pub csat: Csat,
    pub nps: Nps,
}

/// A customer's voice.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct VoiceOfCustomer {
    pub customer_type: CustomerType,
    pub customer_id: uuid::Uuid,
    pub cases: i64,
    pub open_cases: i64,
    pub complaints: i64,
    pub open_complaints: i64,
    /// By type, the most first.
    pub by_type: Vec<CaseGroup>,
    /// By priority, the most first.
    pub by_priority: Vec<CaseGroup>,
    pub csat: Csat,
    pub nps: Nps,
    /// The last 12 months, oldest first.
    pub months: Vec<VoiceMonth>,
}

#[derive(Default)]
struct Scores {
    csat_sum: i64,
    csat_n: i64,
    nps: [i64; 3],
}

impl Scores {
    fn csat(&self) -> Csat {
        Csat { responses: self.csat_n, average: (self.csat_n > 0).then(|| self.csat_sum as f64 / self.csat_n as f64) }
    }

    fn add_nps(&mut self, n: i64) {
        let k = match n {
            9.. => 0,
            7 | 8 => 1,
            _ => 2,
        };
        self.nps[k] += 1;
    }

    fn nps(&self) -> Nps {
        let [promoters, passives, detractors] = self.nps;
        let responses = promoters + passives + detractors;
        Nps {
            responses,
            promoters,
            passives,
            detractors,
            score: (responses > 0).then(|| (promoters - detractors) as f64 * 100.0 / responses as f64),
        }
    }
}

fn group(map: BTreeMap<String, (i64, i64)>) -> Vec<CaseGroup> {
    let mut v: Vec<CaseGroup> = map.into_iter().map(|(key, (total, open))| CaseGroup { key, total, open }).collect();
    v.sort_by(|a, b| b.total.cmp(&a.total).then(a.key.cmp(&b.key)));
    v
}

/// A customer's voice, now.
pub fn voice(conn: &mut AnyConnection, actor: &Actor, customer: Customer) -> Result<VoiceOfCustomer, RecordError> {
    actor.require(Scope::AnalyticsRead)?;
    actor.require(Scope::CasesRead)?;
    actor.require(Scope::InteractionsRead)?;
    crate::read::readable_customer(conn, actor, customer)?;
    let id = DbUuid(customer.uuid());
    let q = cases::table
        .filter(cases::archived_at.is_null())
        .select((cases::case_type, cases::priority, cases::status, cases::satisfaction, cases::created_at))
        .into_boxed::<crm_db::MultiBackend>();
    let q = match customer {
        Customer::Account(_) => q.filter(cases::account_id.eq(id)),
        Customer::Contact(_) => q.filter(cases::contact_id.eq(id)),
    };
    let rows: Vec<(String, String, String, Option<i64>, NaiveDateTime)> = q.load(conn)?;
    let answers: Vec<(i64, NaiveDateTime)> = match customer {
        Customer::Account(_) => interactions::table
            .filter(interactions::archived_at.is_null())
            .filter(interactions::account_id.eq(id))
            .filter(interactions::nps.is_not_null())
            .select((interactions::nps.assume_not_null(), interactions::occurred_at))
            .load(conn)?,
        Customer::Contact(_) => interaction_contacts::table
            .inner_join(interactions::table.on(interactions::id.eq(interaction_contacts::interaction_id)))
            .filter(interaction_contacts::contact_id.eq(id))
            .filter(interactions::archived_at.is_null())
            .filter(interactions::nps.is_not_null())
            .select((interactions::nps.assume_not_null(), interactions::occurred_at))
            .load(conn)?,
    };

    let (_, months) = last_12_months(crm_db::now());
    let mut per_month: BTreeMap<String, (i64, i64, Scores)> = BTreeMap::new();
    let (mut by_type, mut by_priority) = (BTreeMap::new(), BTreeMap::new());
    let mut all = Scores::default();
    let (mut total, mut open, mut complaints, mut open_complaints) = (0, 0, 0, 0);
    let complaint = crm_cases::CaseType::Complaint.as_str();
    for (kind, priority, status, satisfaction, created) in rows {
        let is_open = crm_cases::CaseStatus::parse(&status).is_some_and(|s| s.is_open());
        let is_complaint = kind == complaint;
        total += 1;
        open += i64::from(is_open);
        complaints += i64::from(is_complaint);
        open_complaints += i64::from(is_complaint && is_open);
        for (map, key) in [(&mut by_type, kind), (&mut by_priority, priority)] {
            let e: &mut (i64, i64) = map.entry(key).or_default();
            e.0 += 1;
            e.1 += i64::from(is_open);
        }
        let m = per_month.entry(month_of(created.date())).or_insert_with(|| (0, 0, Scores::default()));
        m.0 += 1;
        m.1 += i64::from(is_complaint);
        if let Some(s) = satisfaction {
            for sc in [&mut all, &mut m.2] {
                sc.csat_sum += s;
                sc.csat_n += 1;
            }
        }
    }
    for (n, at) in answers {
        all.add_nps(n);
        per_month.entry(month_of(at.date())).or_insert_with(|| (0, 0, Scores::default())).2.add_nps(n);
    }
    let months = months
        .into_iter()
        .map(|month| {
            let (cases, complaints, scores) = per_month.remove(&month).unwrap_or((0, 0, Scores::default()));
            VoiceMonth { month, cases, complaints, csat: scores.csat(), nps: scores.nps() }
        })
        .collect();
    Ok(VoiceOfCustomer {
        customer_type: CustomerType::of(customer),
        customer_id: customer.uuid(),
        cases: total,
        open_cases: open,
        complaints,
        open_complaints,
        by_type: group(by_type),
        by_priority: group(by_priority),
        csat: all.csat(),
        nps: all.nps(),
        months,
    })
}
