use crm_core::actor::Forbidden;
use crm_core::ids::AccountId;
use crm_core::list::ListError;
use crm_core::{DomainError, ErrorClass, FieldError, FieldErrors};
use crm_db::DbError;

/// Everything an account use case can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("account not found")]
    NotFound,
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    #[error("the account is invalid: {0}")]
    Invalid(FieldErrors),
    #[error(transparent)]
    List(#[from] ListError),
    #[error("a live account with domain `{domain}` already exists")]
    Duplicate { domain: String, existing_id: Option<AccountId> },
    #[error("external id {}:{} belongs to another account", external_id.source, external_id.id)]
    ExternalIdTaken { index: usize, external_id: crm_core::ExternalId, existing_id: Option<AccountId> },
    #[error("the account is being changed by others at the same moment; retry")]
    Contended,
    #[error("the account has changed since version {expected}; it is now at version {current}")]
    VersionConflict { expected: i64, current: i64 },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for AccountError {
    fn from(e: diesel::result::Error) -> Self {
        AccountError::Db(DbError::Query(e))
    }
}

impl From<FieldErrors> for AccountError {
    fn from(e: FieldErrors) -> Self {
        AccountError::Invalid(e)
    }
}

impl DomainError for AccountError {
    fn class(&self) -> ErrorClass {
        match self {
            AccountError::NotFound => ErrorClass::NotFound,
            AccountError::Forbidden(_) => ErrorClass::Forbidden,
            AccountError::Invalid(_) => ErrorClass::Unprocessable,
            AccountError::List(_) => ErrorClass::BadRequest,
            AccountError::Duplicate { .. } | AccountError::ExternalIdTaken { .. } | AccountError::Contended => {
                ErrorClass::Conflict
            }
            AccountError::VersionConflict { .. } => ErrorClass::VersionConflict,
            AccountError::Db(e) => e.class(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AccountError::NotFound => "NOT_FOUND",
            AccountError::Forbidden(e) => e.code(),
            AccountError::Invalid(_) => "VALIDATION_FAILED",
            AccountError::List(e) => DomainError::code(e),
            AccountError::Duplicate { .. } | AccountError::ExternalIdTaken { .. } => "DUPLICATE_RECORD",
            AccountError::Contended => "CONTENDED",
            AccountError::VersionConflict { .. } => "VERSION_CONFLICT",
            AccountError::Db(e) => e.code(),
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            AccountError::Invalid(e) => e.0.clone(),
            AccountError::List(e) => e.field_errors(),
            AccountError::Duplicate { domain, .. } => {
                vec![FieldError::new("domain", "taken", format!("`{domain}` belongs to another live account"))]
            }
            AccountError::ExternalIdTaken { index, .. } => {
                vec![FieldError::new(format!("external_ids[{index}]"), "taken", self.to_string())]
            }
            _ => Vec::new(),
        }
    }

    fn extra(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        let mut m = serde_json::Map::new();
        match self {
            AccountError::VersionConflict { current, .. } => {
                m.insert("current_version".into(), (*current).into());
            }
            AccountError::Duplicate { existing_id: Some(id), .. }
            | AccountError::ExternalIdTaken { existing_id: Some(id), .. } => {
                m.insert("existing_id".into(), id.to_string().into());
            }
            _ => return None,
        }
        Some(m)
    }
}
