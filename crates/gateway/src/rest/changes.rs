//! `/api/v1/changes`: the change feed.

use actix_web::{HttpResponse, get, web};
use crm_events::{ChangePage, FeedBounds, FeedRequest};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Return events with `seq` greater than this (0 = from the start of retention).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// Comma-separated entities (`contact,account`) or types (`contact.updated`); default: all readable.
    pub types: Option<String>,
    /// Events per page, 1 to 10000 (default 100).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
}

/// Events read from the database per slice of a streamed page.
const SLICE: u32 = 250;

/// Where the change feed stands: `head`, the last `seq` committed (note it before a full export,
/// then follow the feed from it), and `oldest_available`, the oldest event retention kept.
#[utoipa::path(
    tag = "changes",
    responses(
        (status = 200, body = FeedBounds), (status = 401, body = Problem), (status = 403, body = Problem)
    )
)]
#[get("/changes/head")]
pub async fn feed_head(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = auth.0;
    Ok(HttpResponse::Ok().json(state.db.run(move |c| crm_events::read_feed_bounds(c, &actor)).await?))
}

/// Read the change feed in commit order. Follow `next_after` to see every committed change once.
///
/// An `after` beyond the head is `409 CHANGE_FEED_AHEAD` (with `head`): a client holding a
/// wrong position would otherwise skip every change to come. An `after` whose following events
/// retention removed is `410 CHANGE_FEED_EXPIRED` (with `oldest_available` and `head`): the
/// client missed changes and must resynchronize. `after=0` always reads from the oldest event.
///
/// Long pages are streamed: the events are read and written out in slices of 250, so a page of
/// 10,000 events never sits in the server's memory whole. A database failure after the first
/// slice ends the response early, which leaves the JSON incomplete (the client sees a parse
/// error, never a short page that looks whole).
#[utoipa::path(
    tag = "changes",
    params(ChangesQuery),
    responses(
        (status = 200, body = ChangePage),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, description = "`after` is beyond the head: `CHANGE_FEED_AHEAD`", body = Problem),
        (status = 410, description = "Events after `after` are past retention: `CHANGE_FEED_EXPIRED`", body = Problem)
    )
)]
#[get("/changes")]
pub async fn list_changes(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: crate::rest::Query<ChangesQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.after(auth.0.require(crm_core::Scope::ChangesRead))?;
    let types: Vec<String> = q.types.unwrap_or_default().split(',').map(str::to_string).collect();
    let req = FeedRequest::new(&auth.0, q.after.unwrap_or(0), &types, q.limit.unwrap_or(100))?;
    // The first slice is read before answering, so its failure (or a position the feed cannot
    // continue from) is still a problem document.
    let (req, first) = {
        let (mut req, actor) = (req, auth.0.clone());
        state
            .db
            .run(move |c| -> Result<_, crm_events::EventsError> {
                crm_records::visibility::narrow_feed(c, &actor, &mut req)?;
                let events = req.load(c, req.after(), req.limit().min(SLICE))?;
                req.check_position(c, events.first().map(|e| e.seq.0))?;
                Ok((req, events))
            })
            .await?
    };
    let slice = Slice {
        events: first,
        written: 0,
        after: req.after(),
        req,
        db: state.db.clone(),
        done: false,
        event_bytes: 1024,
    };
    let body = futures_util::stream::unfold(Some(slice), |state| async move {
        let mut s = state?;
        match s.next().await {
            Ok(Some(bytes)) => Some((Ok::<_, ApiError>(bytes), Some(s))),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "change feed stream stopped");
                Some((Err(e), None))
            }
        }
    });
    Ok(HttpResponse::Ok().content_type("application/json").streaming(body))
}

/// The streaming state of one feed page.
struct Slice {
    /// Events read and not yet written.
    events: Vec<crm_events::ChangeEvent>,
    /// Events written so far.
    written: u32,
    /// The last `seq` read.
    after: i64,
    req: FeedRequest,
    db: crm_db::Db,
    done: bool,
    /// The largest size of one event's JSON seen so far, to size the next slice's buffer.
    event_bytes: usize,
}

impl Slice {
    /// The next piece of the JSON document: `{"data":[` and a slice, more slices, then the
    /// closing `],"next_after":…}`; `None` once that was written.
    async fn next(&mut self) -> Result<Option<web::Bytes>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(self.events.len() * self.event_bytes + 32);
        if self.written == 0 {
            out.extend_from_slice(b"{\"data\":[");
        }
        let full = self.events.len() as u32 == SLICE.min(self.req.limit() - self.written);
        let count = self.events.len();
        for e in self.events.drain(..) {
            if self.written > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut out, &e).map_err(|e| ApiError::internal(e.to_string()))?;
            self.written += 1;
            self.after = e.seq.0;
        }
        if let Some(per_event) = out.len().checked_div(count) {
            self.event_bytes = self.event_bytes.max(per_event + 1);
        }
        let remaining = self.req.limit() - self.written;
        if full && remaining > 0 {
            let (req, after, n) = (self.req.clone(), self.after, remaining.min(SLICE));
            self.events = self.db.run(move |c| req.load(c, after, n)).await?;
            if !self.events.is_empty() {
                return Ok(Some(out.into()));
            }
        }
        out.extend_from_slice(format!("],\"next_after\":{}}}", self.after).as_bytes());
        self.done = true;
        Ok(Some(out.into()))
    }
}
