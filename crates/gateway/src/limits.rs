//! Rate limits: per caller (a token's subject or an API key) on the authenticated API, per
//! client address on the public endpoints (campaign links under `/t/`, web-form lead capture,
//! whose token every visitor of a site shares). Each is a GCRA bucket (`governor`) of `q`
//! requests per 60 seconds that refills steadily: a caller may spend its whole quota at once,
//! then one request every `60 / q` seconds.
//!
//! Every answer a limit applies to says where the caller stands, in the IETF form
//! (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "caller";q=1200;w=60` and
//! `RateLimit: "caller";r=1187;t=1` (`r` requests left now, `t` seconds until the bucket is
//! full again). Past the limit the answer is `429` with `Retry-After` and a problem document
//! `RATE_LIMITED`, and the request does not run.
//!
//! Buckets are per instance: behind a load balancer spreading callers over `n` instances, a
//! caller gets up to `n × q` per minute (docs/SECURITY.md).

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::problem::ApiError;

/// The length of every window, in seconds.
pub const WINDOW_SECS: u64 = 60;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

fn keyed<K: std::hash::Hash + Eq + Clone>(per_minute: NonZeroU32) -> Keyed<K> {
    RateLimiter::keyed(Quota::per_minute(per_minute)).with_middleware::<StateInformationMiddleware>()
}

/// Every bucket of this instance.
pub struct RateLimits {
    /// The limit of every caller without one of its own (`CRM_RATE_LIMIT`); None: no limit.
    callers: Option<(NonZeroU32, Keyed<String>)>,
    /// Buckets of callers with their own limit (API keys), by that limit.
    own: Mutex<HashMap<NonZeroU32, Arc<Keyed<String>>>>,
    /// The limit per client address on the public endpoints (`CRM_PUBLIC_RATE_LIMIT`).
    public: Option<(NonZeroU32, Keyed<IpAddr>)>,
    clock: DefaultClock,
}

/// Where a caller stands after one request: what the headers say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    pub policy: &'static str,
    pub quota: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again (refused: until the next request may run).
    pub reset: u64,
    /// Set when the request is refused.
    pub retry_after: Option<u64>,
}

/// Whose bucket a request draws from.
pub enum Bucket<'a> {
    /// An authenticated caller, with its own limit if it has one.
    Caller { subject: &'a str, own: Option<u32> },
    /// A client address on a public endpoint.
    Public(IpAddr),
}

