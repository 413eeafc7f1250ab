//! Campaign management beyond the records' CRUD: segment previews, members and snapshots; a
//! campaign's members, responses and statistics; its messages when this server sends them, and
//! template previews.

use actix_web::{HttpResponse, delete, get, post, web};
use crm_campaigns::Segment;
use crm_campaigns::mailing;
use crm_campaigns::members::{self, CampaignStats, Member, MemberChange, MemberStatus, ResponseInput, Responses};
use crm_campaigns::review::{self, CampaignComparison, CampaignTrend, ComparisonQuery, Interval};
use crm_campaigns::segments::{self, SegmentDraft, SegmentPreview};
use crm_campaigns::sending::{self, CampaignMessage, SendProgress, SendStatus};
use crm_campaigns::templates::{self, TemplatePreview};
use crm_core::Scope;
use crm_core::ids::{CampaignId, ContactId, EmailTemplateId, SegmentId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::page_json;
use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};
use crate::registry::contacts::ContactList;

/// `?limit=` on a preview.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// Members to return, 1 to 1000 (default 20).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// The count and first members of a segment definition, without saving it: type a criterion
/// and see whom it selects. Needs `campaigns:read`, `contacts:read` and the read scopes of
/// what the criterion follows (`products:read` for purchases, …).
#[utoipa::path(
    tag = "campaigns",
    params(PreviewQuery),
    request_body = SegmentDraft,
    responses(
        (status = 200, body = SegmentPreview),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[post("/segments/preview")]
pub async fn preview_segment(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<PreviewQuery>,
    body: crate::rest::Json<SegmentDraft>,
) -> Result<HttpResponse, ApiError> {
    let query = query.after(auth.0.require(Scope::CampaignsRead))?;
    let draft = body.after(auth.0.require(Scope::CampaignsRead))?;
    let (actor, limit) = (auth.0, query.limit.unwrap_or(20));
    Ok(HttpResponse::Ok().json(state.db.run(move |c| segments::preview(c, &actor, draft, limit)).await?))
}

/// `?limit=&after=` on member lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// Members per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only members after this contact id (`next_cursor` of the previous page).
    pub after: Option<ContactId>,
}

/// A segment's members now (a snapshot's frozen members, a dynamic segment evaluated), in
/// contact id order, with `total`. Page through with `after=<next_cursor>` to export them.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Segment id"), MembersQuery),
    responses(
        (status = 200, body = ContactList),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)
    )
)]
#[get("/segments/{id}/members")]
pub async fn segment_members(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<SegmentId>,
    query: crate::rest::Query<MembersQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::CampaignsRead).and(auth.0.require(Scope::ContactsRead)))?;
    let (actor, id) = (auth.0, id.into_inner());
    let page = state.db.run(move |c| segments::members(c, &actor, id, q.after, q.limit.unwrap_or(100))).await?;
    Ok(HttpResponse::Ok().json(page_json(page, None)))
}

/// Takes a snapshot segment's membership again (`snapshot_at` becomes now). A dynamic segment
/// is `409 SEGMENT_NOT_SNAPSHOT`.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Segment id")),
    responses(
        (status = 200, body = Segment),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/segments/{id}/snapshot")]
pub async fn retake_snapshot(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<SegmentId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    let s = state.db.transaction(move |c| segments::retake_snapshot(c, &actor, id)).await?;
    Ok(HttpResponse::Ok().json(s))
}

/// `?status=&limit=&after=` on a campaign's members.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CampaignMembersQuery {
    /// Only members with this status.
    pub status: Option<MemberStatus>,
    /// Members per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only members after this contact id (`next_cursor` of the previous page).
    pub after: Option<ContactId>,
}

/// A page of campaign members: `{"data": [...], "next_cursor": "..." | null, "total": n}`.
#[derive(Serialize, ToSchema)]
pub struct MemberList {
    pub data: Vec<Member>,
    pub next_cursor: Option<String>,
    /// Members (of the status asked for).
    pub total: i64,
}

/// A campaign's members in contact id order, with their status, exclusion reason and
/// response timestamps.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Campaign id"), CampaignMembersQuery),
    responses(
        (status = 200, body = MemberList),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)
    )
)]
#[get("/campaigns/{id}/members")]
pub async fn campaign_members(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<CampaignId>,
    query: crate::rest::Query<CampaignMembersQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::CampaignsRead))?;
    let (actor, id) = (auth.0, id.into_inner());
    let page = state.db.run(move |c| members::list(c, &actor, id, q.status, q.after, q.limit.unwrap_or(100))).await?;
    Ok(HttpResponse::Ok().json(MemberList {
        data: page.data,
        next_cursor: page.next_cursor,
        total: page.total.unwrap_or(0),
    }))
}

