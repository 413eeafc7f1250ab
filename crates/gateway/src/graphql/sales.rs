//! GraphQL for sales-force automation: the same use cases as REST.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, Object};
use crm_core::Actor;
use crm_core::ids::{ActivityId, LeadId, OpportunityId, PipelineId, UserId};
use crm_db::Db;
use crm_sales::activities::Activity;
use crm_sales::{
    Assessment, AssignmentRules, CompleteInput, ConvertInput, ConvertResult, Forecast, GroupBy, SalesReport,
    ScoringRules,
};

use super::loaders::MakeLoader;
use crate::registry::activities::{ActivityConnection, ActivityNode};

use super::{gql, rc};

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
        #[graphql(desc = "A quarter (`2026-Q4`), month (`2026-11`) or year (`2026`).")] period: String,
        #[graphql(default_with = "GroupBy::Owner", desc = "One group per owner (default), team or pipeline.")]
        group_by: GroupBy,
    ) -> async_graphql::Result<Forecast> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_sales::reports::forecast(c, &actor, &period, group_by)).await.map_err(gql)
    }

    /// Win rate, deal size, cycle, velocity, funnel and activities of a period.
    async fn sales_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A quarter (`2026-Q4`), month (`2026-11`) or year (`2026`).")] period: String,
        #[graphql(desc = "Only this owner's deals and activities.")] owner_id: Option<UserId>,
        #[graphql(desc = "Only this pipeline's deals.")] pipeline_id: Option<PipelineId>,
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
        #[graphql(default = "me", desc = "`me` (the caller's user) or a user id.")] assignee: String,
        #[graphql(desc = "Due at or before: an RFC 3339 instant, or a date for its whole day.")] due_lte: Option<
            String,
        >,
        #[graphql(desc = "Due at or after: an RFC 3339 instant, or a date from its start.")] due_gte: Option<String>,
        #[graphql(desc = "A filter in the REST grammar; holds together with `where`.")] filter: Option<String>,
        #[graphql(name = "where", desc = "Which activities: typed conditions.")] where_: Option<super::Where<Activity>>,
        #[graphql(default = 50, desc = "Activities per page, 1 to 1000.")] first: i32,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(desc = "Sort keys in order; ties end by id.")] order_by: Option<Vec<super::OrderBy<Activity>>>,
    ) -> async_graphql::Result<ActivityConnection> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let count = ctx.look_ahead().field("totalCount").exists();
        let params = super::list_params(
            first,
            after,
            filter,
            where_.map(|w| w.filter),
            super::sort_of(order_by),
            None,
            super::ArchivedFilter::Exclude,
            count,
        )?;
        let agenda = crm_sales::activities::Agenda { assignee: Some(assignee), due_lte, due_gte };
        let page =
            r.db.run(move |c| crm_sales::activities::agenda(c, &actor, &params, &agenda))
                .await
                .map_err(super::gql_list)?;
        Ok(ActivityConnection {
            page_info: super::page_info(&page),
            total_count: page.total,
            nodes: page.data.into_iter().map(|inner| ActivityNode { inner }).collect(),
        })
    }

    /// The sales territories, in order; see `GET /territories`.
    async fn territories(&self, ctx: &Context<'_>) -> async_graphql::Result<crm_sales::leads::Territories> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_sales::leads::get_territories(c, &actor)).await.map_err(gql)
    }

    /// How new leads are assigned (round robin, by territory, …).
    async fn lead_assignment_rules(&self, ctx: &Context<'_>) -> async_graphql::Result<AssignmentRules> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_sales::leads::get_assignment_rules(c, &actor)).await.map_err(gql)
    }

    /// How leads are scored.
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
        #[graphql(desc = "The lead to convert.")] id: LeadId,
        #[graphql(desc = "What to create or link: account, contact, opportunity.")] input: ConvertInput,
    ) -> async_graphql::Result<ConvertResult> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_sales::leads::convert(c, &actor, id, input)).await.map_err(gql)
    }

    /// Completes an activity, optionally logging it as an interaction.
    async fn complete_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The activity to complete.")] id: ActivityId,
        #[graphql(default, desc = "The outcome, and whether to log an interaction.")] input: CompleteInput,
        #[graphql(desc = "Fail with `VERSION_CONFLICT` unless the activity is at this version.")]
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

    /// Replaces how new leads are assigned.
    async fn set_lead_assignment_rules(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new rules (they replace the old ones).")] rules: AssignmentRules,
    ) -> async_graphql::Result<AssignmentRules> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_sales::leads::set_assignment_rules(c, &actor, rules)).await.map_err(gql)
    }

    /// Replaces the sales territories; see `PUT /territories`.
    async fn set_territories(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new territories (they replace the old ones).")]
        territories: crm_sales::leads::Territories,
    ) -> async_graphql::Result<crm_sales::leads::Territories> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_sales::leads::set_territories(c, &actor, territories)).await.map_err(gql)
    }

    /// Replaces how leads are scored (open leads are rescored).
    async fn set_lead_scoring_rules(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new rules (they replace the old ones).")] rules: ScoringRules,
    ) -> async_graphql::Result<ScoringRules> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_sales::leads::set_scoring_rules(c, &actor, rules)).await.map_err(gql)
    }
}
