//! GraphQL of the geographic views: visit routes (the same service functions as
//! `POST /routes/plan` and `POST /routes`).

use async_graphql::{Context, Object, SimpleObject};
use crm_geo::routes::{self, RoutePlan, RoutePlanInput};

use super::{gql, rc};
use crate::registry::activities::ActivityNode;

#[derive(Default)]
pub struct GeoViewsQuery;

#[Object]
impl GeoViewsQuery {
    /// Plans a day of visits; see `POST /routes/plan`.
    async fn plan_route(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The start, the stops with their windows, the pace.")] input: RoutePlanInput,
    ) -> async_graphql::Result<RoutePlan> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| routes::plan(c, &actor, &input)).await.map_err(gql)
    }
}

/// A plan accepted, and the meetings it put on the agenda.
#[derive(SimpleObject)]
pub struct AcceptedRouteResult {
    pub plan: RoutePlan,
    pub activities: Vec<ActivityNode>,
}

#[derive(Default)]
pub struct GeoViewsMutation;

#[Object]
impl GeoViewsMutation {
    /// Plans a day of visits and puts each on the rep's agenda as a meeting; see `POST /routes`.
    async fn accept_route(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The start, the stops with their windows, the pace.")] input: RoutePlanInput,
    ) -> async_graphql::Result<AcceptedRouteResult> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let accepted = r.db.transaction(move |c| routes::accept(c, &actor, &input)).await.map_err(gql)?;
        Ok(AcceptedRouteResult {
            plan: accepted.plan,
            activities: accepted.activities.into_iter().map(|inner| ActivityNode { inner }).collect(),
        })
    }
}
