//! Authentication: a middleware verifies a request's credentials once (a bearer JWT, or an API
//! key as a bearer token or in `X-Api-Key`) and applies the rate limits; one extractor hands the
//! resulting `Actor` to REST handlers and GraphQL.

use std::future::{Ready, ready};

use std::net::IpAddr;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use crm_core::Actor;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::problem::ApiError;
use crate::settings::JwtSettings;

/// The claims we read and write.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub exp: i64,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// A string or an array of strings (RFC 7519); checked by the validation, not read here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Space-separated scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Display name and email (OpenID Connect claims), used when provisioning a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Verification (and, when possible, signing) keys.
#[derive(Clone)]
pub struct JwtKeys {
    algorithm: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
}

fn pem_text(v: &str) -> Result<String, String> {
    if v.contains("-----BEGIN") {
        Ok(v.to_string())
    } else {
        std::fs::read_to_string(v).map_err(|e| format!("cannot read key file {v}: {e}"))
    }
}

impl JwtKeys {
    pub fn from_settings(s: &JwtSettings) -> Result<JwtKeys, String> {
        let (algorithm, decoding, encoding) = if let Some(secret) = &s.secret {
            if secret.len() < 32 {
                return Err("CRM_JWT_SECRET must be at least 32 characters".into());
            }
            (
                Algorithm::HS256,
                DecodingKey::from_secret(secret.as_bytes()),
                Some(EncodingKey::from_secret(secret.as_bytes())),
            )
        } else if let Some(public) = &s.public_key {
            let pem = pem_text(public)?;
            let alg = match s.algorithm.as_deref().map(str::to_ascii_uppercase).as_deref() {
                Some("RS256") => Algorithm::RS256,
                Some("ES256") => Algorithm::ES256,
                Some(other) => return Err(format!("CRM_JWT_ALGORITHM {other} is not supported (RS256, ES256)")),
                None if DecodingKey::from_rsa_pem(pem.as_bytes()).is_ok() => Algorithm::RS256,
                None => Algorithm::ES256,
            };
            let decoding = match alg {
                Algorithm::RS256 => DecodingKey::from_rsa_pem(pem.as_bytes()),
                _ => DecodingKey::from_ec_pem(pem.as_bytes()),
            }
            .map_err(|e| format!("CRM_JWT_PUBLIC_KEY is not a valid {alg:?} public key: {e}"))?;
            let encoding = match &s.private_key {
                Some(p) => {
                    let pem = pem_text(p)?;
                    Some(
                        match alg {
                            Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()),
                            _ => EncodingKey::from_ec_pem(pem.as_bytes()),
                        }
                        .map_err(|e| format!("CRM_JWT_PRIVATE_KEY is not a valid {alg:?} private key: {e}"))?,
                    )
                }
                None => None,
            };
            (alg, decoding, encoding)
        } else {
            return Err("no JWT key configured".into());
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = 30;
        validation.validate_nbf = true;
        // A configured issuer or audience is required, not only checked when present.
        let mut required = vec!["exp", "sub"];
        required.extend(s.issuer.as_ref().map(|_| "iss"));
        required.extend(s.audience.as_ref().map(|_| "aud"));
        validation.set_required_spec_claims(&required);
        match &s.issuer {
            Some(i) => validation.set_issuer(&[i]),
            None => validation.iss = None,
        }
        match &s.audience {
            Some(a) => validation.set_audience(&[a]),
            None => validation.validate_aud = false,
        }
        Ok(JwtKeys {
            algorithm,
            decoding,
            encoding,
            validation,
            issuer: s.issuer.clone(),
            audience: s.audience.clone(),
        })
    }

