//! The mail worker, on every instance that runs it (`CRM_MAIL_INTERVAL`) when the server can
//! send email (`CRM_SMTP_URL`): it claims due campaign messages in batches
//! (`crm_campaigns::sending`, so two instances never send the same one), hands them to the SMTP
//! server through a pool of connections at the configured pace (`CRM_SMTP_RATE` messages per
//! second per instance), and records each outcome.

use std::sync::Arc;
use std::time::Duration;

use crm_campaigns::sending::{self, Mail, Outcome};
use crm_db::Db;
use futures_util::StreamExt;
use lettre::message::Mailbox;

use crate::smtp::{Pool, Sent, Server};

/// Checks the form of an SMTP URL (connecting comes later).
pub fn check_url(url: &str) -> Result<(), String> {
    Server::from_url(url).map(|_| ())
}

/// How the server sends email.
#[derive(Clone)]
pub struct MailSettings {
    /// `smtp://host:port`, `smtp://user:pass@host:587?tls=required`, `smtps://…` (lettre's form).
    pub smtp_url: String,
    /// The sender when a template names none (`CRM_SMTP_FROM`, `Acme <news@acme.example>`).
    pub from: Mailbox,
    /// Messages per second on this instance; zero: as fast as the server takes them.
    pub rate: f64,
    /// SMTP connections used at once (`CRM_SMTP_CONNECTIONS`).
    pub connections: u32,
    /// The address recipients reach this server at (tracking links), without a trailing `/`.
    pub public_url: String,
    /// How long one SMTP exchange may take.
    pub timeout: Duration,
    /// Multiplies the retry waits (1; the tests make them milliseconds).
    pub retry_scale: f64,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold the SMTP password.
        f.debug_struct("MailSettings")
            .field("smtp_url", &"(set)")
            .field("from", &self.from.to_string())
            .field("rate", &self.rate)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// Messages claimed per batch per connection: at most this many times the connections are in
/// doubt if the instance dies mid-batch.
const PER_LANE: i64 = 4;
/// How long a claim lasts: longer than any batch takes.
const LEASE: chrono::Duration = chrono::Duration::seconds(300);

/// A connected mailer: the SMTP pool and the pace.
#[derive(Clone)]
pub struct Mailer {
    smtp: Arc<Pool>,
    settings: MailSettings,
    /// The earliest time the next message may go (pacing).
    next_slot: Arc<tokio::sync::Mutex<tokio::time::Instant>>,
}

impl Mailer {
    /// Builds the SMTP pool (no connection is opened until the first message).
    pub fn new(settings: MailSettings) -> Result<Mailer, String> {
        let smtp = Pool::new(Server::from_url(&settings.smtp_url)?, settings.connections, settings.timeout);
        Ok(Mailer {
            smtp: Arc::new(smtp),
            settings,
            next_slot: Arc::new(tokio::sync::Mutex::new(tokio::time::Instant::now())),
        })
    }

