//! GraphQL of the analytics (the same service functions as `/api/v1/analytics/…`).

use async_graphql::{Context, Object};
use crm_analytics::actions::NextBestActions;
use crm_analytics::alerts::{Alert, AlertKind, AlertPage, AlertStatus, AlertsQuery};
use crm_analytics::read::{
    AnalyticsModel, AssociationsQuery, CustomerAnalysisPage, CustomerTrends, CustomersQuery, ProductAssociation,
    Segmentation,
};
use crm_analytics::trends::Dimension;
use crm_analytics::{AnalyticsSettings, CustomerAnalysis, CustomerType, RefreshInput, RfmSegment};
use crm_core::ids::{AlertId, ContactId};

use super::{gql, rc};

#[derive(Default)]
pub struct AnalyticsQuery;

#[Object]
impl AnalyticsQuery {
    /// One customer's analysis; see `GET /accounts/{id}/analytics`.
    async fn customer_analysis(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An account, or a contact buying without one.")] customer_type: CustomerType,
        #[graphql(desc = "The account's or contact's id.")] id: uuid::Uuid,
        #[graphql(default, desc = "Compute it now against the latest refresh's model.")] fresh: bool,
    ) -> async_graphql::Result<CustomerAnalysis> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let customer = customer_type.customer(id);
        r.db.run(move |c| crm_analytics::read::customer(c, &actor, customer, fresh)).await.map_err(gql)
    }

    /// The analysed customers, ranked; see `GET /analytics/customers`.
    #[allow(clippy::too_many_arguments)]
    async fn analysed_customers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this RFM segment.")] segment: Option<RfmSegment>,
        #[graphql(desc = "Only drifting customers, or only the others.")] drifting: Option<bool>,
        #[graphql(desc = "Only dormant customers, or only the others.")] dormant: Option<bool>,
        #[graphql(desc = "Only this main currency.")] currency: Option<String>,
        #[graphql(desc = "Only accounts or only contacts.")] customer_type: Option<CustomerType>,
        #[graphql(desc = "`predicted_clv`, `revenue`, `margin`, `recency_days`, `probability_alive`; `-` descends.")]
        sort: Option<String>,
        #[graphql(desc = "1 to 200 (default 50).")] limit: Option<u32>,
        #[graphql(desc = "The previous page's `nextCursor`.")] cursor: Option<String>,
    ) -> async_graphql::Result<CustomerAnalysisPage> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let q = CustomersQuery { segment, drifting, dormant, currency, customer_type, sort, limit, cursor };
        r.db.run(move |c| crm_analytics::read::customers(c, &actor, &q)).await.map_err(gql)
    }

    /// The base by a dimension; see `GET /analytics/segments`.
    async fn customer_segmentation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Default `SEGMENT` (RFM).")] by: Option<Dimension>,
    ) -> async_graphql::Result<Segmentation> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_analytics::read::segments(c, &actor, by)).await.map_err(gql)
    }

    /// Monthly revenue, margin, orders and customers per group; see `GET /analytics/trends`.
    async fn customer_trends(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Default `SEGMENT` (RFM).")] by: Option<Dimension>,
    ) -> async_graphql::Result<CustomerTrends> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_analytics::read::trends(c, &actor, by)).await.map_err(gql)
    }

    /// The latest refresh's model; see `GET /analytics/model`.
    async fn analytics_model(&self, ctx: &Context<'_>) -> async_graphql::Result<AnalyticsModel> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_analytics::read::model(c, &actor)).await.map_err(gql)
    }

    /// The product associations (cross-sell rules); see `GET /analytics/associations`.
    async fn product_associations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only the rules from this product.")] product_id: Option<uuid::Uuid>,
        #[graphql(desc = "`-lift` (default), `-confidence` or `-support`.")] sort: Option<String>,
        #[graphql(desc = "1 to 500 (default 100).")] limit: Option<u32>,
    ) -> async_graphql::Result<Vec<ProductAssociation>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let q = AssociationsQuery { product_id, sort, limit };
        r.db.run(move |c| crm_analytics::read::associations(c, &actor, &q)).await.map_err(gql)
    }

    /// Sales-intelligence alerts, newest first; see `GET /alerts`.
    #[allow(clippy::too_many_arguments)]
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`me`, `none` or a user id.")] owner: Option<String>,
        #[graphql(desc = "Default `OPEN`.")] status: Option<AlertStatus>,
        #[graphql(desc = "Only alerts of this kind.")] kind: Option<AlertKind>,
        #[graphql(desc = "Only the alerts about this customer.")] customer_id: Option<uuid::Uuid>,
        #[graphql(desc = "1 to 200 (default 50).")] limit: Option<u32>,
        #[graphql(desc = "The previous page's `nextCursor`.")] cursor: Option<String>,
    ) -> async_graphql::Result<AlertPage> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let q = AlertsQuery { owner, status, kind, customer_id, limit, cursor };
        r.db.run(move |c| crm_analytics::alerts::list(c, &actor, &q)).await.map_err(gql)
    }

    /// A customer's next best actions now; see `GET /accounts/{id}/next-best-actions`.
    async fn next_best_actions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An account or a contact.")] customer_type: CustomerType,
        #[graphql(desc = "The account's or contact's id.")] id: uuid::Uuid,
    ) -> async_graphql::Result<NextBestActions> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let customer = customer_type.customer(id);
        r.db.run(move |c| crm_analytics::actions::next_best_actions(c, &actor, customer)).await.map_err(gql)
    }

    /// A customer's voice: cases, complaints, CSAT and NPS, per month; see
    /// `GET /accounts/{id}/voice`.
    async fn customer_voice(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An account or a contact.")] customer_type: CustomerType,
        #[graphql(desc = "The account's or contact's id.")] id: uuid::Uuid,
    ) -> async_graphql::Result<crm_analytics::voice::VoiceOfCustomer> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let customer = customer_type.customer(id);
        r.db.run(move |c| crm_analytics::voice::voice(c, &actor, customer)).await.map_err(gql)
    }

    /// A contact's behaviour on the web; see `GET /contacts/{id}/web-activity`.
    async fn web_activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact's id.")] contact_id: ContactId,
    ) -> async_graphql::Result<crm_analytics::web::WebActivity> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_analytics::web::activity(c, &actor, contact_id)).await.map_err(gql)
    }

    /// The analysis settings; see `GET /analytics/settings`.
    async fn analytics_settings(&self, ctx: &Context<'_>) -> async_graphql::Result<AnalyticsSettings> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| crm_analytics::settings::get(c, &actor)).await.map_err(gql)
    }
}