    /// Verifies a token and builds the caller.
    pub fn verify(&self, token: &str) -> Result<Actor, ApiError> {
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            let why = match e.kind() {
                K::ExpiredSignature => "the token has expired",
                K::ImmatureSignature => "the token is not valid yet (nbf is in the future)",
                K::InvalidIssuer => "the token has the wrong issuer",
                K::InvalidAudience => "the token has the wrong audience",
                K::InvalidSignature => "the token signature is not valid",
                K::InvalidAlgorithm => "the token is signed with an algorithm this server does not accept",
                K::MissingRequiredClaim(c) if c == "iss" => {
                    "the token lacks the issuer claim (iss) this server requires"
                }
                K::MissingRequiredClaim(c) if c == "aud" => {
                    "the token lacks the audience claim (aud) this server requires"
                }
                K::MissingRequiredClaim(_) => "the token lacks a required claim (sub, exp)",
                K::Json(_) => "the token's claims are not of the expected shape (sub and exp are required claims)",
                _ => "the token is malformed",
            };
            ApiError::unauthenticated(why)
        })?;
        let c = data.claims;
        // An empty subject would be an empty actor in history and one idempotency namespace
        // shared by every such token.
        if c.sub.trim().is_empty() || c.sub.len() > 255 || c.sub.chars().any(char::is_control) {
            return Err(ApiError::unauthenticated("the token's subject (sub) must be 1 to 255 printable characters"));
        }
        let scopes: Vec<&str> = c.scope.as_deref().map(|s| s.split_whitespace().collect()).unwrap_or_default();
        let mut actor = Actor::new(c.sub, c.roles.iter().map(String::as_str), scopes);
        actor.name = c.name;
        actor.email = c.email;
        Ok(actor)
    }

    /// Signs a token (for `crm token` and tests).
    pub fn issue(
        &self,
        sub: &str,
        roles: &[String],
        scopes: &[String],
        ttl: std::time::Duration,
    ) -> Result<String, String> {
        let key = self.encoding.as_ref().ok_or("signing needs CRM_JWT_SECRET or CRM_JWT_PRIVATE_KEY")?;
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: sub.to_string(),
            exp: now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            iat: Some(now),
            iss: self.issuer.clone(),
            aud: self.audience.clone().map(serde_json::Value::String),
            roles: roles.to_vec(),
            scope: if scopes.is_empty() { None } else { Some(scopes.join(" ")) },
            name: None,
            email: None,
        };
        encode(&Header::new(self.algorithm), &claims, key).map_err(|e| e.to_string())
    }
}

/// The authenticated caller of a request. Missing or bad credentials are 401.
pub struct Authenticated(pub Actor);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

/// What the middleware made of a request's credentials (when it carried any), in the
/// request's extensions: read by the extractor and by the idempotency middleware.
#[derive(Clone)]
pub struct Credentials(pub Result<Actor, ApiError>);

/// The verified caller of a request, if its credentials were good.
pub fn caller(req: &ServiceRequest) -> Option<Actor> {
    match req.extensions().get::<Credentials>() {
        Some(Credentials(Ok(actor))) => Some(actor.clone()),
        _ => None,
    }
}

fn authenticate(req: &HttpRequest) -> Result<Authenticated, ApiError> {
    let found = req.extensions().get::<Credentials>().map(|c| c.0.clone());
    let mut actor = found.ok_or_else(|| {
        ApiError::unauthenticated("an `Authorization: Bearer <token>` header (a JWT or an API key) is required")
    })??;
    // Parameter names are the public contract (the OpenAPI document): an unknown one is refused
    // for every operation, including those that read no query, before the scope check; values
    // are checked after it (`rest::Query`).
    if let Some((name, known)) = crate::openapi::unknown_query_param(req) {
        let takes = if known.is_empty() {
            "this endpoint takes no query parameters".to_string()
        } else {
            format!("this endpoint takes {}", known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))
        };
        let detail = format!("unknown query parameter `{name}`: {takes}");
        return Err(ApiError::bad_request("INVALID_PARAMETER", detail.clone()).with_field(name, "unknown", detail));
    }
    if let Some(ctx) = req.extensions().get::<crate::telemetry::RequestContext>() {
        actor.request_id = Some(ctx.id.clone());
        actor.trace_id = ctx.trace_id.clone();
    }
    Ok(Authenticated(actor))
}

