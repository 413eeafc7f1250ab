//! Logs and request identity.
//!
//! - The subscriber: `RUST_LOG`-style filtering, text or JSON (`CRM_LOG_FORMAT=json`), colours
//!   only when stderr is a terminal.
//! - The request middleware: every request gets an id (the client's `X-Request-Id` when it is a
//!   valid one, otherwise a new UUID v7) and, with a valid W3C `traceparent`, its trace id. Both
//!   go into a span around the request (so every line logged while serving it carries them), into
//!   the actor (so the events the request writes carry them), into error bodies, and back to the
//!   client in `X-Request-Id`.
//! - The access log: one line per request (target `crm::access`) with the method, the route
//!   *template* (never the path: it may hold an email or an external id), the status, the
//!   duration, the ids, the token's subject and the error code. No request or response content is
//!   logged at any level: values in bodies, queries and error details are personal data.

use std::io::IsTerminal;
use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::problem::{REQUEST, RequestInfo};

/// Installs the global subscriber once; later calls do nothing. `default_level` applies when
/// `RUST_LOG` is unset.
pub fn init(json: bool, default_level: &str) {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    // Below info these libraries log request paths and headers, which hold personal data
    // (an email in a path, a token): they stay at info whatever `RUST_LOG` asks.
    for quiet in QUIET_LIBRARIES {
        if let Ok(d) = format!("{quiet}=info").parse() {
            filter = filter.add_directive(d);
        }
    }
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init()
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).try_init()
    };
}

/// Libraries whose debug and trace lines carry request content.
const QUIET_LIBRARIES: [&str; 4] = ["actix_web", "actix_http", "actix_server", "h2"];

/// Who and what a request is, as the middleware worked it out (in the request's extensions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    /// The client's valid `X-Request-Id`, or one made up for this request.
    pub id: String,
    /// The trace id of a valid incoming `traceparent` (32 lower-case hex digits).
    pub trace_id: Option<String>,
}

/// The verified token's subject, set by authentication for the access log.
#[derive(Clone, Debug)]
pub struct Subject(pub String);

/// The stable code of an error answer, set where the problem document is written.
#[derive(Clone, Copy, Debug)]
pub struct AnsweredCode(pub &'static str);

/// Longest `X-Request-Id` taken from a client.
pub const MAX_REQUEST_ID: usize = 128;

/// A client's request id is kept when it is 1 to 128 characters of letters, digits and
/// `-_.:`; anything else (spaces, quotes, control characters, other scripts) could forge log
/// lines or break a log pipeline, so it is replaced.
pub fn valid_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The trace id of a W3C Trace Context `traceparent` header
/// (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`), or None when it is not valid:
/// upper-case hex, an all-zero id, version `ff`, or a version-00 header of another length are
/// refused, as the recommendation says; a later version may append fields after a `-`.
pub fn trace_id_of(traceparent: &str) -> Option<String> {
    let h = traceparent.trim();
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    if h.len() < 55 || !h.is_char_boundary(55) {
        return None;
    }
    let (head, rest) = h.split_at(55);
    let parts: Vec<&str> = head.split('-').collect();
    let [version, trace, parent, flags] = parts[..] else { return None };
    let shape = version.len() == 2 && trace.len() == 32 && parent.len() == 16 && flags.len() == 2;
    if !shape || ![version, trace, parent, flags].iter().all(|p| hex(p)) || version == "ff" {
        return None;
    }
    if zero(trace)
        || zero(parent)
        || (version == "00" && !rest.is_empty())
        || !(rest.is_empty() || rest.starts_with('-'))
    {
        return None;
    }
    Some(trace.to_string())
}

/// Works out the request's identity from its headers.
pub fn request_context(req: &ServiceRequest) -> RequestContext {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let id = header("x-request-id")
        .map(str::trim)
        .filter(|id| valid_request_id(id))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    RequestContext { id, trace_id: header("traceparent").and_then(trace_id_of) }
}

/// The outermost middleware: identity, span, access log.
pub async fn requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let ctx = request_context(&req);
    req.extensions_mut().insert(ctx.clone());
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %ctx.id,
        trace_id = ctx.trace_id.as_deref().unwrap_or(""),
    );
    let info = RequestInfo { id: ctx.id.clone(), path: req.path().to_string() };
    let res = REQUEST.scope(info, next.call(req).instrument(span.clone())).await;
    let mut res = match res {
        Ok(res) => res,
        Err(e) => {
            // A middleware failed before a response existed: still one access line.
            let status = e.as_response_error().status_code().as_u16();
            access_line(&span, method.as_str(), "(unmatched)", status, started, &ctx, None, None);
            return Err(e);
        }
    };
    if let Ok(v) = HeaderValue::from_str(&ctx.id) {
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), v);
    }
    let route = res.request().match_pattern().unwrap_or_else(|| "(unmatched)".to_string());
    let subject = res.request().extensions().get::<Subject>().map(|s| s.0.clone());
    let code = res.response().extensions().get::<AnsweredCode>().map(|c| c.0);
    let status = res.status().as_u16();
    if let Some(state) = res.request().app_data::<actix_web::web::Data<crate::app::AppState>>() {
        state.metrics.answered(method.as_str(), &route, status, started.elapsed().as_secs_f64());
    }
    access_line(&span, method.as_str(), &route, status, started, &ctx, subject.as_deref(), code);
    Ok(res)
}

#[allow(clippy::too_many_arguments)]
fn access_line(
    span: &tracing::Span,
    method: &str,
    route: &str,
    status: u16,
    started: Instant,
    ctx: &RequestContext,
    subject: Option<&str>,
    code: Option<&str>,
) {
    let duration_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    let _in = span.enter();
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                target: "crm::access",
                method,
                route,
                status,
                duration_ms,
                request_id = %ctx.id,
                trace_id = ctx.trace_id.as_deref().unwrap_or(""),
                subject = subject.unwrap_or(""),
                code = code.unwrap_or(""),
                "{method} {route} {status}"
            )
        };
    }
    if status >= 500 {
        line!(error);
    } else {
        line!(info);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_from_clients() {
        for ok in ["abc", "01a23cbd-fb6c-7486-8d63-f2630f13e039", "req_42.a:b", &"x".repeat(128)] {
            assert!(valid_request_id(ok), "{ok}");
        }
        for bad in ["", "a b", "a\"b", "a\nb", "안녕", "a/b", &"x".repeat(129)] {
            assert!(!valid_request_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn traceparent_as_the_recommendation_reads() {
        let t = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(trace_id_of(&format!("00-{t}-00f067aa0ba902b7-01")).as_deref(), Some(t));
        assert_eq!(trace_id_of(&format!("01-{t}-00f067aa0ba902b7-01-later")).as_deref(), Some(t));
        for bad in [
            format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
            format!("00-{t}-0000000000000000-01"),
            format!("ff-{t}-00f067aa0ba902b7-01"),
            format!("00-{}-00f067aa0ba902b7-01", t.to_uppercase()),
            format!("00-{t}-00f067aa0ba902b7-01-extra"),
            format!("01-{t}-00f067aa0ba902b7-01x"),
            format!("00-{t}-00f067aa0ba902b7"),
            format!("00_{t}_00f067aa0ba902b7_01"),
            "garbage".to_string(),
            format!("00-{}é-00f067aa0ba902b7-01", &t[..31]),
        ] {
            assert_eq!(trace_id_of(&bad), None, "{bad}");
        }
    }
}
