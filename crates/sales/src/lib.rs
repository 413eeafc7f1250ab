//! Sales-force automation: leads (capture, assignment and scoring rules, conversion),
//! pipelines with stages, opportunities (line items, stage history, health), activities
//! (agenda, completion with logging, reminders), target account lists and quotas, the
//! forecast and sales reports.

pub mod activities;
pub mod customer;
pub mod leads;
pub mod opportunities;
pub mod period;
pub mod pipelines;
pub mod reports;
pub mod targets;

/// The sales domain's reactions to other domains' writes (an interaction with a lead rescores
/// it), and its side of merges (`merges`), for the application's database handle.
pub fn hooks() -> crm_records::hooks::Hooks {
    crm_records::hooks::Hooks::new().on("lead", leads::rescore).and(merges::hooks())
}

mod merges {
    //! What moves when contacts, accounts or leads are merged: the deals and activities that
    //! name them, the leads converted into them, and target lists' accounts.
    use crm_core::Actor;
    use crm_core::ids::{AccountId, ContactId, LeadId, TargetListId};
    use crm_db::AnyConnection;
    use crm_db::schema::target_lists;
    use crm_db::types::DbUuid;
    use crm_records::hooks::{Hooks, Moved};
    use crm_records::merge::repoint;
    use crm_records::{RecordError, Stored};
    use diesel::prelude::*;
    use uuid::Uuid;

    use crate::targets::TargetList;
    use crate::{Activity, Lead, Opportunity};

    type Moves = Result<Vec<Moved>, RecordError>;

    pub fn hooks() -> Hooks {
        Hooks::new().on_merge("contact", contact).on_merge("account", account).on_merge("lead", lead)
    }

    fn contact(conn: &mut AnyConnection, actor: &Actor, losers: &[Uuid], survivor: Uuid) -> Moves {
        let to = Some(ContactId(survivor));
        Ok(vec![
            repoint::<Opportunity>(conn, actor, "contact_id", losers, |o| {
                o.contact_id = to;
                true
            })?,
            repoint::<Activity>(conn, actor, "contact_id", losers, |a| {
                a.contact_id = to;
                true
            })?,
            repoint::<Lead>(conn, actor, "converted_contact_id", losers, |l| {
                l.converted_contact_id = to;
                true
            })?,
        ])
    }

    fn account(conn: &mut AnyConnection, actor: &Actor, losers: &[Uuid], survivor: Uuid) -> Moves {
        let to = AccountId(survivor);
        // Target lists hold accounts in a list: few lists, each read.
        let ids: Vec<TargetListId> = target_lists::table
            .select(target_lists::id)
            .load::<DbUuid>(conn)?
            .into_iter()
            .map(|u| TargetListId(u.0))
            .collect();
        let mut listed = 0;
        for list in TargetList::find_many(conn, &ids, false)? {
            if list.account_ids.iter().any(|a| losers.contains(&a.0)) {
                crm_records::relink::<TargetList>(conn, actor, list.id, |t| {
                    let mut named = Vec::with_capacity(t.account_ids.len());
                    for a in &t.account_ids {
                        let a = if losers.contains(&a.0) { to } else { *a };
                        if !named.contains(&a) {
                            named.push(a);
                        }
                    }
                    t.account_ids = named;
                    true
                })?;
                listed += 1;
            }
        }
        Ok(vec![
            repoint::<Opportunity>(conn, actor, "account_id", losers, |o| {
                o.account_id = Some(to);
                true
            })?,
            repoint::<Activity>(conn, actor, "account_id", losers, |a| {
                a.account_id = Some(to);
                true
            })?,
            repoint::<Lead>(conn, actor, "converted_account_id", losers, |l| {
                l.converted_account_id = Some(to);
                true
            })?,
            Moved { resource: "target_lists", field: "account_ids", count: listed },
        ])
    }

    fn lead(conn: &mut AnyConnection, actor: &Actor, losers: &[Uuid], survivor: Uuid) -> Moves {
        let to = Some(LeadId(survivor));
        Ok(vec![
            repoint::<Opportunity>(conn, actor, "lead_id", losers, |o| {
                o.lead_id = to;
                true
            })?,
            repoint::<Activity>(conn, actor, "lead_id", losers, |a| {
                a.lead_id = to;
                true
            })?,
        ])
    }
}

pub use activities::{
    Activity, ActivityInput, ActivityPatch, ActivityStatus, ActivityType, CompleteInput, CompletionLog,
};
pub use leads::{
    AssignmentRule, AssignmentRules, AssignmentStrategy, CaptureInput, CaptureOutcome, CaptureReceipt, ConvertInput,
    ConvertOpportunity, ConvertResult, Lead, LeadInput, LeadPatch, LeadSource, LeadStatus, ScoreOp, ScoringRule,
    ScoringRules,
};
pub use opportunities::{
    Assessment, Health, Opportunity, OpportunityInput, OpportunityPatch, OpportunityStatus, StageVisit,
};
pub use period::Period;
pub use pipelines::{ForecastCategory, Pipeline, PipelineInput, PipelinePatch, Stage, StageInput};
pub use reports::{CurrencyFigures, Forecast, ForecastGroup, FunnelStage, GroupBy, RepActivities, SalesReport};
pub use targets::{Coverage, Quota, QuotaInput, QuotaPatch, TargetList, TargetListInput, TargetListPatch};
