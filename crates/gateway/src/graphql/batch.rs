//! Batch answers in GraphQL: the same per-operation outcomes as REST (`rest::batch_reply`).

use async_graphql::SimpleObject;
use crm_core::external::BatchRecord;
use crm_core::{DomainError, FieldError};

use super::gql_error;

/// Why one batch operation failed.
#[derive(SimpleObject)]
pub struct BatchError {
    pub code: String,
    pub message: String,
    pub fields: Vec<FieldError>,
    /// The id of the request (its `X-Request-Id`), as in every error.
    pub request_id: Option<String>,
}

/// The answer to one batch operation, in order.
#[derive(SimpleObject)]
pub struct BatchResult {
    /// The HTTP status the operation would have had alone (201, 200, 204, 4xx).
    pub status: i32,
    pub id: Option<uuid::Uuid>,
    pub version: Option<i64>,
    pub error: Option<BatchError>,
}

/// The same mapping as REST (`rest::batch_reply`), shaped for GraphQL.
pub fn batch_results<T: serde::Serialize + BatchRecord, E: DomainError>(
    outcome: Result<Vec<Result<crm_core::external::BatchOutcome<T>, E>>, crate::rest::Aborted<E>>,
) -> async_graphql::Result<Vec<BatchResult>> {
    let reply = crate::rest::batch_reply(outcome).map_err(gql_error)?;
    Ok(reply
        .results
        .into_iter()
        .map(|item| BatchResult {
            status: i32::from(item.status),
            id: item.id,
            version: item.version,
            error: item.error.map(|e| BatchError {
                code: e["code"].as_str().unwrap_or("").to_string(),
                message: e["detail"].as_str().unwrap_or("").to_string(),
                request_id: e["request_id"].as_str().map(str::to_string),
                fields: serde_json::from_value::<Vec<serde_json::Value>>(e["errors"].clone())
                    .unwrap_or_default()
                    .iter()
                    .map(|f| {
                        FieldError::new(
                            f["field"].as_str().unwrap_or(""),
                            f["code"].as_str().unwrap_or(""),
                            f["message"].as_str().unwrap_or(""),
                        )
                    })
                    .collect(),
            }),
        })
        .collect())
}

pub fn check_batch_len(n: usize) -> async_graphql::Result<()> {
    crate::rest::check_batch_len(n).map_err(gql_error)
}