/// The credentials a request presents: `X-Api-Key`, else the bearer token of `Authorization`.
fn presented(req: &ServiceRequest) -> Option<Result<String, ApiError>> {
    if let Some(v) = req.headers().get("x-api-key") {
        return Some(
            v.to_str()
                .map(|s| s.trim().to_string())
                .map_err(|_| ApiError::unauthenticated("the X-Api-Key header is not valid text")),
        );
    }
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?;
    let Ok(value) = value.to_str() else {
        return Some(Err(ApiError::unauthenticated("the Authorization header is not valid text")));
    };
    Some(
        value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(String::from)
            .ok_or_else(|| ApiError::unauthenticated("the Authorization header must use the Bearer scheme")),
    )
}

/// The client's address: the peer, or, when the peer is a trusted proxy
/// (`CRM_TRUSTED_PROXIES`), the last address of `X-Forwarded-For` that is not one.
pub fn client_ip(req: &ServiceRequest, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let mut ip = peer;
    let hops = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
    let hops: Vec<&str> = hops.collect();
    for hop in hops.into_iter().rev() {
        let Ok(a) = hop.trim().parse::<IpAddr>() else { break };
        ip = a;
        if !is_trusted(&a) {
            break;
        }
    }
    Some(ip)
}

/// A key's last use is written at most this often per instance.
const TOUCH_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Looks an API key up (every time: a revoked key is refused at once on every instance), notes
/// its use now and then (`TOUCH_EVERY`, which also bounds what the audit log gets from this
/// instance), and audits the refusal of a known key as often.
async fn key_caller(state: &AppState, key: String, ip: Option<IpAddr>) -> Result<(Actor, Option<u32>), ApiError> {
    let now = crm_core::Timestamp(crm_db::now().and_utc());
    let grant = state.db.run(move |c| crm_users::api_keys::authenticate(c, &key, ip, now)).await?;
    let grant = match grant {
        Ok(grant) => grant,
        Err(refusal) => {
            let error = match refusal {
                crm_users::api_keys::Refusal::Address(..) => {
                    ApiError::new(actix_web::http::StatusCode::FORBIDDEN, "ADDRESS_NOT_ALLOWED", refusal.to_string())
                }
                _ => ApiError::unauthenticated(refusal.to_string()),
            };
            if let Some(id) = refusal.key()
                && due(state, id, refusal.reason())
            {
                let (db, reason) = (state.db.clone(), refusal.reason());
                actix_web::rt::spawn(async move {
                    if let Err(e) = db.write(move |c| crm_users::api_keys::note_refusal(c, &refusal, ip)).await {
                        tracing::warn!(error = %e, reason, "could not audit an API key's refusal");
                    }
                });
            }
            return Err(error);
        }
    };
    let id = grant.key.id;
    let (actor, own) = (grant.actor.clone(), grant.key.rate_limit_per_minute);
    if due(state, id, "used") {
        let db = state.db.clone();
        actix_web::rt::spawn(async move {
            if let Err(e) = db.write(move |c| crm_users::api_keys::touch(c, &grant, now)).await {
                tracing::warn!(error = %e, "could not note an API key's use");
            }
        });
    }
    Ok((actor, own.map(|n| u32::try_from(n).unwrap_or(u32::MAX))))
}

/// Whether this instance should write down a key's use (`what`: `used`) or a kind of refusal
/// now: at most once every `TOUCH_EVERY` per key and kind.
fn due(state: &AppState, id: crm_core::ids::ApiKeyId, what: &'static str) -> bool {
    let mut seen = state.key_uses.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let due = seen.get(&(id, what)).is_none_or(|at| at.elapsed() >= TOUCH_EVERY);
    if due {
        seen.insert((id, what), std::time::Instant::now());
    }
    due
}

