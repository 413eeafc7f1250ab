//! The OpenAPI document, assembled from the same route declarations the server mounts.

use actix_web::dev::{ServiceFactory, ServiceRequest};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::{AppExt, UtoipaApp, scope};

use crate::rest;

mod contract;
pub mod custom_fields;

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
        (name = "campaigns", description = "Campaign management: segments (target groups), campaigns, members with consent enforced per channel, responses, statistics"),
        (name = "geo", description = "Geographic CRM: region snapshots on a hexagonal grid, bulk geocoding, visit suggestions and routes for field reps (radius and box search are list parameters)"),
        (name = "analytics", description = "Analytical CRM: RFM segments, customer value and margins, predicted lifetime value (BG/NBD, Gamma-Gamma), churn drift, refreshed as a job"),
        (name = "duplicates", description = "Duplicate detection: normalized and transliterated names, fuzzy matching within blocks, configurable rules, a scan of the whole base"),
        (name = "exports", description = "Any list as CSV or NDJSON: streamed when small, as a job with a file kept a day when large; every export logged"),
        (name = "imports", description = "Bulk imports of CSV and NDJSON files as resumable jobs: progress, per-row error reports, saved column mappings"),
        (name = "jobs", description = "Background jobs (bulk geocoding, analytics refreshes, …): status, counts, percent and time left"),
        (name = "schema", description = "Custom fields: typed fields administrators add to accounts, contacts, leads, opportunities, cases and products"),
        (name = "automation", description = "Workflow automation: rules that act on records when events happen, on a clock or on a selection; sequences, approvals, dry runs and a run log"),
        (name = "webhooks", description = "Webhooks: signed, at-least-once delivery of the change feed's events to your URLs, with a delivery log"),
        (name = "sharing", description = "Record visibility: each owned resource's sharing level (public, team, private) and shares of one record with a user or a team"),
        (name = "api-keys", description = "API keys for integrators' scripts: scopes within their creator's, expiry, allowed networks, own rate limits, revoked at once"),
        (name = "changes", description = "The change feed: every committed write, in order"),
        (name = "privacy", description = "Consent records per person, purpose and channel; data-subject requests (access bundle, erasure, restriction of processing) as jobs; legal holds that block erasure"),
        (name = "audit", description = "The audit log: permission changes, API key use and refusals, exports, imports, archives and merges; append-only"),
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
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("a JWT, or an API key (crm_live_…)")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Header(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    "X-Api-Key",
                    "An API key (crm_live_…) created under /api/v1/api-keys",
                ),
            )),
        );
        openapi.security = Some(vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("api_key", Vec::<String>::new()),
        ]);
    }
}

