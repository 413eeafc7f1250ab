//! The REST surface of a resource built on `crm_records::Record`, declared once: list, get,
//! create, merge-patch update, archive, restore, plus the integrator endpoints of
//! `sync_endpoints!`. Each endpoint calls the generic use case of `crm_records`.

/// A list request: the shared parameters, plus whatever a resource adds (the activity agenda's
/// `assignee=me`), applied with the caller and a connection at hand.
pub trait ListRequest: serde::de::DeserializeOwned + Send + 'static {
    fn params(&self) -> Result<crm_core::list::ListParams, crate::problem::ApiError>;
    /// `fields=`.
    fn fields(&self) -> Option<&str>;
    fn narrow(
        &self,
        _conn: &mut crm_db::AnyConnection,
        _actor: &crm_core::Actor,
        _params: &mut crm_core::list::ListParams,
    ) -> Result<(), crm_records::RecordError> {
        Ok(())
    }
}

impl ListRequest for super::ListQuery {
    fn params(&self) -> Result<crm_core::list::ListParams, crate::problem::ApiError> {
        let (params, _) = self.clone().into_params(&[])?;
        Ok(params)
    }

    fn fields(&self) -> Option<&str> {
        self.fields.as_deref()
    }
}

/// Declares a resource's endpoints. The invoking module imports
/// `actix_web::{delete, get, patch, post, put}` (utoipa reads those attribute names).
#[macro_export]
macro_rules! record_endpoints {
    (
        tag: $tag:literal,
        record: $T:ty, input: $Input:ty, patch: $Patch:ty, id: $Id:ty,
        collection: $collection:literal, item: $item:literal, list type $ListT:ident, query: $LQ:ty,
        fns: $list_fn:ident, $get_fn:ident, $create_fn:ident, $update_fn:ident, $archive_fn:ident, $restore_fn:ident;
        restore: $restore_path:literal,
        batch: $batch_fn:ident at $batch_path:literal, doc types $BO:ident, $BR:ident;
        by_external_id: $get_ext_fn:ident, $upsert_fn:ident at $ext_path:literal;
        history: $history_fn:ident at $history_path:literal;
    ) => {
        /// A page of records.
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub struct $ListT {
            pub data: Vec<$T>,
            /// Pass as `cursor` for the next page; null on the last page.
            pub next_cursor: Option<String>,
            /// With `count=true`: how many records match.
            pub total: Option<i64>,
        }

        pub fn location(id: $Id) -> String {
            format!(concat!("/api/v1", $collection, "/{}"), id)
        }

        /// List, keyset-paginated, with filters, sort and full-text search (see docs/API-DESIGN.md).
        #[utoipa::path(
            tag = $tag,
            params($LQ),
            responses(
                (status = 200, body = $ListT),
                (status = 400, description = "Bad filter, sort, cursor or parameter", body = $crate::problem::Problem),
                (status = 401, body = $crate::problem::Problem), (status = 403, body = $crate::problem::Problem)
            )
        )]
        #[get($collection)]
        pub async fn $list_fn(
            state: actix_web::web::Data<$crate::app::AppState>,
            auth: $crate::auth::Authenticated,
            query: actix_web::web::Query<$LQ>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            let query = query.into_inner();
            let mut params = $crate::rest::record::ListRequest::params(&query)?;
            let projection =
                $crate::rest::Projection::parse::<$T>($crate::rest::record::ListRequest::fields(&query), &[])?;
            let actor = auth.0;
            let page = state
                .db
                .run(move |c| {
                    $crate::rest::record::ListRequest::narrow(&query, c, &actor, &mut params)?;
                    crm_records::list::<$T>(c, &actor, &params)
                })
                .await?;
            Ok(actix_web::HttpResponse::Ok().json($crate::rest::page_json(page, projection.as_ref())))
        }

        /// Get one by id. Answers 304 when `If-None-Match` names the current version.
        #[utoipa::path(
            tag = $tag,
            params(("id" = uuid::Uuid, Path, description = "Record id"), $crate::rest::FieldsQuery),
            responses(
                (status = 200, body = $T, headers(("ETag" = String, description = "\"<version>\""))),
                (status = 304, description = "Not modified"),
                (status = 401, body = $crate::problem::Problem), (status = 403, body = $crate::problem::Problem),
                (status = 404, body = $crate::problem::Problem)
            )
        )]
        #[get($item)]
        pub async fn $get_fn(
            req: actix_web::HttpRequest,
            state: actix_web::web::Data<$crate::app::AppState>,
            auth: $crate::auth::Authenticated,
            id: actix_web::web::Path<$Id>,
            query: actix_web::web::Query<$crate::rest::FieldsQuery>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            let projection = $crate::rest::Projection::parse::<$T>(query.fields.as_deref(), &[])?;
            let (actor, id) = (auth.0, id.into_inner());
            let r = state.db.run(move |c| crm_records::get::<$T>(c, &actor, id)).await?;
            match projection {
                Some(p) => Ok($crate::rest::versioned(&req, r.version, &p.apply(&r))),
                None => Ok($crate::rest::versioned(&req, r.version, &r)),
            }
        }

        /// Create.
        #[utoipa::path(
            tag = $tag,
            request_body = $Input,
            responses(
                (status = 201, body = $T, headers(("ETag" = String), ("Location" = String))),
                (status = 400, body = $crate::problem::Problem), (status = 401, body = $crate::problem::Problem),
                (status = 403, body = $crate::problem::Problem),
                (status = 409, description = "A live record already has this unique value", body = $crate::problem::Problem),
                (status = 422, description = "Validation failed", body = $crate::problem::Problem)
            )
        )]
        #[post($collection)]
        pub async fn $create_fn(
            state: actix_web::web::Data<$crate::app::AppState>,
            auth: $crate::auth::Authenticated,
            body: actix_web::web::Json<$Input>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            let (actor, input) = (auth.0, body.into_inner());
            let r = state.db.transaction(move |c| crm_records::create::<$T>(c, &actor, input)).await?;
            Ok($crate::rest::created(location(r.id), r.version, &r))
        }

        /// Update with a JSON merge patch. `If-Match: "<version>"` makes it conditional.
        #[utoipa::path(
            tag = $tag,
            params(
                ("id" = uuid::Uuid, Path, description = "Record id"),
                ("If-Match" = Option<String>, Header, description = "Expected version, e.g. \"3\"")
            ),
            request_body(content = $Patch, content_type = "application/merge-patch+json"),
            responses(
                (status = 200, body = $T, headers(("ETag" = String))),
                (status = 400, body = $crate::problem::Problem), (status = 401, body = $crate::problem::Problem),
                (status = 403, body = $crate::problem::Problem), (status = 404, body = $crate::problem::Problem),
                (status = 409, body = $crate::problem::Problem),
                (status = 412, description = "Version conflict; the body has `current_version`", body = $crate::problem::Problem),
                (status = 422, body = $crate::problem::Problem)
            )
        )]
        #[patch($item)]
        pub async fn $update_fn(
            req: actix_web::HttpRequest,
            state: actix_web::web::Data<$crate::app::AppState>,
            auth: $crate::auth::Authenticated,
            id: actix_web::web::Path<$Id>,
            body: actix_web::web::Json<$Patch>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            let expected = $crate::rest::if_match(&req)?;
            let (actor, id, patch) = (auth.0, id.into_inner(), body.into_inner());
            let r = state.db.transaction(move |c| crm_records::update::<$T>(c, &actor, id, patch, expected)).await?;
            Ok(actix_web::HttpResponse::Ok()
                .insert_header((actix_web::http::header::ETAG, $crate::rest::etag(r.version)))
                .json(&r))
        }

        /// Archive (soft-delete).
        #[utoipa::path(
            tag = $tag,
            params(
                ("id" = uuid::Uuid, Path, description = "Record id"),
                ("If-Match" = Option<String>, Header, description = "Expected version")
            ),
            responses(
                (status = 204, description = "Archived"),
                (status = 401, body = $crate::problem::Problem), (status = 403, body = $crate::problem::Problem),
                (status = 404, body = $crate::problem::Problem), (status = 412, body = $crate::problem::Problem)
            )
        )]
        #[delete($item)]
        pub async fn $archive_fn(
            req: actix_web::HttpRequest,
            state: actix_web::web::Data<$crate::app::AppState>,
            auth: $crate::auth::Authenticated,
            id: actix_web::web::Path<$Id>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            let expected = $crate::rest::if_match(&req)?;
            let (actor, id) = (auth.0, id.into_inner());
            state.db.transaction(move |c| crm_records::archive::<$T>(c, &actor, id, expected)).await?;
            Ok(actix_web::HttpResponse::NoContent().finish())
        }

        /// Restore an archived record.
        #[utoipa::path(
            tag = $tag,
            params(
                ("id" = uuid::Uuid, Path, description = "Record id"),
                ("If-Match" = Option<String>, Header, description = "Expected version")
            ),
            responses(
                (status = 200, body = $T),
                (status = 401, body = $crate::problem::Problem), (status = 403, body = $crate::problem::Problem),
                (status = 404, body = $crate::problem::Problem),
                (status = 409, description = "A unique value now belongs to a live record", body = $crate::problem::Problem),
                (status = 412, body = $crate::problem::Problem)
            )
        )]
        #[post($restore_path)]
        pub async fn $restore_fn(
            req: actix_web::HttpRequest,
            state: actix_web::web::Data<$crate::app::AppState>,
            auth: $crate::auth::Authenticated,
            id: actix_web::web::Path<$Id>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            let expected = $crate::rest::if_match(&req)?;
            let (actor, id) = (auth.0, id.into_inner());
            let r = state.db.transaction(move |c| crm_records::restore::<$T>(c, &actor, id, expected)).await?;
            Ok(actix_web::HttpResponse::Ok()
                .insert_header((actix_web::http::header::ETAG, $crate::rest::etag(r.version)))
                .json(&r))
        }

        $crate::sync_endpoints! {
            tag: $tag,
            record: $T, input: $Input, patch: $Patch, id: $Id, op: crm_records::Op<$T>, error: crm_records::RecordError,
            location: location,
            batch: $batch_fn at $batch_path via crm_records::batch::<$T>, doc types $BO, $BR;
            by_external_id: $get_ext_fn, $upsert_fn at $ext_path
                via crm_records::get_by_external_id::<$T>, crm_records::upsert::<$T>;
            history: $history_fn at $history_path via crm_records::history::<$T>;
        }
    };
}
