//! GraphQL of bulk work: following, cancelling and reading the error report of the imports
//! that `POST /api/v1/imports` started (files are uploaded over REST), the saved column
//! mappings, and exports (started here or over REST, downloaded over REST); the same service
//! functions.

use std::collections::BTreeMap;

use async_graphql::{Context, Object, SimpleObject};
use crm_core::ids::JobId;
use crm_records::exports::{self, Export, ExportRequest};
use crm_records::imports::{self, Import, ImportMapping, ImportRowError};

use super::{gql, rc};

#[derive(Default)]
pub struct BulkQuery;

/// A page of an import's error report.
#[derive(SimpleObject)]
pub struct ImportErrorConnection {
    /// In row order; a row may have several (one per field).
    pub nodes: Vec<ImportRowError>,
    /// Pass as `after` for the next page; null on the last.
    pub next_after: Option<String>,
}

/// A saved column mapping with its columns.
#[derive(SimpleObject)]
pub struct ImportMappingNode {
    #[graphql(flatten)]
    pub inner: ImportMapping,
    /// Column → field.
    pub columns: async_graphql::Json<BTreeMap<String, String>>,
}

fn node(m: ImportMapping) -> ImportMappingNode {
    let columns = async_graphql::Json(m.mapping.clone());
    ImportMappingNode { inner: m, columns }
}

#[Object]
impl BulkQuery {
    /// An import and its progress; see `GET /imports/{id}`.
    async fn import(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The import's id.")] id: JobId,
    ) -> async_graphql::Result<Import> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| imports::get(c, &actor, id)).await.map_err(gql)
    }

    /// The newest imports the caller started (all for admins); see `GET /imports`.
    async fn imports(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "1 to 100 (default 20).")] limit: Option<u32>,
    ) -> async_graphql::Result<Vec<Import>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| imports::list(c, &actor, limit)).await.map_err(gql)
    }

    /// A page of an import's error report; see `GET /imports/{id}/errors`.
    async fn import_errors(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The import's id.")] id: JobId,
        #[graphql(desc = "Errors per page, 1 to 1000 (default 100).")] first: Option<u32>,
        #[graphql(desc = "`next_after` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<ImportErrorConnection> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let after = match after.as_deref() {
            None | Some("") => None,
            Some(s) => Some(crate::rest::imports::parse_after(s).ok_or("`after` is a `nextAfter` value")?),
        };
        let (nodes, next) =
            r.db.run(move |c| imports::error_page(c, &actor, id, after, first.unwrap_or(100))).await.map_err(gql)?;
        Ok(ImportErrorConnection { nodes, next_after: next.map(|(r, n)| format!("{r}.{n}")) })
    }

    /// An export and its progress; see `GET /exports/{id}` (download `downloadUrl` over REST).
    async fn export(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The export's id.")] id: JobId,
    ) -> async_graphql::Result<Export> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| exports::get(c, &actor, id)).await.map_err(gql)
    }

    /// The exports the caller made (everyone's for admins); see `GET /exports`.
    async fn exports(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "1 to 100 (default 20).")] limit: Option<u32>,
    ) -> async_graphql::Result<Vec<Export>> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.run(move |c| exports::list(c, &actor, limit)).await.map_err(gql)
    }

    /// The column mappings saved by name; see `GET /import-mappings`.
    async fn import_mappings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this collection's (`contacts`).")] resource: Option<String>,
    ) -> async_graphql::Result<Vec<ImportMappingNode>> {
        let r = rc(ctx)?;
        let all =
            r.db.run(move |c| imports::mappings(c, resource.as_deref()).map_err(crm_db::DbError::from))
                .await
                .map_err(gql)?;
        Ok(all.into_iter().map(node).collect())
    }
}

#[derive(Default)]
pub struct BulkMutation;

#[Object]
impl BulkMutation {
    /// Starts an export as a background job; see `POST /exports`.
    async fn start_export(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The list to export and the format.")] input: ExportRequest,
    ) -> async_graphql::Result<Export> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.write(move |c| crate::exports::start(c, &actor, &input)).await.map_err(gql)
    }

    /// Cancels an import; see `POST /imports/{id}/cancel`.
    async fn cancel_import(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The import's id.")] id: JobId,
    ) -> async_graphql::Result<Import> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        r.db.write(move |c| imports::cancel(c, &actor, id)).await.map_err(gql)
    }

    /// Saves (or replaces) a column mapping under a name; see
    /// `PUT /import-mappings/{resource}/{name}`.
    async fn save_import_mapping(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The collection (`contacts`).")] resource: String,
        #[graphql(desc = "The mapping's name.")] name: String,
        #[graphql(desc = "Column → field (`{\"E-mail\": \"email\"}`).")] columns: async_graphql::Json<
            BTreeMap<String, String>,
        >,
    ) -> async_graphql::Result<ImportMappingNode> {
        let r = rc(ctx)?;
        let actor = r.actor.clone();
        let saved =
            r.db.write(move |c| crate::imports::save_mapping(c, &actor, &resource, &name, columns.0))
                .await
                .map_err(gql)?;
        Ok(node(saved))
    }
}