/// Contacts to add to a campaign by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMembers {
    /// 1 to 10,000 contacts.
    pub contact_ids: Vec<ContactId>,
}

/// How many members were added.
#[derive(Debug, Serialize, ToSchema)]
pub struct Added {
    /// New members (contacts already members are left as they are).
    pub added: i64,
}

/// Adds contacts to a campaign by hand, before it runs (planned or scheduled). Consent is
/// enforced as for segment members: a contact who may not be reached on the channel becomes
/// an `excluded` member with the reason. Once the campaign runs: `409 CAMPAIGN_ALREADY_LAUNCHED`.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Campaign id")),
    request_body = AddMembers,
    responses(
        (status = 200, body = Added),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/campaigns/{id}/members")]
pub async fn add_campaign_members(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<CampaignId>,
    body: crate::rest::Json<AddMembers>,
) -> Result<HttpResponse, ApiError> {
    let ids = body.after(auth.0.require(Scope::CampaignsWrite).and(auth.0.require(Scope::ContactsRead)))?.contact_ids;
    let (actor, id) = (auth.0, id.into_inner());
    let added = state.db.transaction(move |c| members::add(c, &actor, id, &ids)).await?;
    Ok(HttpResponse::Ok().json(Added { added: i64::try_from(added).unwrap_or(i64::MAX) }))
}

/// Removes a member by hand, before the campaign runs.
#[utoipa::path(
    tag = "campaigns",
    params(
        ("id" = uuid::Uuid, Path, description = "Campaign id"),
        ("contact_id" = uuid::Uuid, Path, description = "The member's contact id")
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)
    )
)]
#[delete("/campaigns/{id}/members/{contact_id}")]
pub async fn remove_campaign_member(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(CampaignId, ContactId)>,
) -> Result<HttpResponse, ApiError> {
    let (actor, (id, contact)) = (auth.0, path.into_inner());
    state.db.transaction(move |c| members::remove(c, &actor, id, contact)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A member's status history, oldest first.
#[utoipa::path(
    tag = "campaigns",
    params(
        ("id" = uuid::Uuid, Path, description = "Campaign id"),
        ("contact_id" = uuid::Uuid, Path, description = "The member's contact id")
    ),
    responses(
        (status = 200, body = Vec<MemberChange>),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/campaigns/{id}/members/{contact_id}/history")]
pub async fn campaign_member_history(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(CampaignId, ContactId)>,
) -> Result<HttpResponse, ApiError> {
    let (actor, (id, contact)) = (auth.0, path.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| members::member_history(c, &actor, id, contact)).await?))
}

/// Responses to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordResponses {
    /// 1 to 10,000 responses and delivery outcomes (a returns file, a call list worked through).
    pub responses: Vec<ResponseInput>,
}

/// Records responses and delivery outcomes of a running or completed campaign, all or none
/// (`422` names each response that cannot be taken: not a member, an excluded member). A
/// funnel step also records the steps it implies (a click implies an open and a delivery);
/// an unsubscribe also withdraws the contact's consent for the channel. Every change is a
/// `campaign_member.updated` event. Before launch: `409 CAMPAIGN_NOT_RUNNING`.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Campaign id")),
    request_body = RecordResponses,
    responses(
        (status = 200, body = Responses),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/campaigns/{id}/responses")]
pub async fn record_campaign_responses(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<CampaignId>,
    body: crate::rest::Json<RecordResponses>,
) -> Result<HttpResponse, ApiError> {
    let r = body.after(auth.0.require(Scope::CampaignsWrite))?.responses;
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.transaction(move |c| members::record_responses(c, &actor, id, r)).await?))
}

/// The review of a campaign and its waves: per channel and in total, targeted, excluded by
/// reason, sent, delivered, bounced, opened, clicked, responded, converted and unsubscribed,
/// the rates in basis points, the cost per currency, cost per response and per conversion,
/// and the plan against the actual figures.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Campaign id")),
    responses(
        (status = 200, body = CampaignStats),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/campaigns/{id}/stats")]
pub async fn campaign_stats(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<CampaignId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| members::stats(c, &actor, id)).await?))
}

/// `?interval=` on a trend.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrendQuery {
    /// `day` (default) or `week` (ISO weeks, Monday first); UTC.
    pub interval: Option<Interval>,
}

/// A campaign's figures (and its waves') per day or week: members reaching each step, cost
/// lines and revenue (last touch) in each period, from the first period with something in it
/// to the last, empty periods included; at most 400 periods (`422 too_many_periods`: ask for
/// weeks).
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Campaign id"), TrendQuery),
    responses(
        (status = 200, body = CampaignTrend),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    )
)]
#[get("/campaigns/{id}/trend")]
pub async fn campaign_trend(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<CampaignId>,
    query: crate::rest::Query<TrendQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::CampaignsRead))?;
    let (actor, id) = (auth.0, id.into_inner());
    let interval = q.interval.unwrap_or(Interval::Day);
    Ok(HttpResponse::Ok().json(state.db.run(move |c| review::trend(c, &actor, id, interval)).await?))
}

