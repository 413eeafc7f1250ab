//! Endpoints shared by every resource with the integrator's write contract.

/// The integrator endpoints every resource has (batch, upsert and read by external id,
/// history), declared once. Each invocation names the resource's types, paths and services;
/// the invoking module imports `actix_web::{get, post, put}` (utoipa reads those attribute names).
#[macro_export]
macro_rules! sync_endpoints {
    (
        tag: $tag:literal,
        record: $T:ty, input: $Input:ty, patch: $Patch:ty, id: $Id:ty, op: $Op:ty, error: $Err:ty,
        location: $location:path,
        batch: $batch_fn:ident at $batch_path:literal via $batch_svc:path, doc types $BO:ident, $BR:ident;
        by_external_id: $get_ext_fn:ident, $upsert_fn:ident at $ext_path:literal via $get_ext_svc:path, $upsert_svc:path;
        history: $history_fn:ident at $history_path:literal via $history_svc:path;
    ) => {
        /// One operation of a batch (documentation of the wire shape).
        #[derive(serde::Deserialize, utoipa::ToSchema)]
        #[serde(tag = "op", rename_all = "snake_case")]
        #[allow(dead_code)]
        pub enum $BO {
            Create { data: $Input },
            Update { id: uuid::Uuid, data: $Patch, expected_version: Option<i64> },
            Upsert { external_id: crm_core::ExternalId, data: $Patch },
            Delete { id: uuid::Uuid, expected_version: Option<i64> },
        }

        /// A batch: up to 1000 operations; `atomic` makes it all-or-nothing.
        #[derive(serde::Deserialize, utoipa::ToSchema)]
        #[allow(dead_code)]
        pub struct $BR {
            /// Applied in order.
            #[schema(min_items = 1, max_items = 1000)]
            operations: Vec<$BO>,
            /// All or none (one transaction); by default each operation stands alone.
            #[serde(default)]
            atomic: bool,
            /// Run the checks a create by hand gets (a likely duplicate) on every record the
            /// batch creates, and report each in its result's `possible_duplicate` instead of
            /// refusing it. Off by default: a few lookups per created record.
            #[serde(default)]
            report_duplicates: bool,
        }

        /// Run up to 1000 creates, updates, upserts and deletes in one call.
        ///
        /// Each operation is answered in order with the status it would have had alone. With
        /// `"atomic": true` the whole batch is one transaction: the first failure answers with its
        /// problem (`operation_index`, fields prefixed `operations[i].`) and nothing is applied.
        #[utoipa::path(
            tag = $tag,
            request_body = $BR,
            responses(
                (status = 200, body = $crate::rest::BatchResponse),
                (status = 400, body = $crate::problem::Problem), (status = 401, body = $crate::problem::Problem), (status = 403, body = $crate::problem::Problem),
                (status = 413, description = "More than 1000 operations", body = $crate::problem::Problem),
                (status = 422, description = "An atomic batch failed", body = $crate::problem::Problem)
            )
        )]
        #[post($batch_path)]
        pub async fn $batch_fn(
            state: actix_web::web::Data<$crate::app::AppState>,
            auth: $crate::auth::Authenticated,
            body: $crate::rest::Json<$crate::rest::BatchBody<$Op>>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            let body = body.after(auth.0.require(<$T as crm_records::Record>::WRITE))?;
            body.check()?;
            let actor = auth.0;
            let (atomic, report) = (body.atomic, body.report_duplicates);
            let outcome = state
                .db
                .bulk_transaction(move |c| -> Result<_, $crate::rest::Aborted<$Err>> {
                    $batch_svc(c, &actor, body.operations, atomic, report).map_err(|(i, e)| $crate::rest::Aborted(i, e))
                })
                .await;
            Ok(actix_web::HttpResponse::Ok().json($crate::rest::batch_reply(outcome)?))
        }

        /// Get the record that carries an external id.
        #[utoipa::path(
            tag = $tag,
            params(("source" = String, Path, description = "Source system, e.g. erp"), ("external_id" = String, Path, description = "Id in that system")),
            responses(
                (status = 200, body = $T, headers(("ETag" = String))),
                (status = 401, body = $crate::problem::Problem), (status = 403, body = $crate::problem::Problem), (status = 404, body = $crate::problem::Problem)
            )
        )]
        #[get($ext_path)]
        pub async fn $get_ext_fn(
            req: actix_web::HttpRequest,
            state: actix_web::web::Data<$crate::app::AppState>,
            auth: $crate::auth::Authenticated,
            path: actix_web::web::Path<(String, String)>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            let (source, id) = path.into_inner();
            let actor = auth.0;
            let ext = crm_core::ExternalId { source, id };
            let r = state.db.run(move |c| $get_ext_svc(c, &actor, ext)).await?;
            Ok($crate::rest::versioned(&req, r.version, &r))
        }

        /// Create or update the record that carries an external id (201 created, 200 updated).
        ///
        /// The body is a merge patch: on update only the fields sent change; on create it must hold
        /// what a new record needs. The external id from the path stays attached.
        #[utoipa::path(
            tag = $tag,
            params(("source" = String, Path, description = "Source system, e.g. erp"), ("external_id" = String, Path, description = "Id in that system")),
            request_body = $Patch,
            responses(
                (status = 200, description = "Updated", body = $T),
                (status = 201, description = "Created", body = $T, headers(("Location" = String), ("ETag" = String))),
                (status = 400, body = $crate::problem::Problem), (status = 401, body = $crate::problem::Problem), (status = 403, body = $crate::problem::Problem),
                (status = 409, body = $crate::problem::Problem), (status = 422, body = $crate::problem::Problem)
            )
        )]
        #[put($ext_path)]
        pub async fn $upsert_fn(
            state: actix_web::web::Data<$crate::app::AppState>,
            auth: $crate::auth::Authenticated,
            path: actix_web::web::Path<(String, String)>,
            body: $crate::rest::Json<$Patch>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            let (source, id) = path.into_inner();
            let patch = body.after(auth.0.require(<$T as crm_records::Record>::WRITE))?;
            let actor = auth.0;
            let ext = crm_core::ExternalId { source, id };
            let (r, created) = state.db.transaction(move |c| $upsert_svc(c, &actor, ext, patch)).await?;
            if created {
                return Ok($crate::rest::created($location(r.id), r.version, &r));
            }
            Ok(actix_web::HttpResponse::Ok().insert_header((actix_web::http::header::ETAG, $crate::rest::etag(r.version))).json(&r))
        }

        /// Who changed which field of the record, from what to what, newest first.
        #[utoipa::path(
            tag = $tag,
            params(("id" = uuid::Uuid, Path, description = "Record id"), $crate::rest::HistoryQuery),
            responses(
                (status = 200, body = $crate::rest::HistoryPage),
                (status = 401, body = $crate::problem::Problem), (status = 403, body = $crate::problem::Problem), (status = 404, body = $crate::problem::Problem)
            )
        )]
        #[get($history_path)]
        pub async fn $history_fn(
            state: actix_web::web::Data<$crate::app::AppState>,
            auth: $crate::auth::Authenticated,
            id: actix_web::web::Path<$Id>,
            query: $crate::rest::Query<$crate::rest::HistoryQuery>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            let query = query.after(auth.0.require(<$T as crm_records::Record>::READ))?;
            let limit = query.limit()?;
            let (actor, id, before) = (auth.0, id.into_inner(), query.before);
            let data = state.db.run(move |c| $history_svc(c, &actor, id, before, limit)).await?;
            Ok(actix_web::HttpResponse::Ok().json($crate::rest::HistoryPage::new(data, limit)))
        }
    };
}
