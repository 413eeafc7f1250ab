//! GraphQL for automation beyond the rules' records: the run log, dry runs, manual runs and
//! approval requests, through the same use cases as REST.

use async_graphql::{Context, Object};
use crm_automation::approvals::{self, ApprovalPage, ApprovalQuery, AutomationApproval, Decision};
use crm_automation::engine::{self, DryRun, ManualRun, Selection};
use crm_automation::runs::{self, AutomationRun, RunPage, RunQuery};
use crm_automation::{ApprovalStatus, RunStatus};
use crm_core::ids::{AutomationRuleId, UserId};

use super::{gql, rc};

/// One page of runs (shared by `AutomationRule.runs` and `automationRuns`).
pub async fn runs(
    ctx: &Context<'_>,
    rule_id: Option<AutomationRuleId>,
    record_id: Option<uuid::Uuid>,
    status: Option<RunStatus>,
    first: i32,
    before: Option<uuid::Uuid>,
) -> async_graphql::Result<RunPage> {
    let r = rc(ctx)?;
    let actor = r.actor.clone();
    let query = RunQuery { rule_id, record_id, status, before, limit: u32::try_from(first).unwrap_or(0) };
    r.db.run(move |c| runs::list(c, &actor, query)).await.map_err(gql)
}

#[derive(Default)]
pub struct AutomationQuery;

#[Object]
impl AutomationQuery {
    /// The run log, newest first: each run's trigger event, conditions and action results.
    async fn automation_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only runs of this rule.")] rule_id: Option<AutomationRuleId>,
        #[graphql(desc = "Only runs about this record.")] record_id: Option<uuid::Uuid>,
        #[graphql(desc = "Only runs in this state.")] status: Option<RunStatus>,
        #[graphql(desc = "Runs per page, 1 to 500.", default = 100, validator(minimum = 1, maximum = 500))] first: i32,
        #[graphql(desc = "`nextBefore` of the previous page.")] before: Option<uuid::Uuid>,
    ) -> async_graphql::Result<RunPage> {
        runs(ctx, rule_id, record_id, status, first, before).await
    }

    /// One run (null when there is none).
    async fn automation_run(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The run.")] id: uuid::Uuid,
    ) -> async_graphql::Result<Option<AutomationRun>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        match r.db.run(move |c| runs::get(c, &actor, id)).await {
            Ok(run) => Ok(Some(run)),
            Err(crm_records::RecordError::NotFound { .. }) => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }

    /// Approval requests of paused runs, newest first: every request with `automation:read`,
    /// else those addressed to the caller.
    #[allow(clippy::too_many_arguments)]
    async fn automation_approvals(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only requests in this state.")] status: Option<ApprovalStatus>,
        #[graphql(desc = "Only requests addressed to this user.")] approver_id: Option<UserId>,
        #[graphql(desc = "Only requests of this rule.")] rule_id: Option<AutomationRuleId>,
        #[graphql(desc = "Only requests about this record.")] record_id: Option<uuid::Uuid>,
        #[graphql(desc = "Requests per page, 1 to 500.", default = 100, validator(minimum = 1, maximum = 500))]
        first: i32,
        #[graphql(desc = "`nextBefore` of the previous page.")] before: Option<uuid::Uuid>,
    ) -> async_graphql::Result<ApprovalPage> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let query =
            ApprovalQuery { status, approver_id, rule_id, record_id, before, limit: u32::try_from(first).unwrap_or(0) };
        r.db.run(move |c| approvals::list(c, &actor, query)).await.map_err(gql)
    }

    /// One approval request (null when there is none the caller may see).
    async fn automation_approval(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The request.")] id: uuid::Uuid,
    ) -> async_graphql::Result<Option<AutomationApproval>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        match r.db.run(move |c| approvals::get(c, &actor, id)).await {
            Ok(a) => Ok(Some(a)),
            Err(crm_records::RecordError::NotFound { .. }) => Ok(None),
            Err(e) => Err(gql(e)),
        }
    }
}

#[derive(Default)]
pub struct AutomationMutation;

#[Object]
impl AutomationMutation {
    /// What a rule would do to the selected records (at most 100), run and rolled back:
    /// nothing is written.
    async fn dry_run_automation_rule(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The rule.")] id: AutomationRuleId,
        #[graphql(desc = "The records: ids, or a filter.")] selection: Selection,
    ) -> async_graphql::Result<DryRun> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| engine::dry_run(c, &actor, id, selection)).await.map_err(gql)
    }

    /// Runs a rule on the selected records (at most 1000): one queued run each.
    async fn run_automation_rule(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The rule.")] id: AutomationRuleId,
        #[graphql(desc = "The records: ids, or a filter.")] selection: Selection,
    ) -> async_graphql::Result<ManualRun> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| engine::run_manually(c, &actor, id, selection)).await.map_err(gql)
    }

    /// Approves (the paused run goes on) or rejects (it stops) an approval request, once.
    async fn decide_automation_approval(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The request.")] id: uuid::Uuid,
        #[graphql(desc = "The decision and why.")] decision: Decision,
    ) -> async_graphql::Result<AutomationApproval> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| approvals::decide(c, &actor, id, decision)).await.map_err(gql)
    }
}
