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
    /// With `reportDuplicates`: the record this operation created is likely the same as these
    /// (what a create would have refused with `POSSIBLE_DUPLICATE`); it is created all the same.
    pub possible_duplicate: Option<PossibleDuplicate>,
}

/// A record a batch created that is likely the same as others.
#[derive(SimpleObject)]
pub struct PossibleDuplicate {
    /// What a create would have been refused with (`POSSIBLE_DUPLICATE`'s message).
    pub message: String,
    /// The likely same records, best first.
    pub candidates: Vec<DuplicateCandidateRef>,
}

/// A likely same record: its id, the score and the matching rules that found it.
#[derive(SimpleObject)]
pub struct DuplicateCandidateRef {
    /// The likely same record (of the batch's resource); null for a record the caller does not
    /// see (one exists, not which).
    pub id: Option<uuid::Uuid>,
    /// 0 to 1 (see `DuplicateCandidate.score`).
    pub score: f64,
    /// The rules that matched (`contact_email`, `contact_name_city`).
    pub rules: Vec<String>,
}

impl DuplicateCandidateRef {
    /// The candidates of a `POSSIBLE_DUPLICATE` problem.
    fn all_of(problem: &serde_json::Value) -> Vec<DuplicateCandidateRef> {
        let list = problem["candidates"].as_array().map(Vec::as_slice).unwrap_or_default();
        list.iter()
            .filter_map(|c| {
                Some(DuplicateCandidateRef {
                    id: c["id"].as_str().and_then(|i| i.parse().ok()),
                    score: c["score"].as_f64()?,
                    rules: c["rules"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|r| r["rule"].as_str().map(str::to_string))
                        .collect(),
                })
            })
            .collect()
    }
}

/// The same mapping as REST (`rest::batch_reply`), shaped for GraphQL.
pub fn batch_results<T: serde::Serialize + BatchRecord, E: DomainError>(
    outcome: Result<crate::rest::BatchDone<T, E>, crate::rest::Aborted<E>>,
) -> async_graphql::Result<Vec<BatchResult>> {
    let reply = crate::rest::batch_reply(outcome).map_err(gql_error)?;
    Ok(reply
        .results
        .into_iter()
        .map(|item| BatchResult {
            status: i32::from(item.status),
            id: item.id,
            version: item.version,
            possible_duplicate: item.possible_duplicate.map(|p| PossibleDuplicate {
                message: p["detail"].as_str().unwrap_or("").to_string(),
                candidates: DuplicateCandidateRef::all_of(&p),
            }),
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
