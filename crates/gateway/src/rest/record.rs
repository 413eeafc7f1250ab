//! The REST surface of a resource built on `crm_records::Record`, declared once: list, get,
//! create, merge-patch update, archive, restore, plus the integrator endpoints of
//! `sync_endpoints!`. Each endpoint calls the generic use case of `crm_records`. Reads embed the
//! to-one relations `include=` names (`embeds!`).

/// A record as REST reads show it, with the related records `include=` asks for.
pub trait Embed: crm_records::Record {
    /// The wire shape: the record itself, or the record with its includable relations.
    type Resource: serde::Serialize + Send + 'static;
    /// What `include=` accepts.
    const INCLUDABLE: &'static [&'static str];
    /// Wraps records for the wire, reading each included relation in one query.
    fn embed(
        conn: &mut crm_db::AnyConnection,
        actor: &crm_core::Actor,
        records: Vec<Self>,
        include: &[String],
    ) -> Result<Vec<Self::Resource>, crm_records::RecordError>;
}

/// The related records of `rows` (`id_of` each row's reference), by id.
pub fn related<R: crm_records::Record, T>(
    conn: &mut crm_db::AnyConnection,
    actor: &crm_core::Actor,
    rows: &[T],
    id_of: impl Fn(&T) -> Option<R::Id>,
) -> Result<std::collections::HashMap<R::Id, R>, crm_records::RecordError> {
    let mut ids: Vec<R::Id> = rows.iter().filter_map(id_of).collect();
    ids.sort();
    ids.dedup();
    Ok(crm_records::get_many::<R>(conn, actor, &ids, true)?.into_iter().map(|r| (r.id(), r)).collect())
}

/// How many child records `include=<children>` embeds per record (the first page, in the
/// child list's default order); `next_cursor` continues with the child list filtered on the
/// parent.
pub const INCLUDED_CHILDREN: u32 = 20;

/// The first page of a record's children, embedded by `include=`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Included<T> {
    /// Up to 20 records, in the child list's default order (newest first).
    pub data: Vec<T>,
    /// Continue with the child list filtered on this record (`GET /api/v1/opportunities?
    /// filter=account_id[eq]:<id>&cursor=…`); null when these are all.
    pub next_cursor: Option<String>,
}

impl<T> Default for Included<T> {
    fn default() -> Self {
        Included { data: Vec::new(), next_cursor: None }
    }
}

/// The first page of children of each of `parents` whose `field` names them.
pub fn children<R: crm_records::Record>(
    conn: &mut crm_db::AnyConnection,
    actor: &crm_core::Actor,
    field: &str,
    parents: &[uuid::Uuid],
) -> Result<std::collections::HashMap<uuid::Uuid, Included<R>>, crm_records::RecordError> {
    let params = crm_core::list::ListParams { limit: Some(INCLUDED_CHILDREN), ..Default::default() };
    Ok(crm_records::list_per_parent::<R>(conn, actor, field, parents, &params)?
        .into_iter()
        .map(|(p, page)| (p, Included { data: page.data, next_cursor: page.next_cursor }))
        .collect())
}

