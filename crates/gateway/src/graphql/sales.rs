//! GraphQL for sales-force automation: the same use cases as REST.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, MergedObject, Object};
use crm_accounts::Account;
use crm_contacts::Contact;
use crm_core::Actor;
use crm_core::ids::{ActivityId, LeadId, OpportunityId, PipelineId, QuotaId, TargetListId, UserId};
use crm_db::Db;
use crm_sales::{
    Activity, ActivityInput, ActivityPatch, Assessment, AssignmentRules, CompleteInput, ConvertInput, ConvertResult,
    Coverage, Forecast, GroupBy, Lead, LeadInput, LeadPatch, Opportunity, OpportunityInput, OpportunityPatch, Pipeline,
    PipelineInput, PipelinePatch, Quota, QuotaInput, QuotaPatch, SalesReport, ScoringRules, Stage, StageVisit,
    TargetList, TargetListInput, TargetListPatch,
};

use crm_users::User;

use super::loaders::{MakeLoader, load_one, loaders};
use super::{gql, rc};

crate::record_graphql! {
    /// A prospect not yet qualified into an account and a contact.
    record: Lead, id: LeadId, input: LeadInput, patch: LeadPatch,
    node: LeadNode as "Lead", connection: LeadConnection, upsert_result: UpsertLeadResult,
    batch_op: LeadBatchOp(LeadUpdateOp, LeadUpsertOp, LeadDeleteOp),
    query: LeadsQuery { lead, leads, lead_by_external_id },
    mutation: LeadsMutation { create_lead, update_lead, archive_lead, restore_lead, upsert_lead, batch_leads },
    relations {
        /// The record owner.
        owner(owner_id): User,
    },
    children {},
    fields {}
}

crate::record_graphql! {
    /// A sales pipeline and its stages.
    record: Pipeline, id: PipelineId, input: PipelineInput, patch: PipelinePatch,
    node: PipelineNode as "Pipeline", connection: PipelineConnection, upsert_result: UpsertPipelineResult,
    batch_op: PipelineBatchOp(PipelineUpdateOp, PipelineUpsertOp, PipelineDeleteOp),
    query: PipelinesQuery { pipeline, pipelines, pipeline_by_external_id },
    mutation: PipelinesMutation { create_pipeline, update_pipeline, archive_pipeline, restore_pipeline, upsert_pipeline, batch_pipelines },
    relations {},
    children {},
    fields {}
}