impl RateLimits {
    /// `per_caller` and `public` in requests per minute; 0 turns a limit off.
    pub fn new(per_caller: u32, public: u32) -> RateLimits {
        RateLimits {
            callers: NonZeroU32::new(per_caller).map(|q| (q, keyed(q))),
            own: Mutex::new(HashMap::new()),
            public: NonZeroU32::new(public).map(|q| (q, keyed(q))),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request from the bucket; None when no limit applies.
    pub fn check(&self, bucket: Bucket<'_>) -> Option<Standing> {
        match bucket {
            Bucket::Caller { subject, own: Some(own) } => {
                let q = NonZeroU32::new(own.max(1))?;
                let limiter = {
                    let mut map = self.own.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    map.entry(q).or_insert_with(|| Arc::new(keyed(q))).clone()
                };
                Some(self.decide("caller", q, limiter.check_key(&subject.to_string())))
            }
            Bucket::Caller { subject, own: None } => {
                let (q, limiter) = self.callers.as_ref()?;
                Some(self.decide("caller", *q, limiter.check_key(&subject.to_string())))
            }
            Bucket::Public(ip) => {
                let (q, limiter) = self.public.as_ref()?;
                Some(self.decide("public", *q, limiter.check_key(&ip)))
            }
        }
    }

    fn decide(
        &self,
        policy: &'static str,
        quota: NonZeroU32,
        outcome: Result<governor::middleware::StateSnapshot, governor::NotUntil<<DefaultClock as Clock>::Instant>>,
    ) -> Standing {
        let q = quota.get();
        // One request's share of the window, in milliseconds.
        let interval_ms = (WINDOW_SECS * 1000).div_ceil(u64::from(q));
        match outcome {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity().min(q);
                let reset = (u64::from(q - remaining) * interval_ms).div_ceil(1000);
                Standing { policy, quota: q, remaining, reset, retry_after: None }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let secs = wait.as_millis().div_ceil(1000).max(1) as u64;
                Standing { policy, quota: q, remaining: 0, reset: secs, retry_after: Some(secs) }
            }
        }
    }

    /// Forgets buckets that are full again (they hold nothing a new one would not), so that
    /// memory follows the callers of the last minute.
    pub fn shrink(&self) {
        if let Some((_, l)) = &self.callers {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some((_, l)) = &self.public {
            l.retain_recent();
            l.shrink_to_fit();
        }
        let own: Vec<Arc<Keyed<String>>> =
            self.own.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values().cloned().collect();
        for l in own {
            l.retain_recent();
        }
    }
}

impl Standing {
    /// `RateLimit-Policy` and `RateLimit` on an answer.
    pub fn write(&self, headers: &mut HeaderMap) {
        let policy = format!("\"{}\";q={};w={WINDOW_SECS}", self.policy, self.quota);
        let now = format!("\"{}\";r={};t={}", self.policy, self.remaining, self.reset);
        for (name, value) in [("ratelimit-policy", policy), ("ratelimit", now)] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        }
        if let Some(secs) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
    }

    /// The `429` answer of a refused request.
    pub fn refusal(&self) -> HttpResponse {
        use actix_web::ResponseError;
        let secs = self.retry_after.unwrap_or(1);
        let who = if self.policy == "public" { "this address" } else { "this caller" };
        let mut extra = serde_json::Map::new();
        extra.insert("limit".into(), self.quota.into());
        extra.insert("window_seconds".into(), WINDOW_SECS.into());
        extra.insert("retry_after_seconds".into(), secs.into());
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("{who} may make {} requests per {WINDOW_SECS} seconds; retry in {secs} s", self.quota),
        );
        e.extra = Some(extra);
        let mut res = e.error_response();
        self.write(res.headers_mut());
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_spends_its_quota_then_refuses_and_says_when_to_retry() {
        let limits = RateLimits::new(3, 0);
        let caller = || Bucket::Caller { subject: "u1", own: None };
        let first = limits.check(caller()).unwrap();
        assert_eq!((first.quota, first.remaining, first.reset, first.retry_after), (3, 2, 20, None));
        assert_eq!(limits.check(caller()).unwrap().remaining, 1);
        let third = limits.check(caller()).unwrap();
        assert_eq!((third.remaining, third.reset), (0, 60));
        let refused = limits.check(caller()).unwrap();
        assert_eq!(refused.remaining, 0);
        // One request's share of the window (20 s) less the few microseconds since the first.
        assert_eq!(refused.retry_after, Some(20));
        // Another caller has a bucket of its own; public endpoints are not limited here.
        assert_eq!(limits.check(Bucket::Caller { subject: "u2", own: None }).unwrap().remaining, 2);
        assert!(limits.check(Bucket::Public("127.0.0.1".parse().unwrap())).is_none());
    }

    #[test]
    fn a_caller_with_its_own_limit_uses_it() {
        let limits = RateLimits::new(0, 5);
        assert!(limits.check(Bucket::Caller { subject: "k", own: None }).is_none());
        let s = limits.check(Bucket::Caller { subject: "k", own: Some(1) }).unwrap();
        assert_eq!((s.quota, s.remaining), (1, 0));
        assert_eq!(limits.check(Bucket::Caller { subject: "k", own: Some(1) }).unwrap().retry_after, Some(60));
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(limits.check(Bucket::Public(ip)).unwrap().policy, "public");
    }

    #[test]
    fn headers_follow_the_ietf_draft() {
        let mut h = HeaderMap::new();
        Standing { policy: "caller", quota: 1200, remaining: 1187, reset: 1, retry_after: None }.write(&mut h);
        assert_eq!(h.get("ratelimit-policy").unwrap(), "\"caller\";q=1200;w=60");
        assert_eq!(h.get("ratelimit").unwrap(), "\"caller\";r=1187;t=1");
        assert!(h.get(RETRY_AFTER).is_none());
    }
}