/// Every documented route, mounted on `$app` with `$scope` for `/api/v1`: the use cases that
/// are not one resource's CRUD (mounted first: `/leads/capture` must not reach `/leads/{id}`),
/// then every resource of the registry (`$resources`). Expanded twice from this one list: on a
/// `UtoipaApp` for the document, and on the plain actix `App` each server worker builds (which
/// so skips assembling the document per worker).
macro_rules! mount_routes {
    ($app:expr, $scope:path, $resources:path) => {
        $app.service(rest::ops::healthz).service(rest::ops::readyz).service(crate::metrics::metrics).service(
            $resources(
                $scope("/api/v1")
                    .service(rest::changes::feed_head)
                    .service(rest::changes::list_changes)
                    .service(rest::accounts::list_account_contacts)
                    .service(rest::duplicates::contact_duplicates)
                    .service(rest::duplicates::account_duplicates)
                    .service(rest::duplicates::merge_contacts)
                    .service(rest::duplicates::merge_accounts)
                    .service(rest::duplicates::merge_leads)
                    .service(rest::duplicates::duplicate_pairs)
                    .service(rest::duplicates::start_duplicate_scan)
                    .service(rest::duplicates::get_duplicate_settings)
                    .service(rest::duplicates::set_duplicate_settings)
                    .service(rest::users::get_me)
                    .service(rest::cases::get_sla_policy)
                    .service(rest::cases::set_sla_policy)
                    .service(rest::cases::list_case_comments)
                    .service(rest::cases::add_case_comment)
                    .service(rest::customers::contact_timeline)
                    .service(rest::customers::account_timeline)
                    .service(rest::customers::contact_summary)
                    .service(rest::customers::account_summary)
                    .service(rest::sales::capture_lead)
                    .service(rest::sales::convert_lead)
                    .service(rest::sales::get_assignment_rules)
                    .service(rest::sales::set_assignment_rules)
                    .service(rest::sales::get_territories)
                    .service(rest::sales::set_territories)
                    .service(rest::sales::get_scoring_rules)
                    .service(rest::sales::set_scoring_rules)
                    .service(rest::sales::opportunity_stages)
                    .service(rest::sales::opportunity_assessment)
                    .service(rest::sales::target_list_coverage)
                    .service(rest::sales::forecast)
                    .service(rest::sales::sales_report)
                    .service(rest::activities::complete_activity)
                    .service(rest::campaigns::campaign_comparison)
                    .service(rest::campaigns::preview_segment)
                    .service(rest::campaigns::segment_members)
                    .service(rest::campaigns::retake_snapshot)
                    .service(rest::campaigns::campaign_members)
                    .service(rest::campaigns::add_campaign_members)
                    .service(rest::campaigns::remove_campaign_member)
                    .service(rest::campaigns::campaign_member_history)
                    .service(rest::campaigns::record_campaign_responses)
                    .service(rest::campaigns::campaign_stats)
                    .service(rest::campaigns::campaign_trend)
                    .service(rest::campaigns::campaign_messages)
                    .service(rest::campaigns::campaign_sending)
                    .service(rest::campaigns::retry_unknown_messages)
                    .service(rest::campaigns::preview_email_template)
                    .service(rest::campaigns::campaign_mailing_csv)
                    .service(rest::campaigns::campaign_mailing_labels)
                    .service(rest::campaigns::campaign_mailing_posted)
                    .service(rest::campaigns::import_campaign_responses)
                    .service(rest::emails::send_email)
                    .service(rest::emails::receive_email)
                    .service(rest::routes::region_snapshot)
                    .service(rest::routes::start_geocoding)
                    .service(rest::jobs::get_job)
                    .service(rest::analytics::account_analytics)
                    .service(rest::analytics::contact_analytics)
                    .service(rest::analytics::analytics_customers)
                    .service(rest::analytics::analytics_segments)
                    .service(rest::analytics::analytics_trends)
                    .service(rest::analytics::analytics_model)
                    .service(rest::analytics::product_associations)
                    .service(rest::analytics::list_alerts)
                    .service(rest::analytics::acknowledge_alert)
                    .service(rest::analytics::dismiss_alert)
                    .service(rest::analytics::account_next_best_actions)
                    .service(rest::analytics::contact_next_best_actions)
                    .service(rest::analytics::account_voice)
                    .service(rest::analytics::contact_voice)
                    .service(rest::analytics::track_web)
                    .service(rest::analytics::identify_visitor)
                    .service(rest::analytics::contact_web_activity)
                    .service(rest::analytics::start_analytics_refresh)
                    .service(rest::analytics::get_analytics_settings)
                    .service(rest::analytics::set_analytics_settings)
                    .service(rest::jobs::list_jobs)
                    .service(rest::imports::start_import)
                    .service(rest::imports::list_imports)
                    .service(rest::imports::get_import)
                    .service(rest::imports::cancel_import)
                    .service(rest::imports::import_errors)
                    .service(rest::imports::list_import_mappings)
                    .service(rest::imports::save_import_mapping)
                    .service(rest::exports::start_export)
                    .service(rest::exports::stream_export)
                    .service(rest::exports::list_exports)
                    .service(rest::exports::get_export)
                    .service(rest::exports::download_export)
                    .service(rest::routes::visit_suggestions)
                    .service(rest::routes::plan_route)
                    .service(rest::routes::accept_route)
                    .service(rest::schema::list_resource_fields)
                    .service(rest::schema::create_resource_field)
                    .service(rest::webhooks::list_deliveries)
                    .service(rest::webhooks::get_delivery)
                    .service(rest::webhooks::redeliver)
                    .service(rest::webhooks::redeliver_since)
                    .service(rest::webhooks::rotate_secret)
                    .service(rest::webhooks::ping)
                    .service(rest::automation::list_automation_runs)
                    .service(rest::automation::get_automation_run)
                    .service(rest::automation::dry_run_automation_rule)
                    .service(rest::automation::run_automation_rule)
                    .service(rest::automation::list_automation_approvals)
                    .service(rest::automation::get_automation_approval)
                    .service(rest::automation::decide_automation_approval)
                    .service(rest::audit::list_audit)
                    .service(rest::privacy::start_privacy_request)
                    .service(rest::privacy::list_privacy_requests)
                    .service(rest::privacy::get_privacy_request)
                    .service(rest::privacy::download_privacy_bundle)
                    .service(rest::privacy::list_restrictions)
                    .service(rest::privacy::dry_run_retention_policy)
                    .service(rest::privacy::run_retention_policy),
            ),
        )
    };
}

/// Mounts every route for the document.
fn mount<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    mount_routes!(app, scope::scope, crate::registry::mount_doc)
}

/// Mounts every route on a server worker's app: the same list as the document's.
pub fn mount_plain<T>(app: actix_web::App<T>) -> actix_web::App<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    mount_routes!(app, actix_web::web::scope, crate::registry::mount_plain)
}