crate::record_graphql! {
    /// A deal in a pipeline.
    record: Opportunity, id: OpportunityId, input: OpportunityInput, patch: OpportunityPatch,
    node: OpportunityNode as "Opportunity", connection: OpportunityConnection, upsert_result: UpsertOpportunityResult,
    batch_op: OpportunityBatchOp(OpportunityUpdateOp, OpportunityUpsertOp, OpportunityDeleteOp),
    query: OpportunitiesQuery { opportunity, opportunities, opportunity_by_external_id },
    mutation: OpportunitiesMutation {
        create_opportunity, update_opportunity, archive_opportunity, restore_opportunity, upsert_opportunity,
        batch_opportunities
    },
    relations {
        /// The customer's account.
        account(account_id): Account,
        /// The customer's contact person.
        contact(contact_id): Contact,
        /// The record owner.
        owner(owner_id): User,
        /// The pipeline it is in.
        pipeline(pipeline_id): Pipeline,
    },
    children {},
    fields {

        /// The current stage.
        async fn stage(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<Stage>> {
            let p = load_one::<Pipeline>(ctx, Some(self.inner.pipeline_id)).await?;
            Ok(p.and_then(|p| p.stage(self.inner.stage_id).cloned()))
        }

        /// The stages it went through, oldest first.
        async fn stage_history(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Vec<StageVisit>> {
            let r = rc(ctx)?;
            let (actor, id) = (r.actor.clone(), self.inner.id);
            r.db.run(move |c| crm_sales::opportunities::stage_history(c, &actor, id)).await.map_err(gql)
        }

        /// Health: time in stage, close date, last interaction (batch-loaded).
        async fn assessment(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Option<Assessment>> {
            loaders(ctx)?.get::<AssessmentLoader>().load_one(self.inner.id).await
        }
    }
}

crate::record_graphql! {
    /// Scheduled work: a task, call, meeting or mailing.
    record: Activity, id: ActivityId, input: ActivityInput, patch: ActivityPatch,
    node: ActivityNode as "Activity", connection: ActivityConnection, upsert_result: UpsertActivityResult,
    batch_op: ActivityBatchOp(ActivityUpdateOp, ActivityUpsertOp, ActivityDeleteOp),
    query: ActivitiesQuery { activity, activities, activity_by_external_id },
    mutation: ActivitiesMutation { create_activity, update_activity, archive_activity, restore_activity, upsert_activity, batch_activities },
    relations {
        /// Who does it.
        assignee(assignee_id): User,
        /// The contact it is with.
        contact(contact_id): Contact,
        /// The account it is for.
        account(account_id): Account,
        /// The opportunity it works on.
        opportunity(opportunity_id): Opportunity,
    },
    children {},
    fields {}
}

crate::record_graphql! {
    /// A target account list.
    record: TargetList, id: TargetListId, input: TargetListInput, patch: TargetListPatch,
    node: TargetListNode as "TargetList", connection: TargetListConnection, upsert_result: UpsertTargetListResult,
    batch_op: TargetListBatchOp(TargetListUpdateOp, TargetListUpsertOp, TargetListDeleteOp),
    query: TargetListsQuery { target_list, target_lists, target_list_by_external_id },
    mutation: TargetListsMutation {
        create_target_list, update_target_list, archive_target_list, restore_target_list, upsert_target_list,
        batch_target_lists
    },
    relations {},
    children {},
    fields {
        async fn coverage(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<Coverage> {
            let r = rc(ctx)?;
            let (actor, id) = (r.actor.clone(), self.inner.id);
            r.db.run(move |c| crm_sales::targets::coverage(c, &actor, id)).await.map_err(gql)
        }
    }
}

crate::record_graphql! {
    /// A sales quota for a period.
    record: Quota, id: QuotaId, input: QuotaInput, patch: QuotaPatch,
    node: QuotaNode as "Quota", connection: QuotaConnection, upsert_result: UpsertQuotaResult,
    batch_op: QuotaBatchOp(QuotaUpdateOp, QuotaUpsertOp, QuotaDeleteOp),
    query: QuotasQuery { quota, quotas, quota_by_external_id },
    mutation: QuotasMutation { create_quota, update_quota, archive_quota, restore_quota, upsert_quota, batch_quotas },
    relations {},
    children {},
    fields {}
}

pub struct AssessmentLoader {
    db: Db,
    actor: Actor,
}

impl Loader<OpportunityId> for AssessmentLoader {
    type Value = Assessment;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[OpportunityId]) -> Result<HashMap<OpportunityId, Assessment>, Self::Error> {
        let (actor, ids) = (self.actor.clone(), keys.to_vec());
        let found = self.db.run(move |c| crm_sales::opportunities::assess(c, &actor, &ids)).await.map_err(gql)?;
        Ok(found.into_iter().map(|a| (a.opportunity_id, a)).collect())
    }
}

impl MakeLoader for AssessmentLoader {
    fn make(db: Db, actor: Actor) -> Self {
        AssessmentLoader { db, actor }
    }
}

#[derive(Default)]
pub struct SalesViewsQuery;

#[Object]
impl SalesViewsQuery {
    /// The forecast of a period (`2026-Q4`, `2026-11`, `2026`) per owner, team or pipeline.
    async fn forecast(
        &self,
        ctx: &Context<'_>,
        period: String,
        #[graphql(default_with = "GroupBy::Owner")] group_by: GroupBy,
    ) -> async_graphql::Result<Forecast> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_sales::reports::forecast(c, &actor, &period, group_by)).await.map_err(gql)
    }

    /// Win rate, deal size, cycle, velocity, funnel and activities of a period.
    async fn sales_report(
        &self,
        ctx: &Context<'_>,
        period: String,
        owner_id: Option<UserId>,
        pipeline_id: Option<PipelineId>,
    ) -> async_graphql::Result<SalesReport> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_sales::reports::sales_report(c, &actor, &period, owner_id, pipeline_id))
            .await
            .map_err(gql)
    }

    /// A rep's agenda (REST `GET /activities?assignee=me&due[lte]=…`): activities of `assignee`
    /// (`me` or a user id) due in the range; a bare date for `dueLte` covers that whole day.
    #[allow(clippy::too_many_arguments)]
    async fn agenda(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = "me")] assignee: String,
        due_lte: Option<String>,
        due_gte: Option<String>,
        filter: Option<String>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
        order_by: Option<Vec<String>>,
    ) -> async_graphql::Result<ActivityConnection> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let count = ctx.look_ahead().field("totalCount").exists();
        let params =
            super::list_params(first, after, filter, None, order_by, None, super::ArchivedFilter::Exclude, count)?;
        let agenda = crm_sales::activities::Agenda { assignee: Some(assignee), due_lte, due_gte };
        let page = r.db.run(move |c| crm_sales::activities::agenda(c, &actor, &params, &agenda)).await.map_err(gql)?;
        Ok(ActivityConnection {
            page_info: super::page_info(&page),
            total_count: page.total,
            nodes: page.data.into_iter().map(|inner| ActivityNode { inner }).collect(),
        })
    }

    async fn lead_assignment_rules(&self, ctx: &Context<'_>) -> async_graphql::Result<AssignmentRules> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_sales::leads::get_assignment_rules(c, &actor)).await.map_err(gql)
    }

    async fn lead_scoring_rules(&self, ctx: &Context<'_>) -> async_graphql::Result<ScoringRules> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_sales::leads::get_scoring_rules(c, &actor)).await.map_err(gql)
    }
}

