//! Support cases: inquiries, complaints, claims and tickets, with a status workflow, SLA due
//! times from priority, first-response and resolution times, and comments every department
//! can read.

pub mod model;
pub mod read;
pub mod sla;

use std::collections::HashMap;

use chrono::NaiveDateTime;
use crm_core::ids::{CaseId, CommentId, UserId};
use crm_core::{Actor, FieldError, FieldErrors, Scope, Timestamp};
use crm_db::schema::case_comments;
use crm_db::types::DbUuid;
use crm_db::{AnyConnection, to_utc};
use crm_events::Action;
use crm_records::custom::{CustomResource, validated};
use crm_records::{Record, RecordError, Stored};
use diesel::prelude::*;
use serde::Serialize;

pub use model::{
    CASE_CATALOG, Case, CaseComment, CaseInput, CaseOrigin, CasePatch, CaseRow, CaseStatus, CaseType, CommentInput,
    Priority, Visibility,
};
pub use sla::{SlaPolicy, get_sla_policy, set_sla_policy, sla_policy};

fn now() -> Timestamp {
    to_utc(crm_db::now())
}

impl Record for Case {
    type Input = CaseInput;
    type Patch = CasePatch;

    const READ: Scope = Scope::CasesRead;
    const WRITE: Scope = Scope::CasesWrite;

    fn owner(&self) -> Option<uuid::Uuid> {
        self.assignee_id.map(|u| u.0)
    }

    fn build(
        conn: &mut AnyConnection,
        _actor: &Actor,
        id: CaseId,
        mut input: CaseInput,
        prev: Option<&Self>,
        now: crm_core::Timestamp,
    ) -> Result<Self, RecordError> {
        let entity = Self::ENTITY;
        let custom = input.custom_fields.take();
        let (i, custom) =
            validated(conn, CustomResource::Cases, input.normalize(), custom, prev.map(|p| &p.custom_fields))?;
        let mut c = prev.cloned().unwrap_or_else(Case::blank);
        c.custom_fields = custom;
        c.id = id;
        c.subject = i.subject.unwrap_or_default();
        c.description = i.description;
        c.case_type = i.case_type.unwrap_or(CaseType::Question);
        c.origin = i.origin;
        c.team = i.team;
        c.satisfaction = i.satisfaction;
        c.tags = i.tags;
        c.external_ids = i.external_ids;

        // References, checked when they change. Without an account, the contact's is taken (a
        // patch that changes the contact and not the account re-derives it; see `apply`).
        let contact_changed = prev.is_none_or(|p| p.contact_id != i.contact_id);
        c.account_id =
            crm_contacts::read::account_for_contact(conn, entity, i.contact_id, contact_changed, i.account_id)?;
        c.contact_id = i.contact_id;
        if prev.is_none_or(|p| p.account_id != c.account_id) {
            crm_records::check_ref(conn, entity, "account_id", c.account_id)?;
        }
        if prev.is_none_or(|p| p.assignee_id != i.assignee_id) {
            crm_users::check_user(conn, entity, "assignee_id", i.assignee_id, true)?;
        }
        c.assignee_id = i.assignee_id;

        // Workflow.
        let status = i.status.unwrap_or(CaseStatus::New);
        match prev {
            None => {
                if !matches!(status, CaseStatus::New | CaseStatus::Open) {
                    return Err(RecordError::InvalidTransition {
                        field: "status",
                        from: "(none)".into(),
                        to: status.as_str().into(),
                        allowed: vec!["new".into(), "open".into()],
                    });
                }
                c.number = format!("CS-{:06}", crm_db::next_counter(conn, "case_number")?);
            }
            Some(p) if p.status != status => {
                if !p.status.allowed_next().contains(&status) {
                    return Err(RecordError::InvalidTransition {
                        field: "status",
                        from: p.status.as_str().into(),
                        to: status.as_str().into(),
                        allowed: p.status.allowed_next().iter().map(|s| s.as_str().to_string()).collect(),
                    });
                }
                match status {
                    CaseStatus::Resolved => c.resolved_at = Some(now),
                    CaseStatus::Closed => c.closed_at = Some(now),
                    CaseStatus::Open if !p.status.is_open() => {
                        // Reopened: it is work again, and its SLA restarts from now.
                        c.resolved_at = None;
                        c.closed_at = None;
                    }
                    _ => {}
                }
                if matches!(status, CaseStatus::Pending | CaseStatus::Resolved) && c.first_response_at.is_none() {
                    c.first_response_at = Some(now);
                }
            }
            Some(_) => {}
        }
        let reopened = prev.is_some_and(|p| !p.status.is_open()) && status.is_open();
        c.status = status;

        // SLA: from creation or the latest reopening, by priority.
        let priority = i.priority.unwrap_or(Priority::Normal);
        if prev.is_none() || reopened {
            c.sla_started_at = Some(now);
        }
        if prev.is_none_or(|p| p.priority != priority) || reopened {
            let start = c.sla_started_at.or(prev.map(|p| p.created_at)).unwrap_or(now);
            c.sla_due_at = sla_policy(conn)?.due(priority, start);
        }
        c.priority = priority;
        Ok(c)
    }
}