    /// Waits for this message's slot at the configured pace.
    async fn pace(&self) {
        if self.settings.rate <= 0.0 {
            return;
        }
        let slot = {
            let mut next = self.next_slot.lock().await;
            let now = tokio::time::Instant::now();
            let slot = (*next).max(now);
            *next = slot + Duration::from_secs_f64(1.0 / self.settings.rate);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Hands one message to the SMTP server.
    async fn send(&self, mail: &Mail) -> Outcome {
        let message = match mail.message(&self.settings.from) {
            Ok(m) => m,
            // Only the recipient's address can be wrong here (the rest was checked when saved).
            Err(e) => return Outcome::Rejected(e),
        };
        self.pace().await;
        classify(self.smtp.send(&message).await)
    }

    /// Hands a one-to-one email to the SMTP server now (not paced: one person writing).
    pub async fn send_direct(&self, mail: &crm_campaigns::emails::DirectMail) -> Outcome {
        let message = match mail.message(&self.settings.from) {
            Ok(m) => m,
            Err(e) => return Outcome::Rejected(e),
        };
        classify(self.smtp.send(&message).await)
    }

    /// The domain of the configured sender: the right side of the `Message-ID`s it writes.
    pub fn domain(&self) -> String {
        self.settings.from.email.domain().to_string()
    }

    /// Messages claimed per batch: a second's worth when paced, so a crash leaves few in doubt.
    fn batch(&self) -> i64 {
        let batch = PER_LANE * i64::from(self.settings.connections.max(1));
        if self.settings.rate > 0.0 { (self.settings.rate.ceil() as i64).clamp(1, batch) } else { batch }
    }
}

/// What an SMTP answer means for the message.
fn classify(sent: Sent) -> Outcome {
    let e = match sent {
        Sent::Answered(Ok(())) => return Outcome::Accepted,
        Sent::Answered(Err(e)) => e,
        // Nothing was handed over.
        Sent::NoConnection(e) => return Outcome::Unavailable(e),
        Sent::TimedOut => return Outcome::InDoubt("the SMTP server did not answer in time".into()),
    };
    let text = e.to_string();
    match e.status().map(u16::from) {
        // Mailbox unavailable, not local, name not allowed: the address is wrong for good.
        Some(550 | 551 | 553) => Outcome::Rejected(text),
        // Service closing, authentication: the server, not this message.
        Some(421 | 454 | 530 | 534 | 535 | 538) => Outcome::Unavailable(text),
        Some(_) => Outcome::Deferred(text),
        // Silence after the message may have been handed over.
        None if e.is_timeout() => Outcome::InDoubt(text),
        // No connection, TLS: nothing was handed over.
        None => Outcome::Unavailable(text),
    }
}

/// Starts the worker: every `every`, send until nothing is due. The caller stops it (abort and
/// await) before the runtime ends, so that the SMTP pool it holds closes on a live runtime.
pub fn spawn(db: Db, mailer: Mailer, every: Duration) -> Option<actix_web::rt::task::JoinHandle<()>> {
    if every.is_zero() {
        return None;
    }
    Some(actix_web::rt::spawn(async move {
        let owner = format!("mailer-{}", uuid::Uuid::now_v7());
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match round(&db, &mailer, &owner).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(messages = n, "campaign messages handed to the SMTP server"),
                Err(e) => tracing::warn!(error = %e, "mail worker failed; trying again"),
            }
        }
    }))
}

/// Sends until nothing is due now (or the SMTP server cannot be used); returns how many
/// messages were handed over.
pub async fn round(db: &Db, mailer: &Mailer, owner: &str) -> Result<usize, String> {
    let swept = db
        .transaction(|c| sending::sweep(c, crm_db::now()))
        .await
        .map_err(|e: crm_records::RecordError| e.to_string())?;
    if swept > 0 {
        tracing::warn!(messages = swept, "campaign messages left in doubt by a stopped instance are now `unknown`");
    }
    let mut sent = 0;
    loop {
        let (who, base, limit) = (owner.to_string(), mailer.settings.public_url.clone(), mailer.batch());
        let batch = db
            .transaction(move |c| sending::claim(c, &who, crm_db::now(), LEASE, limit, &base))
            .await
            .map_err(|e: crm_records::RecordError| e.to_string())?;
        if batch.is_empty() {
            return Ok(sent);
        }
        let outcomes: Vec<Outcome> = futures_util::stream::iter(batch.iter().map(|m| mailer.send(m)))
            .buffered(mailer.settings.connections.max(1) as usize)
            .collect()
            .await;
        sent += outcomes.iter().filter(|o| **o == Outcome::Accepted).count();
        let unavailable = outcomes.iter().find_map(|o| match o {
            Outcome::Unavailable(e) => Some(e.clone()),
            _ => None,
        });
        let (who, scale) = (owner.to_string(), mailer.settings.retry_scale);
        let results: Vec<(Mail, Outcome)> = batch.into_iter().zip(outcomes).collect();
        db.transaction(move |c| sending::finish(c, &who, &results, crm_db::now(), scale))
            .await
            .map_err(|e: crm_records::RecordError| e.to_string())?;
        if let Some(e) = unavailable {
            return Err(format!("the SMTP server cannot be used now: {e}"));
        }
    }
}
