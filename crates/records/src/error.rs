//! One error type for every resource built on `Record`.

use crm_core::actor::Forbidden;
use crm_core::list::ListError;
use crm_core::{DomainError, ErrorClass, ExternalId, FieldError, FieldErrors};
use crm_db::DbError;

/// Everything a record use case can fail with. `entity` names the resource in messages.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    #[error("the {entity} is invalid: {errors}")]
    Invalid { entity: &'static str, errors: FieldErrors },
    #[error(transparent)]
    List(#[from] ListError),
    #[error("a live {entity} with {field} `{value}` already exists")]
    Duplicate { entity: &'static str, field: &'static str, value: String, existing_id: Option<uuid::Uuid> },
    #[error("external id {}:{} belongs to another {entity}", external_id.source, external_id.id)]
    ExternalIdTaken { entity: &'static str, index: usize, external_id: ExternalId, existing_id: Option<uuid::Uuid> },
    #[error("{field} cannot change from `{from}` to `{to}`")]
    InvalidTransition { field: &'static str, from: String, to: String, allowed: Vec<String> },
    #[error("the {entity} is in a state that does not allow this: {reason}")]
    Conflict { entity: &'static str, code: &'static str, reason: String },
    /// The record is the loser of a merge: a tombstone that points at the survivor.
    #[error("the {entity} was merged into {into}")]
    Merged { entity: &'static str, into: uuid::Uuid },
    #[error("the {entity} is being changed by others at the same moment; retry")]
    Contended { entity: &'static str },
    #[error("the record has changed since version {expected}; it is now at version {current}")]
    VersionConflict { expected: i64, current: i64 },
    #[error(transparent)]
    Db(#[from] DbError),
    /// An error of another domain's use case (accounts, contacts), answered as that domain
    /// answers it.
    #[error("{message}")]
    Foreign {
        class: ErrorClass,
        code: &'static str,
        message: String,
        fields: Vec<FieldError>,
        extra: Option<serde_json::Map<String, serde_json::Value>>,
    },
}

impl From<diesel::result::Error> for RecordError {
    fn from(e: diesel::result::Error) -> Self {
        RecordError::Db(DbError::Query(e))
    }
}

impl RecordError {
    /// Carries another domain's error with its class, code, fields and extras.
    pub fn foreign(e: &dyn DomainError) -> RecordError {
        RecordError::Foreign {
            class: e.class(),
            code: e.code(),
            message: e.to_string(),
            fields: e.field_errors(),
            extra: e.extra(),
        }
    }

    /// One invalid field.
    pub fn invalid(entity: &'static str, field: &str, code: &str, message: impl Into<String>) -> RecordError {
        RecordError::Invalid { entity, errors: FieldErrors(vec![FieldError::new(field, code, message)]) }
    }

    /// `field` names a record that does not exist.
    pub fn missing_reference(entity: &'static str, field: &str, what: &str, id: impl std::fmt::Display) -> RecordError {
        RecordError::invalid(entity, field, "not_found", format!("{what} {id} does not exist"))
    }

    /// Rewrites field names of validation errors (`lines[0].`…, `operations[3].`…).
    pub fn prefixed(self, prefix: &str) -> RecordError {
        match self {
            RecordError::Invalid { entity, errors } => RecordError::Invalid {
                entity,
                errors: FieldErrors(
                    errors
                        .0
                        .into_iter()
                        .map(|mut f| {
                            f.field = format!("{prefix}{}", f.field);
                            f
                        })
                        .collect(),
                ),
            },
            other => other,
        }
    }
}

impl DomainError for RecordError {
    fn class(&self) -> ErrorClass {
        match self {
            RecordError::NotFound { .. } => ErrorClass::NotFound,
            RecordError::Forbidden(_) => ErrorClass::Forbidden,
            RecordError::Invalid { .. } | RecordError::InvalidTransition { .. } => ErrorClass::Unprocessable,
            RecordError::List(_) => ErrorClass::BadRequest,
            RecordError::Duplicate { .. }
            | RecordError::ExternalIdTaken { .. }
            | RecordError::Conflict { .. }
            | RecordError::Contended { .. }
            | RecordError::Merged { .. } => ErrorClass::Conflict,
            RecordError::VersionConflict { .. } => ErrorClass::VersionConflict,
            RecordError::Db(e) => e.class(),
            RecordError::Foreign { class, .. } => *class,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            RecordError::NotFound { .. } => "NOT_FOUND",
            RecordError::Forbidden(e) => e.code(),
            RecordError::Invalid { .. } => "VALIDATION_FAILED",
            RecordError::List(e) => DomainError::code(e),
            RecordError::Duplicate { .. } | RecordError::ExternalIdTaken { .. } => "DUPLICATE_RECORD",
            RecordError::InvalidTransition { .. } => "INVALID_TRANSITION",
            RecordError::Conflict { code, .. } => code,
            RecordError::Contended { .. } => "CONTENDED",
            RecordError::Merged { .. } => "MERGED",
            RecordError::VersionConflict { .. } => "VERSION_CONFLICT",
            RecordError::Db(e) => e.code(),
            RecordError::Foreign { code, .. } => code,
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            RecordError::Invalid { errors, .. } => errors.0.clone(),
            RecordError::List(e) => e.field_errors(),
            RecordError::Duplicate { entity, field, value, .. } => {
                vec![FieldError::new(*field, "taken", format!("`{value}` belongs to another live {entity}"))]
            }
            RecordError::ExternalIdTaken { index, .. } => {
                vec![FieldError::new(format!("external_ids[{index}]"), "taken", self.to_string())]
            }
            RecordError::Foreign { fields, .. } => fields.clone(),
            RecordError::InvalidTransition { field, allowed, .. } => vec![FieldError::new(
                *field,
                "invalid_transition",
                if allowed.is_empty() {
                    "no move is allowed from here".to_string()
                } else {
                    format!("allowed next values: {}", allowed.join(", "))
                },
            )],
            _ => Vec::new(),
        }
    }

    fn extra(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        let mut m = serde_json::Map::new();
        match self {
            RecordError::VersionConflict { current, .. } => {
                m.insert("current_version".into(), (*current).into());
            }
            RecordError::Duplicate { existing_id: Some(id), .. }
            | RecordError::ExternalIdTaken { existing_id: Some(id), .. } => {
                m.insert("existing_id".into(), id.to_string().into());
            }
            RecordError::Merged { into, .. } => {
                m.insert("merged_into".into(), into.to_string().into());
            }
            RecordError::Foreign { extra, .. } => return extra.clone(),
            RecordError::InvalidTransition { from, to, allowed, .. } => {
                m.insert("from".into(), from.clone().into());
                m.insert("to".into(), to.clone().into());
                m.insert("allowed".into(), serde_json::json!(allowed));
            }
            _ => return None,
        }
        Some(m)
    }
}