impl ApiDoc {
    /// The base document (paths are added by `mount`).
    pub fn openapi_doc() -> utoipa::openapi::OpenApi {
        let mut doc = <ApiDoc as OpenApi>::openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        doc
    }
}

/// The OpenAPI document of this build: the routes' annotations, completed with what every
/// operation shares (`contract`).
pub fn document() -> serde_json::Value {
    let doc = ApiDoc::openapi_doc();
    let (_, api) = mount(actix_web::App::new().into_utoipa_app().openapi(doc)).split_for_parts();
    let mut doc = serde_json::to_value(&api).unwrap_or_default();
    contract::complete(&mut doc);
    custom_fields::apply(&mut doc, &[]);
    doc
}

/// The document as served at `/openapi.json` (compact): this build's, with the custom fields
/// of these definitions typed.
pub fn served_bytes(fields: &[crm_records::custom::CustomField]) -> Result<actix_web::web::Bytes, String> {
    serde_json::to_vec(&with_custom_fields(fields)).map(actix_web::web::Bytes::from).map_err(|e| e.to_string())
}

/// This build's document with the custom fields of these definitions typed.
pub fn with_custom_fields(fields: &[crm_records::custom::CustomField]) -> serde_json::Value {
    static BASE: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    let mut doc = BASE.get_or_init(document).clone();
    custom_fields::apply(&mut doc, fields);
    doc
}

/// The document as committed in `openapi/openapi.json`.
pub fn document_json() -> String {
    let mut s = serde_json::to_string_pretty(&document()).unwrap_or_default();
    s.push('\n');
    s
}

/// The methods each path template answers, for `405 Method Not Allowed` (with `Allow`) on a known
/// path: the documented operations plus the GraphQL and document routes.
pub fn allowed_methods(path: &str) -> Option<Vec<&'static str>> {
    static ROUTES: std::sync::OnceLock<Vec<(Vec<String>, Vec<&'static str>)>> = std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        let doc = document();
        let mut routes: Vec<(Vec<String>, Vec<&'static str>)> = vec![
            (segments("/graphql"), vec!["GET", "POST"]),
            (segments("/graphql/assets/{file}"), vec!["GET"]),
            (segments("/openapi.json"), vec!["GET"]),
        ];
        for (template, item) in doc["paths"].as_object().into_iter().flatten() {
            let methods = ["GET", "PUT", "POST", "PATCH", "DELETE"]
                .into_iter()
                .filter(|m| item.get(m.to_ascii_lowercase()).is_some())
                .collect();
            routes.push((segments(template), methods));
        }
        routes
    });
    let parts = segments(path);
    // The templates the path matches, most literal first: `/users/me` is not `/users/{id}`.
    let literal = |t: &[String]| t.iter().filter(|s| !s.starts_with('{')).count();
    routes
        .iter()
        .filter(|(t, _)| t.len() == parts.len() && t.iter().zip(&parts).all(|(t, p)| t.starts_with('{') || t == p))
        .max_by_key(|(t, _)| literal(t))
        .map(|(_, methods)| methods.clone())
}

/// The query parameters a documented operation takes, by method and route template
/// (`/api/v1/contacts/{id}`); `None` for a route the document does not describe.
pub fn query_params(method: &str, template: &str) -> Option<&'static [String]> {
    // Template, then method: looked up by `&str` on every authenticated request, no allocation.
    type Params = std::collections::HashMap<String, std::collections::HashMap<String, Vec<String>>>;
    static PARAMS: std::sync::OnceLock<Params> = std::sync::OnceLock::new();
    let params = PARAMS.get_or_init(|| {
        let doc = document();
        let mut out = Params::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (m, op) in item.as_object().into_iter().flatten() {
                let names = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .collect();
                out.entry(path.clone()).or_default().insert(m.to_ascii_uppercase(), names);
            }
        }
        out
    });
    params.get(template)?.get(method).map(Vec::as_slice)
}

/// The first query parameter the request's operation does not take, with those it takes.
pub fn unknown_query_param(req: &actix_web::HttpRequest) -> Option<(String, &'static [String])> {
    let query = req.query_string();
    if query.is_empty() {
        return None;
    }
    let known = query_params(req.method().as_str(), &req.match_pattern()?)?;
    let unknown =
        form_urlencoded::parse(query.as_bytes()).map(|(name, _)| name).find(|name| !known.iter().any(|k| k == name))?;
    // A literal path that only looked like a template (`PATCH /segments/preview` reaching
    // `/segments/{id}`) is the method's error (405), not its parameters'.
    if !allowed_methods(req.path()).is_some_and(|m| m.contains(&req.method().as_str())) {
        return None;
    }
    Some((unknown.into_owned(), known))
}

fn segments(path: &str) -> Vec<String> {
    path.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect()
}
