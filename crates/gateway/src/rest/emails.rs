//! One-to-one email: a rep writes to a contact through the server's SMTP server, and replies
//! handed in by the mail system are matched and logged.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use crm_campaigns::emails::{self, DirectEmailInput, InboundEmail, InboundResult};
use crm_campaigns::sending::Outcome;
use crm_core::Scope;
use crm_core::ids::ContactId;
use crm_interactions::Interaction;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

/// Sends a one-to-one email, then logs it; what a failed send answers. Shared by REST and
/// GraphQL.
pub async fn send(
    db: &crm_db::Db,
    mailer: Option<&crate::mail::Mailer>,
    actor: crm_core::Actor,
    contact: ContactId,
    input: DirectEmailInput,
) -> Result<Interaction, ApiError> {
    let Some(mailer) = mailer else {
        // As launching an email campaign: a state of this server, not a failure.
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "MAILER_NOT_CONFIGURED",
            "this server sends no email: set CRM_SMTP_URL",
        ));
    };
    let domain = mailer.domain();
    let who = actor.clone();
    let mail = db.run(move |c| emails::compose(c, &who, contact, input, &domain)).await?;
    match mailer.send_direct(&mail).await {
        Outcome::Accepted => Ok(db.transaction(move |c| emails::log_sent(c, &actor, &mail)).await?),
        Outcome::Rejected(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "RECIPIENT_REJECTED",
            format!("the SMTP server refused the recipient for good: {e}"),
        )),
        Outcome::Deferred(e) | Outcome::Unavailable(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SMTP_UNAVAILABLE",
            format!("the SMTP server did not take the message; nothing was sent, try again later: {e}"),
        )),
        Outcome::InDoubt(e) => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "SMTP_IN_DOUBT",
            format!(
                "the SMTP server went silent after taking the message: it may have been sent (not logged); check before sending again: {e}"
            ),
        )),
    }
}

/// Writes to a contact: a template rendered for the contact, or a subject and text (merge
/// fields allowed, checked like a template's), sent now through the server's SMTP server
/// from `CRM_SMTP_FROM` under the caller's name, replies to the caller's own address. Once the
/// SMTP server took it, it is logged as an outbound email interaction carrying its
/// `Message-ID` (external id `message-id`), and that is the answer. Needs `interactions:write`.
/// Refused for an archived contact (409), one without an address (422), one who opted out of
/// email (409 `EMAIL_CONSENT_WITHDRAWN`) or on a server without SMTP (409
/// `MAILER_NOT_CONFIGURED`); a refused recipient is `422 RECIPIENT_REJECTED`, an unusable SMTP
/// server `503 SMTP_UNAVAILABLE` (nothing sent).
#[utoipa::path(
    tag = "interactions",
    params(("id" = uuid::Uuid, Path, description = "Contact id")),
    request_body = DirectEmailInput,
    responses(
        (status = 201, body = Interaction),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 503, body = Problem), (status = 504, body = Problem)
    )
)]
#[post("/contacts/{id}/emails")]
pub async fn send_email(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<ContactId>,
    body: crate::rest::Json<DirectEmailInput>,
) -> Result<HttpResponse, ApiError> {
    let input = body.after(auth.0.require(Scope::InteractionsWrite))?;
    let logged = send(&state.db, state.mailer.as_ref(), auth.0, id.into_inner(), input).await?;
    Ok(HttpResponse::Created().json(logged))
}

/// Hands in an email received (from the mail provider's inbound webhook, or a script reading
/// a mailbox). It is matched by `In-Reply-To`, then `References`, to a one-to-one email logged
/// here (`reply`) or a campaign message this server sent (`campaign_reply`: also the member's
/// response), else by the sender's address to a contact (`sender`), and logged as an inbound
/// email interaction; `none` logs nothing. Handing the same `message_id` in again changes
/// nothing. Needs `interactions:write`.
#[utoipa::path(
    tag = "interactions",
    request_body = InboundEmail,
    responses(
        (status = 200, body = InboundResult),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)
    )
)]
#[post("/emails/inbound")]
pub async fn receive_email(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: crate::rest::Json<InboundEmail>,
) -> Result<HttpResponse, ApiError> {
    let input = body.after(auth.0.require(Scope::InteractionsWrite))?;
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.transaction(move |c| emails::receive(c, &actor, input)).await?))
}