/// Declares how a record is embedded with its to-one relations and its children:
/// `embeds!(Account as AccountResource { owner(owner_id): User } children { contacts("account_id"):
/// Contact })`, or `embeds!(User)` for a record with neither (it is its own wire shape).
#[macro_export]
macro_rules! embeds {
    ($T:ty) => {
        impl $crate::rest::record::Embed for $T {
            type Resource = $T;
            const INCLUDABLE: &'static [&'static str] = &[];
            fn embed(
                _conn: &mut crm_db::AnyConnection,
                _actor: &crm_core::Actor,
                records: Vec<Self>,
                _include: &[String],
            ) -> Result<Vec<$T>, crm_records::RecordError> {
                Ok(records)
            }
        }
    };
    ($T:ty as $Res:ident { $( $(#[$doc:meta])* $rel:ident ($field:ident) : $Target:ty ),+ $(,)? }
        children { $( $(#[$cdoc:meta])* $child:ident ($cfield:literal) : $Child:ty ),* $(,)? }) => {
        /// The record, with the related records `include=` names embedded.
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub struct $Res {
            #[serde(flatten)]
            pub record: $T,
            $(
                $(#[$doc])*
                #[doc = concat!("Present with `include=", stringify!($rel), "` (null when there is none).")]
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $rel: Option<Option<$Target>>,
            )+
            $(
                $(#[$cdoc])*
                #[doc = concat!("Present with `include=", stringify!($child), "`: the first 20, newest first.")]
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $child: Option<$crate::rest::record::Included<$Child>>,
            )*
        }

        impl $crate::rest::record::Embed for $T {
            type Resource = $Res;
            const INCLUDABLE: &'static [&'static str] = &[$(stringify!($rel)),+ $(, stringify!($child))*];
            fn embed(
                conn: &mut crm_db::AnyConnection,
                actor: &crm_core::Actor,
                records: Vec<Self>,
                include: &[String],
            ) -> Result<Vec<$Res>, crm_records::RecordError> {
                $(
                    let $rel = if include.iter().any(|i| i == stringify!($rel)) {
                        Some($crate::rest::record::related::<$Target, _>(conn, actor, &records, |r| r.$field.into())?)
                    } else {
                        None
                    };
                )+
                $(
                    let mut $child = if include.iter().any(|i| i == stringify!($child)) {
                        use crm_core::ids::EntityId;
                        let parents: Vec<uuid::Uuid> =
                            records.iter().map(|r| crm_records::Stored::id(r).uuid()).collect();
                        Some($crate::rest::record::children::<$Child>(conn, actor, $cfield, &parents)?)
                    } else {
                        None
                    };
                )*
                Ok(records
                    .into_iter()
                    .map(|record| {
                        #[allow(unused_imports)]
                        use crm_core::ids::EntityId;
                        #[allow(unused_variables)]
                        let id = crm_records::Stored::id(&record).uuid();
                        $Res {
                            $( $rel: $rel.as_ref().map(|m| {
                                let id: Option<<$Target as crm_records::Stored>::Id> = record.$field.into();
                                id.and_then(|id| m.get(&id).cloned())
                            }), )+
                            $( $child: $child.as_mut().map(|m| m.remove(&id).unwrap_or_default()), )*
                            record,
                        }
                    })
                    .collect())
            }
        }
    };
}

/// A list request: the shared parameters, plus whatever a resource adds (the activity agenda's
/// `assignee=me`), applied with the caller and a connection at hand.
pub trait ListRequest: serde::de::DeserializeOwned + Send + 'static {
    fn params(&self) -> Result<crm_core::list::ListParams, crate::problem::ApiError>;
    /// `fields=`.
    fn fields(&self) -> Option<&str>;
    /// `include=`.
    fn include(&self) -> Option<&str> {
        None
    }
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
        self.clone().into_params()
    }

    fn fields(&self) -> Option<&str> {
        self.fields.as_deref()
    }

    fn include(&self) -> Option<&str> {
        self.include.as_deref()
    }
}

/// Declares a resource's endpoints. The invoking module imports
/// `actix_web::{delete, get, patch, post, put}` (utoipa reads those attribute names).
#[macro_export]
macro_rules! record_endpoints {
    (
        tag: $tag:literal,
        record: $T:ty, resource: $Res:ty, input: $Input:ty, patch: $Patch:ty, id: $Id:ty,
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
            pub data: Vec<$Res>,
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
            query: $crate::rest::Query<$LQ>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            use $crate::rest::record::{Embed, ListRequest};
            let query = query.after(auth.0.require(<$T as crm_records::Record>::READ))?;
            let mut params = ListRequest::params(&query)?;
            let include = $crate::rest::parse_include(ListRequest::include(&query), <$T as Embed>::INCLUDABLE)?;
            let projection = $crate::rest::Projection::parse::<$T>(
                ListRequest::fields(&query),
                <$T as Embed>::INCLUDABLE,
            )?;
            let actor = auth.0;
            let body = state
                .db
                .run(move |c| {
                    ListRequest::narrow(&query, c, &actor, &mut params)?;
                    let mut page = crm_records::list::<$T>(c, &actor, &params)?;
                    let data = <$T as Embed>::embed(c, &actor, std::mem::take(&mut page.data), &include)?;
                    Ok::<_, crm_records::RecordError>(crm_core::list::Page { data, next_cursor: page.next_cursor, total: page.total })
                })
                .await?;
            Ok(actix_web::HttpResponse::Ok().json($crate::rest::page_json(body, projection.as_ref())))
        }

        /// Get one by id. Answers 304 when `If-None-Match` names the current version, and 301
        /// to the survivor when the record was merged into another (accounts, contacts, leads).
        #[utoipa::path(
            tag = $tag,
            params(("id" = uuid::Uuid, Path, description = "Record id"), $crate::rest::IncludeQuery),
            responses(
                (status = 200, body = $Res, headers(("ETag" = String, description = "\"<version>\""))),
                (status = 301, description = "Merged into another record: `Location` and `merged_into` name it", body = $crate::problem::Problem, headers(("Location" = String))),
                (status = 304, description = "Not modified"),
                (status = 400, body = $crate::problem::Problem),
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
            query: $crate::rest::Query<$crate::rest::IncludeQuery>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            use $crate::rest::record::Embed;
            let query = query.after(auth.0.require(<$T as crm_records::Record>::READ))?;
            let include = $crate::rest::parse_include(query.include.as_deref(), <$T as Embed>::INCLUDABLE)?;
            let projection = $crate::rest::Projection::parse::<$T>(
                query.fields.as_deref(),
                <$T as Embed>::INCLUDABLE,
            )?;
            let (actor, id) = (auth.0, id.into_inner());
            let found = state
                .db
                .run(move |c| {
                    let r = crm_records::get::<$T>(c, &actor, id)?;
                    let version = crm_records::Stored::meta(&r).version;
                    let mut embedded = <$T as Embed>::embed(c, &actor, vec![r], &include)?;
                    let resource = embedded.pop().ok_or(crm_records::RecordError::NotFound { entity: <$T as crm_records::Record>::ENTITY })?;
                    Ok::<_, crm_records::RecordError>((version, resource))
                })
                .await;
            let (version, resource) = match found {
                Err(e @ crm_records::RecordError::Merged { into, .. }) => {
                    let to = location(<$Id as crm_core::ids::EntityId>::from_uuid(into));
                    return Ok($crate::rest::moved(to, e));
                }
                other => other?,
            };
            match projection {
                Some(p) => Ok($crate::rest::versioned(&req, version, &p.apply(&resource))),
                None => Ok($crate::rest::versioned(&req, version, &resource)),
            }
        }

        /// Create.
        #[utoipa::path(
            tag = $tag,
            params($crate::rest::CreateQuery),
            request_body = $Input,
            responses(
                (status = 201, body = $T, headers(("ETag" = String), ("Location" = String))),
                (status = 400, body = $crate::problem::Problem), (status = 401, body = $crate::problem::Problem),
                (status = 403, body = $crate::problem::Problem),
                (status = 409, description = "A live record already has this unique value (`DUPLICATE_RECORD`), or one is likely the same (`POSSIBLE_DUPLICATE`, with `candidates`)", body = $crate::problem::Problem),
                (status = 422, description = "Validation failed", body = $crate::problem::Problem)
            )
        )]
        #[post($collection)]
        pub async fn $create_fn(
            state: actix_web::web::Data<$crate::app::AppState>,
            auth: $crate::auth::Authenticated,
            query: $crate::rest::Query<$crate::rest::CreateQuery>,
            body: $crate::rest::Json<$Input>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            let allow = query.after(auth.0.require(<$T as crm_records::Record>::WRITE))?.allow_duplicate.unwrap_or(false);
            let input = body.after(auth.0.require(<$T as crm_records::Record>::WRITE))?;
            let actor = auth.0;
            let r = state.db.transaction(move |c| crm_records::create_checked::<$T>(c, &actor, input, allow)).await?;
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
            body: $crate::rest::Json<$Patch>,
        ) -> Result<actix_web::HttpResponse, $crate::problem::ApiError> {
            let expected = $crate::rest::if_match(&req)?;
            let patch = body.after(auth.0.require(<$T as crm_records::Record>::WRITE))?;
            let (actor, id) = (auth.0, id.into_inner());
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
            batch: $batch_fn at $batch_path via crm_records::batch::batch_reporting::<$T>, doc types $BO, $BR;
            by_external_id: $get_ext_fn, $upsert_fn at $ext_path
                via crm_records::get_by_external_id::<$T>, crm_records::upsert::<$T>;
            history: $history_fn at $history_path via crm_records::history::<$T>;
        }
    };
}