#[derive(Default)]
pub struct SalesViewsMutation;

#[Object]
impl SalesViewsMutation {
    /// Converts a lead (see REST `POST /leads/{id}/convert`).
    async fn convert_lead(
        &self,
        ctx: &Context<'_>,
        id: LeadId,
        input: ConvertInput,
    ) -> async_graphql::Result<ConvertResult> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_sales::leads::convert(c, &actor, id, input)).await.map_err(gql)
    }

    /// Completes an activity, optionally logging it as an interaction.
    async fn complete_activity(
        &self,
        ctx: &Context<'_>,
        id: ActivityId,
        #[graphql(default)] input: CompleteInput,
        expected_version: Option<i64>,
    ) -> async_graphql::Result<ActivityNode> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let inner =
            r.db.transaction(move |c| crm_sales::activities::complete(c, &actor, id, input, expected_version))
                .await
                .map_err(gql)?;
        Ok(ActivityNode { inner })
    }

    async fn set_lead_assignment_rules(
        &self,
        ctx: &Context<'_>,
        rules: AssignmentRules,
    ) -> async_graphql::Result<AssignmentRules> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_sales::leads::set_assignment_rules(c, &actor, rules)).await.map_err(gql)
    }

    async fn set_lead_scoring_rules(
        &self,
        ctx: &Context<'_>,
        rules: ScoringRules,
    ) -> async_graphql::Result<ScoringRules> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_sales::leads::set_scoring_rules(c, &actor, rules)).await.map_err(gql)
    }
}

#[derive(MergedObject, Default)]
pub struct SalesQuery(
    LeadsQuery,
    PipelinesQuery,
    OpportunitiesQuery,
    ActivitiesQuery,
    TargetListsQuery,
    QuotasQuery,
    SalesViewsQuery,
);

#[derive(MergedObject, Default)]
pub struct SalesMutation(
    LeadsMutation,
    PipelinesMutation,
    OpportunitiesMutation,
    ActivitiesMutation,
    TargetListsMutation,
    QuotasMutation,
    SalesViewsMutation,
);