/// Moves the caller's user into the team its identity provider says, when it differs (a write,
/// with its event and audit entry); a failure is logged and the request goes on.
async fn follow_team(state: &AppState, oidc: &crate::oidc::Oidc, actor: &Actor) {
    let who = actor.clone();
    match state.db.write(move |c| crm_users::follow_idp_team(c, &who)).await {
        Ok(moved) => {
            if moved {
                tracing::info!(subject = %actor.sub, team = ?actor.idp_team, "user moved to the identity provider's team");
            }
            oidc.team_checked(actor);
        }
        Err(e) => tracing::warn!(subject = %actor.sub, error = %e, "following the identity provider's team failed"),
    }
}

/// Whether a path is public: campaign links, and web-form lead capture (whose token every
/// visitor of the site shares): limited per client address, not per caller.
fn public_path(path: &str) -> bool {
    path.starts_with("/t/") || path == "/api/v1/leads/capture"
}

/// The middleware: verifies the credentials once per request (a JWT, or an API key looked up
/// in the database), draws the request from its rate-limit bucket, answers `429` past the
/// limit, and says on the answer where the caller stands.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let ip = client_ip(&req, &state.trusted_proxies);
    let mut own = None;
    let credentials = match presented(&req) {
        None => None,
        Some(Err(e)) => Some(Err(e)),
        Some(Ok(token)) if crm_users::api_keys::looks_like_key(&token) => {
            Some(key_caller(&state, token, ip).await.map(|(actor, limit)| {
                own = limit;
                actor
            }))
        }
        // A token naming a key (`kid`) is the identity provider's; ours name none. People get a
        // user on first sight when provisioning is on; an API key is an integration, not staff.
        Some(Ok(token)) => {
            let person = match (&state.oidc, jsonwebtoken::decode_header(&token).ok().and_then(|h| h.kid)) {
                (Some(oidc), Some(kid)) => oidc.verify(&token, &kid).await,
                _ => state.keys.verify(&token),
            };
            let person = person.map(|mut actor| {
                actor.provision_user = state.provision_users;
                actor.ip = ip;
                actor
            });
            if let (Ok(actor), Some(oidc)) = (&person, &state.oidc)
                && oidc.team_due(actor)
            {
                follow_team(&state, oidc, actor).await;
            }
            Some(person)
        }
    };
    let subject = match &credentials {
        Some(Ok(actor)) => {
            req.extensions_mut().insert(crate::telemetry::Subject(actor.sub.clone()));
            Some(actor.sub.clone())
        }
        _ => None,
    };
    if let Some(c) = credentials {
        req.extensions_mut().insert(Credentials(c));
    }
    let standing = if public_path(req.path()) {
        ip.and_then(|ip| state.rate_limits.check(crate::limits::Bucket::Public(ip)))
    } else {
        subject.as_deref().and_then(|subject| state.rate_limits.check(crate::limits::Bucket::Caller { subject, own }))
    };
    if let Some(s) = standing
        && s.retry_after.is_some()
    {
        state.metrics.rate_limited(s.policy);
        return Ok(req.into_response(s.refusal()));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if let Some(s) = standing {
        s.write(res.headers_mut());
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> JwtKeys {
        JwtKeys::from_settings(&JwtSettings { secret: Some(secret.into()), ..Default::default() }).unwrap()
    }

    #[test]
    fn round_trip_and_wrong_key() {
        // Also guards the jsonwebtoken crypto backend: with none or two, this panics.
        let k = keys("0123456789abcdef0123456789abcdef");
        let t = k.issue("u1", &["sales".into()], &[], std::time::Duration::from_secs(60)).unwrap();
        let a = k.verify(&t).unwrap();
        assert_eq!(a.sub, "u1");
        assert!(a.has(crm_core::Scope::ContactsWrite));
        assert!(keys("another-secret-another-secret-xx").verify(&t).is_err());
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(JwtKeys::from_settings(&JwtSettings { secret: Some("short".into()), ..Default::default() }).is_err());
    }
}
