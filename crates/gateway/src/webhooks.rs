//! The webhook sender, on every instance that runs it (`CRM_WEBHOOK_INTERVAL`): it matches the
//! event log into deliveries and POSTs what is due, one instance at a time per delivery, as
//! `crm_webhooks::dispatch` decides. The HTTP client connects only where the guard allows:
//! names are resolved here and every address is checked (a name that resolves to an inner
//! address is refused, whatever else it resolves to), literal addresses are checked before the
//! call, and redirects are not followed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use actix_tls::connect::{Resolve, Resolver};
use crm_db::Db;
use crm_webhooks::dispatch::{self, EXCERPT};
use crm_webhooks::{Attempt, Guard, Outgoing};
use futures_util::future::LocalBoxFuture;

/// What the sender needs from settings.
#[derive(Clone, Debug)]
pub struct SenderSettings {
    pub guard: Guard,
    /// How long one call may take.
    pub timeout: Duration,
    /// A subscription failing this long is turned off.
    pub disable_after: Duration,
    /// Multiplies the retry waits (1; tests make them milliseconds).
    pub retry_scale: f64,
}

impl SenderSettings {
    fn policy(&self) -> dispatch::Policy {
        dispatch::Policy {
            disable_after: chrono::Duration::from_std(self.disable_after).unwrap_or(chrono::Duration::days(5)),
            retry_scale: self.retry_scale,
        }
    }
}

/// Deliveries claimed per round, and sent at once.
const BATCH: i64 = 64;
/// Events matched per round.
const MATCH_BATCH: u32 = 1000;
/// How long a claim lasts: longer than any call.
const LEASE: chrono::Duration = chrono::Duration::seconds(120);

/// Resolves names and refuses what the guard refuses.
struct GuardResolver(Guard);

impl Resolve for GuardResolver {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> LocalBoxFuture<'a, Result<Vec<SocketAddr>, Box<dyn std::error::Error>>> {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| !self.0.allows(a.ip())) {
                return Err(
                    format!("{host} resolves to {}, an inner address the server does not call", bad.ip()).into()
                );
            }
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no address").into());
            }
            Ok(addrs)
        })
    }
}

/// The HTTP client of the sender (one per task: awc clients stay on their thread).
pub fn client(settings: &SenderSettings) -> awc::Client {
    let tcp = actix_tls::connect::Connector::new(Resolver::custom(GuardResolver(settings.guard.clone()))).service();
    let connector = awc::Connector::new().connector(tcp).timeout(settings.timeout.min(Duration::from_secs(10)));
    awc::Client::builder()
        .connector(connector)
        .timeout(settings.timeout)
        .disable_redirects()
        .no_default_headers()
        .finish()
}

/// POSTs one message and says what came of it.
pub async fn send(client: &awc::Client, guard: &Guard, o: &Outgoing) -> Attempt {
    let started = Instant::now();
    let failed = |error: String, started: Instant| Attempt {
        status: None,
        error: Some(error),
        latency_ms: started.elapsed().as_millis() as i64,
        excerpt: None,
        retry_after: None,
    };
    // Literal addresses skip name resolution: checked here, against today's allow list.
    if let Err(e) = crm_webhooks::guard::check_url_with(guard, &o.url) {
        return failed(e.to_string(), started);
    }
    let mut req = client.post(&o.url);
    for (k, v) in &o.headers {
        req = req.insert_header((*k, v.as_str()));
    }
    let mut res = match req.send_body(o.body.clone()).await {
        Ok(r) => r,
        Err(e) => return failed(e.to_string(), started),
    };
    let status = res.status().as_u16();
    let retry_after = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(retry_after_secs);
    let excerpt = match res.body().limit(64 * 1024).await {
        Ok(b) => {
            let text = String::from_utf8_lossy(&b[..b.len().min(EXCERPT)]).into_owned();
            Some(text).filter(|t| !t.is_empty())
        }
        Err(_) => Some("(an answer of more than 64 KiB)".into()),
    };
    Attempt {
        status: Some(status),
        error: None,
        latency_ms: started.elapsed().as_millis() as i64,
        excerpt,
        retry_after,
    }
}