#[derive(Default)]
pub struct AnalyticsMutation;

#[Object]
impl AnalyticsMutation {
    /// Starts a refresh of the whole base as a background job; see `POST /analytics/refresh`.
    async fn start_analytics_refresh(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Analyse the base as it was at a past moment (default now).")] input: RefreshInput,
    ) -> async_graphql::Result<crm_records::jobs::Job> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.write(move |c| crm_analytics::refresh::start(c, &actor, &input)).await.map_err(gql)
    }

    /// Acknowledges an open alert; see `POST /alerts/{id}/acknowledge`.
    async fn acknowledge_alert(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The alert's id.")] id: AlertId,
    ) -> async_graphql::Result<Alert> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_analytics::alerts::close(c, &actor, id, AlertStatus::Acknowledged))
            .await
            .map_err(gql)
    }

    /// Dismisses an open alert; see `POST /alerts/{id}/dismiss`.
    async fn dismiss_alert(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The alert's id.")] id: AlertId,
    ) -> async_graphql::Result<Alert> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_analytics::alerts::close(c, &actor, id, AlertStatus::Dismissed))
            .await
            .map_err(gql)
    }

    /// Takes a batch of web events; see `POST /web/events`.
    async fn track_web(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "1 to 500 events.")] input: crm_analytics::web::TrackInput,
    ) -> async_graphql::Result<crm_analytics::web::Tracked> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_analytics::web::track(c, &actor, input)).await.map_err(gql)
    }

    /// Identifies a visitor as a contact; see `POST /web/identify`.
    async fn identify_visitor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The visitor and the contact it is.")] input: crm_analytics::web::IdentifyInput,
    ) -> async_graphql::Result<crm_analytics::web::Identified> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.transaction(move |c| crm_analytics::web::identify(c, &actor, input)).await.map_err(gql)
    }

    /// Replaces the analysis settings; see `PUT /analytics/settings`.
    async fn set_analytics_settings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The settings (absent fields take their defaults).")] settings: AnalyticsSettings,
    ) -> async_graphql::Result<AnalyticsSettings> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.write(move |c| crm_analytics::settings::set(c, &actor, settings)).await.map_err(gql)
    }
}