/// Launched campaigns side by side (each with its own figures, without its waves; best
/// response rate first), and the same figures per target segment and per promoted product:
/// which segments and products answered best. The 100 latest launched that match are compared.
#[utoipa::path(
    tag = "campaigns",
    params(ComparisonQuery),
    responses(
        (status = 200, body = CampaignComparison),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[get("/campaigns/comparison")]
pub async fn campaign_comparison(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<ComparisonQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::CampaignsRead))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| review::compare(c, &actor, q)).await?))
}

/// `?status=&limit=&after=` on a campaign's messages.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CampaignMessagesQuery {
    /// Only messages with this status.
    pub status: Option<SendStatus>,
    /// Messages per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Only messages after this contact id (`next_cursor` of the previous page).
    pub after: Option<ContactId>,
}

/// A page of campaign messages: `{"data": [...], "next_cursor": "..." | null}`.
#[derive(Serialize, ToSchema)]
pub struct MessageList {
    pub data: Vec<CampaignMessage>,
    pub next_cursor: Option<String>,
}

/// The messages of an email campaign sent by this server (one per member with an address at
/// launch), in contact id order: the address, the status (`queued`, `sending`, `sent`,
/// `bounced`, `failed`, `skipped`, `unknown`), attempts and the last SMTP answer.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Campaign id"), CampaignMessagesQuery),
    responses(
        (status = 200, body = MessageList),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)
    )
)]
#[get("/campaigns/{id}/messages")]
pub async fn campaign_messages(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<CampaignId>,
    query: crate::rest::Query<CampaignMessagesQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::CampaignsRead))?;
    let (actor, id) = (auth.0, id.into_inner());
    let page =
        state.db.run(move |c| sending::messages(c, &actor, id, q.status, q.after, q.limit.unwrap_or(100))).await?;
    Ok(HttpResponse::Ok().json(MessageList { data: page.data, next_cursor: page.next_cursor }))
}

/// How an email campaign's sending stands: messages by status, the last minute's pace and the
/// time left at that pace.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Campaign id")),
    responses(
        (status = 200, body = SendProgress),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)
    )
)]
#[get("/campaigns/{id}/sending")]
pub async fn campaign_sending(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<CampaignId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| sending::progress(c, &actor, id)).await?))
}

/// How many messages were queued again.
#[derive(Debug, Serialize, ToSchema)]
pub struct Requeued {
    pub queued: i64,
}

/// Sends the campaign's `unknown` messages again: those an instance was handing to the SMTP
/// server when it stopped, which may or may not have gone out. Only on purpose (check the SMTP
/// server's log first): nothing is ever sent twice on its own. While the campaign runs, else
/// `409 CAMPAIGN_NOT_RUNNING`.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Campaign id")),
    responses(
        (status = 200, body = Requeued),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)
    )
)]
#[post("/campaigns/{id}/sending/retry-unknown")]
pub async fn retry_unknown_messages(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<CampaignId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    let n = state.db.transaction(move |c| sending::retry_unknown(c, &actor, id)).await?;
    Ok(HttpResponse::Ok().json(Requeued { queued: i64::try_from(n).unwrap_or(i64::MAX) }))
}

/// `?contact_id=` on a template preview.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PreviewFor {
    /// Render for this contact (and its account); without it, for sample values.
    pub contact_id: Option<ContactId>,
}

/// A template rendered for a contact, or for sample values: subject, HTML and text as the
/// recipient reads them, links as written (a message sent tracks them). Needs `contacts:read`
/// with a contact.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Email template id"), PreviewFor),
    responses(
        (status = 200, body = TemplatePreview),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)
    )
)]
#[get("/email-templates/{id}/preview")]
pub async fn preview_email_template(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<EmailTemplateId>,
    query: crate::rest::Query<PreviewFor>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(Scope::CampaignsRead))?;
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.run(move |c| templates::preview(c, &actor, id, q.contact_id)).await?))
}