/// Sends a message now, with a client of its own (a ping from a request handler). The call runs
/// as a task of this worker's thread (awc's futures stay on their thread); the answer comes back
/// over a channel, so the caller's future may move between threads (GraphQL's do).
pub async fn ping(settings: &SenderSettings, o: &Outgoing) -> Attempt {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (settings, o) = (settings.clone(), o.clone());
    actix_web::rt::spawn(async move {
        let _ = tx.send(send(&client(&settings), &settings.guard, &o).await);
    });
    rx.await.unwrap_or_else(|_| Attempt {
        status: None,
        error: Some("the ping was dropped".into()),
        latency_ms: 0,
        excerpt: None,
        retry_after: None,
    })
}

/// `Retry-After` in seconds: a number of seconds or an HTTP date.
fn retry_after_secs(v: &str) -> Option<i64> {
    let v = v.trim();
    if let Ok(n) = v.parse::<i64>() {
        return Some(n.max(0));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some((at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds().max(0))
}

/// Starts the sender: every `every`, match and send until nothing is due.
pub fn spawn(db: Db, settings: SenderSettings, every: Duration) {
    if every.is_zero() {
        return;
    }
    actix_web::rt::spawn(async move {
        let client = client(&settings);
        let owner = format!("sender-{}", uuid::Uuid::now_v7());
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = round(&db, &client, &settings, &owner).await {
                tracing::warn!(error = %e, "webhook sender failed; trying again");
            }
        }
    });
}

/// Matches and sends until nothing is left to do now; returns how many attempts were made.
pub async fn round(db: &Db, client: &awc::Client, settings: &SenderSettings, owner: &str) -> Result<usize, String> {
    let mut attempts = 0;
    loop {
        let matched = db
            .transaction(|c| dispatch::match_events(c, MATCH_BATCH))
            .await
            .map_err(|e: crm_records::RecordError| e.to_string())?;
        if matched.subscriptions == 0 {
            return Ok(attempts);
        }
        let who = owner.to_string();
        let due = db
            .transaction(move |c| dispatch::claim_due(c, &who, crm_db::now(), LEASE, BATCH))
            .await
            .map_err(|e: crm_records::RecordError| e.to_string())?;
        let more_events = matched.events == MATCH_BATCH as usize;
        if due.is_empty() {
            if more_events {
                continue;
            }
            return Ok(attempts);
        }
        let results = futures_util::future::join_all(due.iter().map(|o| send(client, &settings.guard, o))).await;
        attempts += results.len();
        let (who, policy) = (owner.to_string(), settings.policy());
        let full = due.len() as i64 == BATCH;
        db.transaction(move |c| {
            let now = crm_db::now();
            for (o, a) in due.iter().zip(&results) {
                dispatch::record_attempt(c, &who, o, a, now, policy)?;
            }
            Ok::<_, crm_records::RecordError>(())
        })
        .await
        .map_err(|e| e.to_string())?;
        if !full && !more_events {
            return Ok(attempts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn names_are_checked_after_they_resolve() {
        let closed = GuardResolver(Guard::default());
        let e = closed.lookup("localhost", 80).await.unwrap_err().to_string();
        assert!(e.contains("inner address"), "{e}");
        let open = GuardResolver(Guard { allow: Guard::parse_allow("127.0.0.0/8,::1").unwrap(), https_only: false });
        let addrs = open.lookup("localhost", 80).await.unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        assert_eq!(retry_after_secs("120"), Some(120));
        assert_eq!(retry_after_secs("-5"), Some(0));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(600)).to_rfc2822();
        let s = retry_after_secs(&later).unwrap();
        assert!((595..=600).contains(&s), "{s}");
        assert_eq!(retry_after_secs("soon"), None);
    }
}
