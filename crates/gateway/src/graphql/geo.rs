//! GraphQL of the geographic views: region snapshots and visit routes (the same service
//! functions as `GET /geo/snapshot`, `POST /routes/plan` and `POST /routes`).

use async_graphql::{Context, InputObject, Object, SimpleObject};
use crm_geo::routes::{self, RoutePlan, RoutePlanInput};
use crm_geo::snapshot::{RegionSnapshot, SnapshotQuery};
use crm_geo::suggest::{SuggestQuery, VisitSuggestion};

use super::{gql, rc};
use crate::registry::activities::ActivityNode;

#[derive(Default)]
pub struct GeoViewsQuery;

/// A box in degrees (`west` greater than `east` crosses the antimeridian).
#[derive(InputObject)]
pub struct RegionBoxInput {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
}

/// A circle: a point and a radius in metres.
#[derive(InputObject)]
pub struct RegionCircleInput {
    pub latitude: f64,
    pub longitude: f64,
    pub radius_m: f64,
}

impl RegionCircleInput {
    /// As the `near` parameters write it.
    fn as_text(&self) -> String {
        format!("{:?},{:?},{:?}m", self.latitude, self.longitude, self.radius_m)
    }
}

/// One region: a box, a circle, or a country narrowed to a region and a city.
#[derive(InputObject)]
pub struct RegionInput {
    pub bbox: Option<RegionBoxInput>,
    pub near: Option<RegionCircleInput>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
}

#[Object]
impl GeoViewsQuery {
    /// Who is in a region and what they are worth, in all and per hexagonal cell; see
    /// `GET /geo/snapshot`.
    async fn region_snapshot(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A box, a circle, or a country narrowed to a region and a city.")] region: RegionInput,
        #[graphql(desc = "The period of `revenue`: `2026`, `2026-Q4` or `2026-11` (default the current year).")]
        period: Option<String>,
        #[graphql(desc = "The H3 resolution of the grid, 0 to 15; no grid without it.")] resolution: Option<u8>,
    ) -> async_graphql::Result<RegionSnapshot> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let q = SnapshotQuery {
            bbox: region.bbox.map(|b| format!("{:?},{:?},{:?},{:?}", b.south, b.west, b.north, b.east)),
            near: region.near.map(|n| n.as_text()),
            country: region.country,
            region: region.region,
            city: region.city,
            period,
            resolution,
        };
        r.db.run(move |c| crm_geo::snapshot::snapshot(c, &actor, &q)).await.map_err(gql)
    }

    /// The rep's accounts worth a visit near a base, best first; see `GET /routes/suggestions`.
    async fn visit_suggestions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The base and the reach.")] near: RegionCircleInput,
        #[graphql(desc = "The rep (default: the caller's user).")] owner_id: Option<crm_core::ids::UserId>,
        #[graphql(desc = "1 to 100 (default 20).")] limit: Option<u32>,
    ) -> async_graphql::Result<Vec<VisitSuggestion>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let q = SuggestQuery { near: near.as_text(), owner_id, limit };
        r.db.run(move |c| crm_geo::suggest::suggest(c, &actor, &q)).await.map_err(gql)
    }

    /// A background job and its progress; see `GET /jobs/{id}`.
    async fn job(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The job's id.")] id: crm_core::ids::JobId,
    ) -> async_graphql::Result<crm_records::jobs::Job> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_records::jobs::get(c, &actor, id)).await.map_err(gql)
    }

    /// The newest jobs the caller started (all for admins); see `GET /jobs`.
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only jobs of this kind (`geocode`).")] kind: Option<String>,
        #[graphql(desc = "1 to 100 (default 20).")] limit: Option<u32>,
    ) -> async_graphql::Result<Vec<crm_records::jobs::Job>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_records::jobs::list(c, &actor, kind.as_deref(), limit)).await.map_err(gql)
    }

    /// Plans a day of visits; see `POST /routes/plan`.
    async fn plan_route(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The start, the stops with their windows, the pace.")] input: RoutePlanInput,
    ) -> async_graphql::Result<RoutePlan> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.blocking(move |db| routes::plan(db, &actor, &input)).await.map_err(gql)
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
    /// Starts a bulk geocoding as a background job; see `POST /geo/geocode`.
    async fn start_geocoding(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "The resources (default all), and whether to look up geocoded records again.")]
        input: crm_geo::geocoding::GeocodeInput,
    ) -> async_graphql::Result<crm_records::jobs::Job> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.write(move |c| crm_geo::geocoding::start(c, &actor, &input)).await.map_err(gql)
    }

    /// Plans a day of visits and puts each on the rep's agenda as a meeting; see `POST /routes`.
    async fn accept_route(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The start, the stops with their windows, the pace.")] input: RoutePlanInput,
    ) -> async_graphql::Result<AcceptedRouteResult> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let accepted = r.db.blocking(move |db| routes::accept(db, &actor, &input)).await.map_err(gql)?;
        Ok(AcceptedRouteResult {
            plan: accepted.plan,
            activities: accepted.activities.into_iter().map(|inner| ActivityNode { inner }).collect(),
        })
    }
}
