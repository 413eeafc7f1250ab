//! External ids: a record's id in another system (`{"source": "erp", "id": "C-10042"}`).

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// One id of a record in another system; unique per entity type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "graphql",
    derive(async_graphql::SimpleObject, async_graphql::InputObject),
    graphql(input_name = "ExternalIdInput")
)]
pub struct ExternalId {
    /// The other system, lower case: `erp`, `zendesk`, `stripe`.
    #[cfg_attr(feature = "openapi", schema(example = "erp"))]
    pub source: String,
    /// The record's id there, as that system writes it.
    #[cfg_attr(feature = "openapi", schema(example = "C-10042"))]
    pub id: String,
}

impl ExternalId {
    pub fn new(source: &str, id: &str) -> ExternalId {
        ExternalId { source: source.to_string(), id: id.to_string() }
    }

    /// Normalizes (source lower-cased, id trimmed) and checks the shape.
    pub fn parse(self, field: &str) -> Result<ExternalId, FieldError> {
        let source = self.source.trim().to_ascii_lowercase();
        let id = self.id.trim().to_string();
        let source_ok = !source.is_empty()
            && source.len() <= 50
            && source.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !source_ok {
            return Err(FieldError::new(
                format!("{field}.source"),
                "invalid_source",
                "a source is 1 to 50 letters, digits, `_`, `-` or `.`",
            ));
        }
        if id.is_empty() || id.chars().count() > 255 || id.chars().any(char::is_control) {
            return Err(FieldError::new(
                format!("{field}.id"),
                "invalid_id",
                "an external id is 1 to 255 printable characters",
            ));
        }
        Ok(ExternalId { source, id })
    }

    /// `erp:C-10042` (the filter form); the id may itself contain `:`.
    pub fn parse_pair(s: &str) -> Option<ExternalId> {
        let (source, id) = s.split_once(':')?;
        ExternalId::new(source, id).parse("external_id").ok()
    }
}

/// Normalizes a list: parses each, drops duplicates, keeps order; at most 20.
pub fn parse_external_ids(field: &str, ids: Vec<ExternalId>, errs: &mut crate::FieldErrors) -> Vec<ExternalId> {
    if errs.take(crate::values::check_sent(field, ids.len(), 20, "external ids per record")).is_none() {
        return Vec::new();
    }
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<ExternalId> = Vec::new();
    for (i, e) in ids.into_iter().enumerate() {
        if let Some(e) = errs.take(e.parse(&format!("{field}[{i}]")))
            && seen.insert(e.clone())
        {
            out.push(e);
        }
    }
    if out.len() > 20 {
        errs.add(field, "too_many", "at most 20 external ids per record");
    }
    // Stored and read back in this order, so an unchanged list compares equal.
    out.sort();
    out
}

/// Operations of a batch (`POST /{resource}/batch`), answered one result per item, in order.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum BatchOp<Input, Patch, Id> {
    Create {
        data: Input,
    },
    Update {
        id: Id,
        data: Patch,
        #[serde(default)]
        expected_version: Option<i64>,
    },
    Upsert {
        external_id: ExternalId,
        data: Patch,
    },
    Delete {
        id: Id,
        #[serde(default)]
        expected_version: Option<i64>,
    },
}

/// Most operations in one batch.
pub const MAX_BATCH: usize = 1000;

/// Per-operation results of a batch, or the index and error that aborted an atomic one.
pub type BatchResults<T, E> = Result<Vec<Result<BatchOutcome<T>, E>>, (usize, E)>;

/// What batch answers report of a record.
pub trait BatchRecord {
    fn record_id(&self) -> uuid::Uuid;
    fn record_version(&self) -> i64;
}

/// What one successful batch operation did.
#[derive(Clone, Debug)]
pub enum BatchOutcome<T> {
    Created(T),
    Updated(T),
    Archived(T),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_normalize() {
        let e = ExternalId::new(" ERP ", " C-1 ").parse("x").unwrap();
        assert_eq!(e, ExternalId::new("erp", "C-1"));
        assert!(ExternalId::new("e r p", "1").parse("x").is_err());
        assert!(ExternalId::new("erp", "").parse("x").is_err());
        assert_eq!(ExternalId::parse_pair("erp:A:7"), Some(ExternalId::new("erp", "A:7")));
        assert_eq!(ExternalId::parse_pair("nocolon"), None);
    }
}