/// The letters of a post campaign as CSV (UTF-8, a header row): the members who may receive it
/// (not excluded, bounced or unsubscribed) whose contact has a complete address, sorted by
/// country, postal code and name. Columns: `contact_id`, `name`, `title`, `company`, `street`,
/// `postal_code`, `city`, `region`, `country`, `member_status`, and an empty `status` to fill in
/// (`bounced` for a letter returned, `responded`…) before uploading the file back to
/// `POST /campaigns/{id}/responses/import`. Other channels: `409 NOT_A_POST_CAMPAIGN`.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Campaign id")),
    responses(
        (status = 200, content_type = "text/csv", body = String, description = "The mailing list"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)
    )
)]
#[get("/campaigns/{id}/mailing.csv")]
pub async fn campaign_mailing_csv(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<CampaignId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    let letters = state.db.run(move |c| mailing::mailing(c, &actor, id)).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "contact_id",
        "name",
        "title",
        "company",
        "street",
        "postal_code",
        "city",
        "region",
        "country",
        "member_status",
        "status",
    ];
    w.write_record(header).map_err(ApiError::internal)?;
    for l in &letters {
        let id = l.contact_id.to_string();
        w.write_record([
            id.as_str(),
            &l.name,
            l.title.as_deref().unwrap_or_default(),
            l.company.as_deref().unwrap_or_default(),
            &l.street,
            &l.postal_code,
            &l.city,
            l.region.as_deref().unwrap_or_default(),
            &l.country,
            l.status.as_str(),
            "",
        ])
        .map_err(ApiError::internal)?;
    }
    let body = w.into_inner().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"mailing.csv\""))
        .body(body))
}

/// The letters of a post campaign as printable address labels: an HTML page of A4 sheets of
/// 21 labels (3 × 7, 63.5 × 38.1 mm, the common L7160 layout) to print at 100 % or save as
/// PDF from any browser. Same letters and order as `mailing.csv`.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Campaign id")),
    responses(
        (status = 200, content_type = "text/html", body = String, description = "The label sheets"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)
    )
)]
#[get("/campaigns/{id}/mailing/labels")]
pub async fn campaign_mailing_labels(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<CampaignId>,
) -> Result<HttpResponse, ApiError> {
    let (actor, id) = (auth.0, id.into_inner());
    let (campaign, letters) = state
        .db
        .run(move |c| {
            let letters = mailing::mailing(c, &actor, id)?;
            let campaign = crm_records::get::<crm_campaigns::Campaign>(c, &actor, id)?;
            Ok::<_, crm_records::RecordError>((campaign.name, letters))
        })
        .await?;
    let page = crate::labels::render(&campaign, &letters).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", crate::labels::POLICY))
        .body(page))
}

/// When the letters were posted.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Posted {
    /// Defaults to now.
    #[serde(default)]
    pub at: Option<crm_core::Timestamp>,
}

/// Marks the letters of a running post campaign posted: every member still `targeted` on its
/// mailing list becomes `sent`. Before it runs: `409 CAMPAIGN_NOT_RUNNING`.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Campaign id")),
    request_body = Posted,
    responses(
        (status = 200, body = Responses),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)
    )
)]
#[post("/campaigns/{id}/mailing/posted")]
pub async fn campaign_mailing_posted(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<CampaignId>,
    body: crate::rest::Json<Posted>,
) -> Result<HttpResponse, ApiError> {
    let at = body.after(auth.0.require(Scope::CampaignsWrite))?.at;
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.transaction(move |c| mailing::mark_posted(c, &actor, id, at)).await?))
}

/// Records responses and returns uploaded as CSV (`Content-Type: text/csv`, UTF-8, a header
/// row): `status` and `contact_id` or `email` per row; `response_type`, `bounce_kind`, `at`
/// (RFC 3339 or a date) and `note` optional; other columns ignored; rows without a status
/// skipped (so `mailing.csv` comes back with its `status` column filled in). Up to 10,000
/// rows, all or none: `422` names each row that cannot be taken (`rows[3].email`: `not_found`).
#[utoipa::path(
    tag = "campaigns",
    params(("id" = uuid::Uuid, Path, description = "Campaign id")),
    request_body(content = String, content_type = "text/csv", description = "The responses, one per row"),
    responses(
        (status = 200, body = Responses),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[post("/campaigns/{id}/responses/import")]
pub async fn import_campaign_responses(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<CampaignId>,
    req: actix_web::HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use actix_web::http::StatusCode;
    use futures_util::StreamExt;
    auth.0.require(Scope::CampaignsWrite)?;
    let media = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = media.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence != "text/csv" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the file as `Content-Type: text/csv`",
        ));
    }
    let limit = state.limits.max_body_bytes;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request("MALFORMED_BODY", e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("the request body is larger than {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body.to_vec()).map_err(|_| {
        ApiError::from(crm_records::RecordError::invalid(
            "campaign_member",
            "file",
            "invalid_csv",
            "the file is not UTF-8",
        ))
    })?;
    let (actor, id) = (auth.0, id.into_inner());
    Ok(HttpResponse::Ok().json(state.db.transaction(move |c| mailing::import_responses(c, &actor, id, &text)).await?))
}
