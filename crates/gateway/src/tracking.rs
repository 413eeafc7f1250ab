//! The public links of campaign email, for recipients' mail clients and browsers (no token:
//! each link carries its own signed one, `crm_campaigns::tracking`): the open pixel, tracked
//! clicks, unsubscribe (a page with a button, and the one-click POST of RFC 8058) and the
//! response form. A link that does not verify changes nothing and answers 404.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use crm_campaigns::ResponseType;
use crm_campaigns::tracking::{self, Kind, LinkInfo};
use crm_records::RecordError;
use serde::Deserialize;

use crate::app::AppState;

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// The one page every link shows, in its states (merged values are HTML-escaped).
const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;line-height:1.5;color:#222}
button{font:inherit;padding:.5rem 1.25rem;margin-top:1rem}label{display:block;margin:.4rem 0}textarea{width:100%;font:inherit}</style>
</head><body><main>
<h1>{{ title }}</h1>
{% if campaign %}<p>About: <strong>{{ campaign }}</strong></p>{% endif %}
<p>{{ message }}</p>
{% if form == "unsubscribe" %}<form method="post"><button type="submit" name="confirm" value="yes">Unsubscribe</button></form>
{% elif form == "respond" %}<form method="post">
{% for value, label in choices %}<label><input type="radio" name="response_type" value="{{ value }}"{% if loop.first %} checked{% endif %}> {{ label }}</label>
{% endfor %}<label for="note">Anything to add (optional)</label><textarea id="note" name="note" rows="4" maxlength="1000"></textarea>
<button type="submit">Send</button></form>{% endif %}
</main></body></html>"#;

/// What the response form offers.
const CHOICES: [(&str, &str); 4] = [
    ("registered", "Count me in (register me)"),
    ("requested_call", "Please call me"),
    ("replied", "Send me more information"),
    ("complaint", "I want to complain about this message"),
];

fn page(
    status: actix_web::http::StatusCode,
    title: &str,
    campaign: Option<&str>,
    message: &str,
    form: &str,
) -> HttpResponse {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    let env = ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        env
    });
    let ctx = minijinja::context! { title, campaign, message, form, choices => CHOICES.to_vec() };
    // A page a recipient opens now and then: compiled when shown.
    let body = env
        .render_named_str("page.html", PAGE, ctx)
        .unwrap_or_else(|e| format!("<!doctype html><title>Error</title><p>{}</p>", e.kind()));
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn not_found() -> HttpResponse {
    page(
        actix_web::http::StatusCode::NOT_FOUND,
        "Link not found",
        None,
        "This link is not valid. Copy the whole address from the message, or answer the message itself.",
        "",
    )
}

/// The page for an error: not found for a link that does not verify; a plain failure else.
fn failed(e: RecordError) -> HttpResponse {
    match e {
        RecordError::NotFound { .. } => not_found(),
        e => {
            tracing::error!(error = %e, "a tracking link failed");
            page(
                actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                None,
                "We could not record this now. Please try again in a moment.",
                "",
            )
        }
    }
}

/// `GET /t/o/{token}`: the open pixel.
pub async fn open(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    match state.db.transaction(move |c| tracking::open(c, &token)).await {
        Ok(()) => HttpResponse::Ok()
            .content_type("image/gif")
            .insert_header((header::CACHE_CONTROL, "no-store, max-age=0"))
            .body(PIXEL),
        Err(RecordError::NotFound { .. }) => HttpResponse::NotFound().finish(),
        Err(e) => failed(e),
    }
}

/// `GET /t/c/{token}`: a tracked link; redirects to the link the message held.
pub async fn click(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    match state.db.transaction(move |c| tracking::click(c, &token)).await {
        Ok(url) => HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(e) => failed(e),
    }
}

/// `GET /t/u/{token}`: asks to confirm (link scanners follow links; only the POST unsubscribes).
pub async fn unsubscribe_page(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    match state.db.run(move |c| tracking::info(c, &token, Kind::Unsubscribe)).await {
        Ok(LinkInfo { campaign_name }) => page(
            actix_web::http::StatusCode::OK,
            "Unsubscribe",
            Some(&campaign_name),
            "Stop receiving marketing email from us? You will not get messages like this one again.",
            "unsubscribe",
        ),
        Err(e) => failed(e),
    }
}

/// `POST /t/u/{token}`: unsubscribes: the page's button, or a mail client's one-click POST
/// (`List-Unsubscribe=One-Click`, RFC 8058). The email consent is withdrawn whatever state the
/// campaign is in; doing it twice is the same as once.
pub async fn unsubscribe(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    match state.db.transaction(move |c| tracking::unsubscribe(c, &token)).await {
        Ok(LinkInfo { campaign_name }) => page(
            actix_web::http::StatusCode::OK,
            "You are unsubscribed",
            Some(&campaign_name),
            "You will not receive marketing email from us any more.",
            "",
        ),
        Err(e) => failed(e),
    }
}

/// `GET /t/r/{token}`: the response form.
pub async fn response_page(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let token = token.into_inner();
    match state.db.run(move |c| tracking::info(c, &token, Kind::Respond)).await {
        Ok(LinkInfo { campaign_name }) => page(
            actix_web::http::StatusCode::OK,
            "Your answer",
            Some(&campaign_name),
            "What would you like?",
            "respond",
        ),
        Err(e) => failed(e),
    }
}

/// What the response form posts.
#[derive(Debug, Deserialize)]
pub struct ResponseForm {
    response_type: String,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /t/r/{token}`: records the answer (`responded` with its type and note).
pub async fn respond(
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: Result<web::Form<ResponseForm>, actix_web::Error>,
) -> HttpResponse {
    let bad = || {
        page(
            actix_web::http::StatusCode::BAD_REQUEST,
            "Your answer",
            None,
            "Choose one of the answers on the form, then send it.",
            "",
        )
    };
    let Ok(web::Form(form)) = form else { return bad() };
    let Some(kind) = ResponseType::parse(&form.response_type) else { return bad() };
    let token = token.into_inner();
    match state.db.transaction(move |c| tracking::respond(c, &token, kind, form.note)).await {
        Ok(LinkInfo { campaign_name }) => page(
            actix_web::http::StatusCode::OK,
            "Thank you",
            Some(&campaign_name),
            "We have your answer and will follow up.",
            "",
        ),
        Err(e) => failed(e),
    }
}

/// The routes, outside `/api/v1` and without authentication.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/t/o/{token}").route(web::get().to(open)))
        .service(web::resource("/t/c/{token}").route(web::get().to(click)))
        .service(
            web::resource("/t/u/{token}").route(web::get().to(unsubscribe_page)).route(web::post().to(unsubscribe)),
        )
        .service(web::resource("/t/r/{token}").route(web::get().to(response_page)).route(web::post().to(respond)));
}
