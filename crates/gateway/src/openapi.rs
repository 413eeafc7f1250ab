//! The OpenAPI document, assembled from the same route declarations the server mounts.

use actix_web::dev::{ServiceFactory, ServiceRequest};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::{AppExt, UtoipaApp, scope};

use crate::rest;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "CRM API",
        description = "A headless CRM back office. Conventions (pagination, filters, errors, versions): see docs/API-DESIGN.md.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::problem::Problem)),
    tags(
        (name = "accounts", description = "Companies and organisations"),
        (name = "contacts", description = "People"),
        (name = "users", description = "Staff: record owners, interaction authors, case assignees"),
        (name = "interactions", description = "The contact history: calls, emails, meetings, notes, visits, SMS, chats"),
        (name = "cases", description = "Support cases (inquiries, complaints, claims, tickets) and their comments"),
        (name = "products", description = "The product catalog"),
        (name = "purchases", description = "Orders customers placed: the products they own"),
        (name = "sales", description = "Sales-force automation: leads, pipelines, opportunities, activities, targets, quotas, forecast, reports"),
        (name = "changes", description = "The change feed: every committed write, in order"),
        (name = "operations", description = "Health and readiness")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        openapi.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

/// Every documented route, mounted on `$app` with `$scope` for `/api/v1`. Expanded twice from
/// this one list: on a `UtoipaApp` for the document, and on the plain actix `App` each server
/// worker builds (which so skips assembling a 580 KB document per worker).
macro_rules! mount_routes {
    ($app:expr, $scope:path) => {
        $app.service(rest::ops::healthz).service(rest::ops::readyz).service(
            $scope("/api/v1")
                .service(rest::changes::list_changes)
                .service(rest::accounts::batch_accounts)
                .service(rest::accounts::get_account_by_external_id)
                .service(rest::accounts::upsert_account)
                .service(rest::accounts::account_history)
                .service(rest::contacts::batch_contacts)
                .service(rest::contacts::get_contact_by_external_id)
                .service(rest::contacts::upsert_contact)
                .service(rest::contacts::contact_history)
                .service(rest::accounts::list_accounts)
                .service(rest::accounts::create_account)
                .service(rest::accounts::list_account_contacts)
                .service(rest::accounts::get_account)
                .service(rest::accounts::update_account)
                .service(rest::accounts::archive_account)
                .service(rest::accounts::restore_account)
                .service(rest::contacts::list_contacts)
                .service(rest::contacts::create_contact)
                .service(rest::contacts::get_contact)
                .service(rest::contacts::update_contact)
                .service(rest::contacts::archive_contact)
                .service(rest::contacts::restore_contact)
                .service(rest::users::get_me)
                .service(rest::users::batch_users)
                .service(rest::users::get_user_by_external_id)
                .service(rest::users::upsert_user)
                .service(rest::users::user_history)
                .service(rest::users::list_users)
                .service(rest::users::create_user)
                .service(rest::users::get_user)
                .service(rest::users::update_user)
                .service(rest::users::archive_user)
                .service(rest::users::restore_user)
                .service(rest::interactions::batch_interactions)
                .service(rest::interactions::get_interaction_by_external_id)
                .service(rest::interactions::upsert_interaction)
                .service(rest::interactions::interaction_history)
                .service(rest::interactions::list_interactions)
                .service(rest::interactions::create_interaction)
                .service(rest::interactions::get_interaction)
                .service(rest::interactions::update_interaction)
                .service(rest::interactions::archive_interaction)
                .service(rest::interactions::restore_interaction)
                .service(rest::cases::batch_cases)
                .service(rest::cases::get_case_by_external_id)
                .service(rest::cases::upsert_case)
                .service(rest::cases::case_history)
                .service(rest::cases::list_cases)
                .service(rest::cases::create_case)
                .service(rest::cases::get_case)
                .service(rest::cases::update_case)
                .service(rest::cases::archive_case)
                .service(rest::cases::restore_case)
                .service(rest::cases::get_sla_policy)
                .service(rest::cases::set_sla_policy)
                .service(rest::cases::list_case_comments)
                .service(rest::cases::add_case_comment)
                .service(rest::products::batch_products)
                .service(rest::products::get_product_by_external_id)
                .service(rest::products::upsert_product)
                .service(rest::products::product_history)
                .service(rest::products::list_products)
                .service(rest::products::create_product)
                .service(rest::products::get_product)
                .service(rest::products::update_product)
                .service(rest::products::archive_product)
                .service(rest::products::restore_product)
                .service(rest::purchases::batch_purchases)
                .service(rest::purchases::get_purchase_by_external_id)
                .service(rest::purchases::upsert_purchase)
                .service(rest::purchases::purchase_history)
                .service(rest::purchases::list_purchases)
                .service(rest::purchases::create_purchase)
                .service(rest::purchases::get_purchase)
                .service(rest::purchases::update_purchase)
                .service(rest::purchases::archive_purchase)
                .service(rest::purchases::restore_purchase)
                .service(rest::customers::contact_timeline)
                .service(rest::customers::account_timeline)
                .service(rest::customers::contact_summary)
                .service(rest::customers::account_summary)
                .service(rest::sales::capture_lead)
                .service(rest::sales::convert_lead)
                .service(rest::sales::get_assignment_rules)
                .service(rest::sales::set_assignment_rules)
                .service(rest::sales::get_scoring_rules)
                .service(rest::sales::set_scoring_rules)
                .service(rest::sales::opportunity_stages)
                .service(rest::sales::opportunity_assessment)
                .service(rest::sales::target_list_coverage)
                .service(rest::sales::forecast)
                .service(rest::sales::sales_report)
                .service(rest::activities::complete_activity)
                .service(rest::leads::batch_leads)
                .service(rest::leads::get_lead_by_external_id)
                .service(rest::leads::upsert_lead)
                .service(rest::leads::lead_history)
                .service(rest::leads::list_leads)
                .service(rest::leads::create_lead)
                .service(rest::leads::get_lead)
                .service(rest::leads::update_lead)
                .service(rest::leads::archive_lead)
                .service(rest::leads::restore_lead)
                .service(rest::pipelines::batch_pipelines)
                .service(rest::pipelines::get_pipeline_by_external_id)
                .service(rest::pipelines::upsert_pipeline)
                .service(rest::pipelines::pipeline_history)
                .service(rest::pipelines::list_pipelines)
                .service(rest::pipelines::create_pipeline)
                .service(rest::pipelines::get_pipeline)
                .service(rest::pipelines::update_pipeline)
                .service(rest::pipelines::archive_pipeline)
                .service(rest::pipelines::restore_pipeline)
                .service(rest::opportunities::batch_opportunities)
                .service(rest::opportunities::get_opportunity_by_external_id)
                .service(rest::opportunities::upsert_opportunity)
                .service(rest::opportunities::opportunity_history)
                .service(rest::opportunities::list_opportunities)
                .service(rest::opportunities::create_opportunity)
                .service(rest::opportunities::get_opportunity)
                .service(rest::opportunities::update_opportunity)
                .service(rest::opportunities::archive_opportunity)
                .service(rest::opportunities::restore_opportunity)
                .service(rest::activities::batch_activities)
                .service(rest::activities::get_activity_by_external_id)
                .service(rest::activities::upsert_activity)
                .service(rest::activities::activity_history)
                .service(rest::activities::list_activities)
                .service(rest::activities::create_activity)
                .service(rest::activities::get_activity)
                .service(rest::activities::update_activity)
                .service(rest::activities::archive_activity)
                .service(rest::activities::restore_activity)
                .service(rest::target_lists::batch_target_lists)
                .service(rest::target_lists::get_target_list_by_external_id)
                .service(rest::target_lists::upsert_target_list)
                .service(rest::target_lists::target_list_history)
                .service(rest::target_lists::list_target_lists)
                .service(rest::target_lists::create_target_list)
                .service(rest::target_lists::get_target_list)
                .service(rest::target_lists::update_target_list)
                .service(rest::target_lists::archive_target_list)
                .service(rest::target_lists::restore_target_list)
                .service(rest::quotas::batch_quotas)
                .service(rest::quotas::get_quota_by_external_id)
                .service(rest::quotas::upsert_quota)
                .service(rest::quotas::quota_history)
                .service(rest::quotas::list_quotas)
                .service(rest::quotas::create_quota)
                .service(rest::quotas::get_quota)
                .service(rest::quotas::update_quota)
                .service(rest::quotas::archive_quota)
                .service(rest::quotas::restore_quota),
        )
    };
}

/// Mounts every route for the document.
fn mount<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    mount_routes!(app, scope::scope)
}

/// Mounts every route on a server worker's app: the same list as the document's.
pub fn mount_plain<T>(app: actix_web::App<T>) -> actix_web::App<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    mount_routes!(app, actix_web::web::scope)
}

impl ApiDoc {
    /// The base document (paths are added by `mount`).
    pub fn openapi_doc() -> utoipa::openapi::OpenApi {
        let mut doc = <ApiDoc as OpenApi>::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        doc
    }
}

/// The OpenAPI document of this build.
pub fn document() -> utoipa::openapi::OpenApi {
    let doc = ApiDoc::openapi_doc();
    let (_, api) = mount(actix_web::App::new().into_utoipa_app().openapi(doc)).split_for_parts();
    api
}

/// The document as served at `/openapi.json` (compact), built once per process.
pub fn document_bytes() -> Result<actix_web::web::Bytes, String> {
    document().to_json().map(actix_web::web::Bytes::from).map_err(|e| e.to_string())
}

/// The document as committed in `openapi/openapi.json`.
pub fn document_json() -> String {
    let mut s = document().to_pretty_json().unwrap_or_default();
    s.push('\n');
    s
}
