use crm_core::actor::Forbidden;
use crm_core::ids::ContactId;
use crm_core::list::ListError;
use crm_core::{DomainError, ErrorClass, FieldError, FieldErrors};
use crm_db::DbError;

/// Everything an account use case can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    #[error("contact not found")]
    NotFound,
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    #[error("the contact is invalid: {0}")]
    Invalid(FieldErrors),
    #[error(transparent)]
    List(#[from] ListError),
    #[error("a live contact with email `{email}` already exists")]
    Duplicate { email: String, existing_id: Option<ContactId> },
    #[error("external id {}:{} belongs to another contact", external_id.source, external_id.id)]
    ExternalIdTaken { index: usize, external_id: crm_core::ExternalId, existing_id: Option<ContactId> },
    #[error("the contact is being changed by others at the same moment; retry")]
    Contended,
    #[error("the contact has changed since version {expected}; it is now at version {current}")]
    VersionConflict { expected: i64, current: i64 },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ContactError {
    fn from(e: diesel::result::Error) -> Self {
        ContactError::Db(DbError::Query(e))
    }
}

impl From<FieldErrors> for ContactError {
    fn from(e: FieldErrors) -> Self {
        ContactError::Invalid(e)
    }
}

impl DomainError for ContactError {
    fn class(&self) -> ErrorClass {
        match self {
            ContactError::NotFound => ErrorClass::NotFound,
            ContactError::Forbidden(_) => ErrorClass::Forbidden,
            ContactError::Invalid(_) => ErrorClass::Unprocessable,
            ContactError::List(_) => ErrorClass::BadRequest,
            ContactError::Duplicate { .. } | ContactError::ExternalIdTaken { .. } | ContactError::Contended => {
                ErrorClass::Conflict
            }
            ContactError::VersionConflict { .. } => ErrorClass::VersionConflict,
            ContactError::Db(e) => e.class(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ContactError::NotFound => "NOT_FOUND",
            ContactError::Forbidden(e) => e.code(),
            ContactError::Invalid(_) => "VALIDATION_FAILED",
            ContactError::List(e) => DomainError::code(e),
            ContactError::Duplicate { .. } | ContactError::ExternalIdTaken { .. } => "DUPLICATE_RECORD",
            ContactError::Contended => "CONTENDED",
            ContactError::VersionConflict { .. } => "VERSION_CONFLICT",
            ContactError::Db(e) => e.code(),
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            ContactError::Invalid(e) => e.0.clone(),
            ContactError::List(e) => e.field_errors(),
            ContactError::Duplicate { email, .. } => {
                vec![FieldError::new("email", "taken", format!("`{email}` belongs to another live contact"))]
            }
            ContactError::ExternalIdTaken { index, .. } => {
                vec![FieldError::new(format!("external_ids[{index}]"), "taken", self.to_string())]
            }
            _ => Vec::new(),
        }
    }

    fn extra(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        let mut m = serde_json::Map::new();
        match self {
            ContactError::VersionConflict { current, .. } => {
                m.insert("current_version".into(), (*current).into());
            }
            ContactError::Duplicate { existing_id: Some(id), .. }
            | ContactError::ExternalIdTaken { existing_id: Some(id), .. } => {
                m.insert("existing_id".into(), id.to_string().into());
            }
            _ => return None,
        }
        Some(m)
    }
}