/// Notes the first customer-visible answer on a case (once).
pub fn note_response(conn: &mut AnyConnection, actor: &Actor, id: CaseId, at: Timestamp) -> Result<(), RecordError> {
    crm_records::modify::<Case>(conn, actor, id, |c| {
        if c.first_response_at.is_some() {
            return false;
        }
        c.first_response_at = Some(at);
        true
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Comments

#[derive(Queryable, Insertable, Clone, Debug)]
#[diesel(table_name = case_comments)]
struct CommentRow {
    id: DbUuid,
    case_id: DbUuid,
    author_id: Option<DbUuid>,
    author_sub: String,
    body: String,
    visibility: String,
    department: Option<String>,
    created_at: NaiveDateTime,
}

impl From<CommentRow> for CaseComment {
    fn from(r: CommentRow) -> CaseComment {
        CaseComment {
            id: CommentId(r.id.0),
            case_id: CaseId(r.case_id.0),
            author_id: r.author_id.map(|u| UserId(u.0)),
            author: r.author_sub,
            body: r.body,
            visibility: Visibility::parse(&r.visibility).unwrap_or(Visibility::Internal),
            department: r.department.as_deref().and_then(crm_users::Department::parse),
            created_at: to_utc(r.created_at),
        }
    }
}

/// The least a caller needs to comment at all: reading cases, and writing them or the contact
/// history (what a public comment needs more is checked once the body is read).
pub fn authorize_comment(actor: &Actor) -> Result<(), crm_core::actor::Forbidden> {
    actor.require(Scope::CasesRead)?;
    if actor.has(Scope::InteractionsWrite) { Ok(()) } else { actor.require(Scope::CasesWrite) }
}

/// Adds a comment. Any department that writes contact history (`interactions:write`) or works
/// cases (`cases:write`) may add internal comments; customer-visible (`public`) ones need
/// `cases:write`, and the first one counts as the case's first response.
#[tracing::instrument(skip_all, fields(actor = %actor.sub, %case_id))]
pub fn add_comment(
    conn: &mut AnyConnection,
    actor: &Actor,
    case_id: CaseId,
    input: CommentInput,
) -> Result<CaseComment, RecordError> {
    authorize_comment(actor)?;
    let visibility = input.visibility.unwrap_or(Visibility::Internal);
    if visibility == Visibility::Public || !actor.has(Scope::InteractionsWrite) {
        actor.require(Scope::CasesWrite)?;
    }
    let body = input.body.trim().to_string();
    let mut errs = FieldErrors::new();
    if body.is_empty() {
        errs.0.push(FieldError::new("body", "required", "a comment needs a body"));
    } else if body.len() > 100_000 {
        errs.0.push(FieldError::new("body", "too_long", "at most 100000 bytes"));
    }
    if !errs.0.is_empty() {
        return Err(RecordError::Invalid { entity: "case_comment", errors: errs });
    }
    let case = Case::find(conn, case_id)?.ok_or(RecordError::NotFound { entity: Case::ENTITY })?;
    crm_records::visibility::require(conn, actor, &case)?;
    let user = crm_users::current_user(conn, actor)?;
    let comment = CaseComment {
        id: CommentId::new(),
        case_id,
        author_id: user.as_ref().map(|u| u.id),
        author: actor.sub.clone(),
        body,
        visibility,
        department: input.department.or(user.and_then(|u| u.department)),
        created_at: now(),
    };
    diesel::insert_into(case_comments::table)
        .values(CommentRow {
            id: DbUuid(comment.id.0),
            case_id: DbUuid(case_id.0),
            author_id: comment.author_id.map(|u| DbUuid(u.0)),
            author_sub: comment.author.clone(),
            body: comment.body.clone(),
            visibility: visibility.as_str().to_string(),
            department: comment.department.map(|d| d.as_str().to_string()),
            created_at: comment.created_at.naive_utc(),
        })
        .execute(conn)?;
    let json = serde_json::to_value(&comment).unwrap_or_default();
    crm_events::record(conn, actor, "case_comment", comment.id.0, Action::Created, None, Some(json))?;
    if visibility == Visibility::Public && case.first_response_at.is_none() {
        note_response(conn, actor, case_id, comment.created_at)?;
    }
    Ok(comment)
}

/// A page of a case's comments, oldest first.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommentPage {
    pub data: Vec<CaseComment>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<CommentId>,
}

/// Most comments in one page, and the default.
pub const MAX_COMMENTS: u32 = 1000;
pub const DEFAULT_COMMENTS: u32 = 100;

fn check_comment_limit(limit: u32) -> Result<(), RecordError> {
    crm_core::list::page_size(limit, MAX_COMMENTS)?;
    Ok(())
}

/// `limit + 1` rows cut to a page: whether there is a next one is known, not guessed.
fn comment_page(mut rows: Vec<CaseComment>, limit: u32) -> CommentPage {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_after = if more { rows.last().map(|c| c.id) } else { None };
    CommentPage { data: rows, next_after }
}

/// A case's comments, oldest first, `limit` (1 to 1000) at a time; `after` (a comment id)
/// continues a page.
pub fn list_comments(
    conn: &mut AnyConnection,
    actor: &Actor,
    case_id: CaseId,
    after: Option<CommentId>,
    limit: u32,
) -> Result<CommentPage, RecordError> {
    actor.require(Scope::CasesRead)?;
    check_comment_limit(limit)?;
    crm_records::get::<Case>(conn, actor, case_id)?;
    let mut q = case_comments::table
        .filter(case_comments::case_id.eq(DbUuid(case_id.0)))
        .order((case_comments::created_at.asc(), case_comments::id.asc()))
        .limit(i64::from(limit) + 1)
        .into_boxed::<crm_db::MultiBackend>();
    if let Some(a) = after {
        // Keyset on (created_at, id), the order of the list.
        let at: Option<NaiveDateTime> = case_comments::table
            .filter(case_comments::id.eq(DbUuid(a.0)))
            .filter(case_comments::case_id.eq(DbUuid(case_id.0)))
            .select(case_comments::created_at)
            .first(conn)
            .optional()?;
        let at = at.ok_or_else(|| RecordError::NotFound { entity: "case_comment" })?;
        q = q.filter(
            case_comments::created_at
                .gt(at)
                .or(case_comments::created_at.eq(at).and(case_comments::id.gt(DbUuid(a.0)))),
        );
    }
    let rows = q.load::<CommentRow>(conn)?.into_iter().map(CaseComment::from).collect();
    Ok(comment_page(rows, limit))
}

/// The first page of comments of several cases at once (GraphQL `Case.comments`), one
/// statement: the first `limit + 1` of each case, oldest first.
pub fn first_comments(
    conn: &mut AnyConnection,
    actor: &Actor,
    ids: &[CaseId],
    limit: u32,
) -> Result<HashMap<CaseId, CommentPage>, RecordError> {
    actor.require(Scope::CasesRead)?;
    check_comment_limit(limit)?;
    let mut by_case: HashMap<CaseId, Vec<CaseComment>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let mut cond = crm_db::sql::Sql::new(conn.backend());
        cond.push(
            "id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY case_id ORDER BY created_at, id) \
             AS rn FROM case_comments WHERE ",
        )
        .append(crm_db::sql::in_ids("case_id", chunk.iter().map(|c| c.0), conn.backend()))
        .push(") ranked WHERE rn <= ")
        .bind(i64::from(limit) + 1)
        .push(")");
        let rows: Vec<CommentRow> = case_comments::table
            .into_boxed::<crm_db::MultiBackend>()
            .filter(cond)
            .order((case_comments::case_id.asc(), case_comments::created_at.asc(), case_comments::id.asc()))
            .load(conn)?;
        for c in rows.into_iter().map(CaseComment::from) {
            by_case.entry(c.case_id).or_default().push(c);
        }
    }
    Ok(ids.iter().map(|id| (*id, comment_page(by_case.remove(id).unwrap_or_default(), limit))).collect())
}

/// The cases domain's side of merges: cases of a merged contact or account move to the survivor.
pub fn hooks() -> crm_records::hooks::Hooks {
    use crm_core::ids::{AccountId, ContactId};
    use crm_records::merge::repoint;
    crm_records::hooks::Hooks::new()
        .on_merge("contact", |conn, actor, losers, survivor| {
            let to = Some(ContactId(survivor));
            Ok(vec![repoint::<Case>(conn, actor, "contact_id", losers, |c| {
                c.contact_id = to;
                true
            })?])
        })
        .on_merge("account", |conn, actor, losers, survivor| {
            let to = Some(AccountId(survivor));
            Ok(vec![repoint::<Case>(conn, actor, "account_id", losers, |c| {
                c.account_id = to;
                true
            })?])
        })
}
