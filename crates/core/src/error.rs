//! Error vocabulary shared by every domain: a class (what the caller can do about it), a stable
//! code, and per-field details. The gateway maps the class to an HTTP status once.

use serde::Serialize;

/// What kind of failure an error is; the gateway maps each to one HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Malformed request (bad filter, bad cursor, bad id): 400.
    BadRequest,
    /// Missing or bad credentials: 401.
    Unauthenticated,
    /// Authenticated but not allowed: 403.
    Forbidden,
    /// No such record (or not visible): 404.
    NotFound,
    /// Uniqueness or state conflict: 409.
    Conflict,
    /// Stale `If-Match` / `expectedVersion`: 412.
    VersionConflict,
    /// What was asked for existed and is gone for good (e.g. change-feed events past retention): 410.
    Gone,
    /// Too large: 413.
    TooLarge,
    /// Well-formed input that breaks a rule: 422.
    Unprocessable,
    /// The database is unavailable: 503.
    Unavailable,
    /// Anything else; details stay in the logs: 500.
    Internal,
}

/// One problem with one input field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "graphql", derive(async_graphql::SimpleObject))]
pub struct FieldError {
    /// The field's wire name, dotted for nested fields (`annual_revenue.currency`).
    pub field: String,
    /// Stable machine code, e.g. `invalid_email`, `required`, `too_long`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), code: code.into(), message: message.into() }
    }
}

/// An accumulator for validation: collect every field problem, then fail once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        FieldErrors(Vec::new())
    }

    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    pub fn add(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, code, message));
    }

    /// Records `immutable` on `field` when the record existed (`before`) with another value:
    /// a field that cannot change once the record exists. `instead` says what to do.
    pub fn immutable<T: PartialEq>(&mut self, field: &str, before: Option<T>, after: T, instead: &str) {
        if before.is_some_and(|b| b != after) {
            self.add(field, "immutable", format!("`{field}` cannot change: {instead}"));
        }
    }

    /// Keep the value of `r`, or record its error and return `None`.
    pub fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Merge the errors `validator` found, with their field names.
    pub fn extend_validator(&mut self, errs: validator::ValidationErrors) {
        for (field, kind) in errs.into_errors() {
            collect_validator(&mut self.0, field.as_ref(), kind);
        }
    }

    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

fn collect_validator(out: &mut Vec<FieldError>, field: &str, kind: validator::ValidationErrorsKind) {
    use validator::ValidationErrorsKind as K;
    match kind {
        K::Field(errs) => {
            for e in errs {
                let message = e.message.as_ref().map(|m| m.to_string()).unwrap_or_else(|| describe(&e));
                out.push(FieldError::new(field, e.code.as_ref(), message));
            }
        }
        K::Struct(inner) => {
            for (f, k) in inner.into_errors() {
                collect_validator(out, &format!("{field}.{f}"), k);
            }
        }
        K::List(items) => {
            for (i, inner) in items {
                for (f, k) in inner.into_errors() {
                    collect_validator(out, &format!("{field}[{i}].{f}"), k);
                }
            }
        }
    }
}

fn describe(e: &validator::ValidationError) -> String {
    let p = |k: &str| e.params.get(k).map(|v| v.to_string());
    match e.code.as_ref() {
        "length" => match (p("min"), p("max")) {
            (Some(min), Some(max)) => format!("length must be between {min} and {max}"),
            (None, Some(max)) => format!("length must be at most {max}"),
            (Some(min), None) => format!("length must be at least {min}"),
            _ => "invalid length".into(),
        },
        "range" => match (p("min"), p("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (None, Some(max)) => format!("must be at most {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            _ => "out of range".into(),
        },
        other => format!("invalid value ({other})"),
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
        f.write_str(&parts.join("; "))
    }
}

/// What the gateway needs from any domain error to answer in REST and GraphQL alike.
pub trait DomainError: std::error::Error {
    fn class(&self) -> ErrorClass;
    /// Stable SCREAMING_SNAKE code, the same in problem+json and GraphQL `extensions.code`.
    fn code(&self) -> &'static str;
    fn field_errors(&self) -> Vec<FieldError> {
        Vec::new()
    }
    /// Extra members for the error body, e.g. `{"current_version": 3}`.
    fn extra(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        None
    }
}

impl DomainError for crate::actor::Forbidden {
    fn class(&self) -> ErrorClass {
        ErrorClass::Forbidden
    }
    fn code(&self) -> &'static str {
        "FORBIDDEN"
    }
}
