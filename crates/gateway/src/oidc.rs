//! Tokens from an OpenID Connect identity provider (Keycloak, Entra ID, Auth0, Google, …),
//! verified against the provider's published keys (its JWKS URL).
//!
//! A token whose header names a key (`kid`) is the provider's; the server's own tokens
//! (`crm token`) name none. The keys are fetched on first use and kept; a token signed by a key
//! not among them makes the server fetch the set again (the provider rotated its keys), at most
//! once per 30 s, and the set is refreshed in any case after `CRM_OIDC_REFRESH`. The
//! issuer is required and checked, the audience when configured; `exp` is required, `nbf`
//! checked, 30 s of leeway. Roles come from a claim (a dotted path: `realm_access.roles`), each
//! value taken as our role of that name or mapped by `CRM_OIDC_ROLE_MAP`; scopes from `scope`
//! or `scp`, only ours kept. With `CRM_OIDC_TEAM_CLAIM` the provider manages teams too: the
//! claim's value (or the first mapped by `CRM_OIDC_TEAM_MAP`) is the caller's team, and its user
//! follows it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crm_core::{Actor, Role};
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::problem::ApiError;

/// How the provider is trusted.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    /// Where its keys are published (`https://idp.example.com/realms/acme/protocol/openid-connect/certs`).
    pub jwks_url: String,
    /// The `iss` its tokens carry.
    pub issuer: String,
    /// The `aud` our tokens must carry, if any.
    pub audience: Option<String>,
    /// Where the roles are in the claims (a dotted path to an array or a space-separated text).
    pub roles_claim: String,
    /// The provider's role or group names that mean one of ours (`crm-admins` → admin).
    pub role_map: Vec<(String, Role)>,
    /// Where the team is in the claims (a dotted path to a text or an array), when the provider
    /// manages teams; empty when it does not.
    pub team_claim: String,
    /// The provider's group names that mean one of our teams (`sellers-north` → `north`); when
    /// empty, the claim's first value is the team's name.
    pub team_map: Vec<(String, String)>,
    /// The key set is fetched again after this long.
    pub refresh: Duration,
    /// A token naming an unknown key makes the server fetch the set again at most this often
    /// (30 s), so that made-up `kid`s cannot make it hammer the provider.
    pub min_refetch: Duration,
}

impl OidcSettings {
    /// Parses `CRM_OIDC_ROLE_MAP`: `name=role,name=role`.
    pub fn parse_role_map(text: &str) -> Result<Vec<(String, Role)>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|pair| {
                let (name, role) =
                    pair.split_once('=').ok_or_else(|| format!("CRM_OIDC_ROLE_MAP: `{pair}` is not `name=role`"))?;
                let role = Role::parse(role.trim()).ok_or_else(|| {
                    format!(
                        "CRM_OIDC_ROLE_MAP: `{}` is not a role (admin, sales, marketing, support, readonly)",
                        role.trim()
                    )
                })?;
                Ok((name.trim().to_string(), role))
            })
            .collect()
    }

    /// Parses `CRM_OIDC_TEAM_MAP`: `group=team,group=team`.
    pub fn parse_team_map(text: &str) -> Result<Vec<(String, String)>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|pair| {
                let (group, team) =
                    pair.split_once('=').ok_or_else(|| format!("CRM_OIDC_TEAM_MAP: `{pair}` is not `group=team`"))?;
                let team = team.trim();
                if team.is_empty() || team.chars().count() > 100 {
                    return Err(format!("CRM_OIDC_TEAM_MAP: `{pair}` needs a team name of 1 to 100 characters"));
                }
                Ok((group.trim().to_string(), team.to_string()))
            })
            .collect()
    }

    /// The team the claims name: the first value mapped by the team map, or (without a map)
    /// the first value; None when the provider does not manage teams.
    fn team(&self, claims: &Value) -> Option<Option<String>> {
        if self.team_claim.is_empty() {
            return None;
        }
        // A text is one team's name (`Sales North`); an array, groups.
        let values = match at_path(claims, &self.team_claim) {
            Some(Value::String(s)) => vec![s.clone()],
            other => strings(other),
        };
        let team = if self.team_map.is_empty() {
            values.into_iter().map(|v| v.trim().trim_start_matches('/').to_string()).find(|v| !v.is_empty())
        } else {
            values.iter().find_map(|v| {
                self.team_map.iter().find(|(g, _)| g == v.trim_start_matches('/')).map(|(_, t)| t.clone())
            })
        };
        Some(team.map(|t| t.chars().take(100).collect()))
    }
}

struct Keys {
    by_kid: HashMap<String, (DecodingKey, Algorithm)>,
    fetched: Option<Instant>,
    tried: Option<Instant>,
}

/// The provider's verifier, shared by every worker.
pub struct Oidc {
    settings: OidcSettings,
    keys: tokio::sync::Mutex<Keys>,
    /// The team each subject's user was last checked against, and when: a user's team is
    /// compared with its tokens at most every [`TEAM_CHECK`], or at once when a token says
    /// another team.
    teams: std::sync::Mutex<HashMap<String, (Option<String>, Instant)>>,
}

/// How long a subject's team, once checked, is taken as it is.
const TEAM_CHECK: Duration = Duration::from_secs(300);

/// The signing keys of a JWKS document, by `kid` (keys without one, symmetric keys and unknown
/// kinds are left out).
pub fn keys_of(set: &JwkSet) -> HashMap<String, (DecodingKey, Algorithm)> {
    let mut out = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = &jwk.common.key_id else { continue };
        let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
            (AlgorithmParameters::OctetKey(_) | AlgorithmParameters::Other(_), _) => continue,
            (_, Some(named)) => match format!("{named:?}").parse::<Algorithm>() {
                Ok(Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) | Err(_) => continue,
                Ok(a) => a,
            },
            (AlgorithmParameters::RSA(_), None) => Algorithm::RS256,
            (AlgorithmParameters::EllipticCurve(_), None) => Algorithm::ES256,
            (AlgorithmParameters::OctetKeyPair(_), None) => Algorithm::EdDSA,
            _ => continue,
        };
        if let Ok(key) = DecodingKey::from_jwk(jwk) {
            out.insert(kid.clone(), (key, algorithm));
        }
    }
    out
}

/// The value at a dotted path of the claims.
fn at_path<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(claims, |v, part| v.get(part))
}

/// Strings of a claim that is an array of strings or one space-separated string.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(String::from).collect(),
        Some(Value::String(s)) => s.split_whitespace().map(String::from).collect(),
        _ => Vec::new(),
    }
}

impl Oidc {
    pub fn new(settings: OidcSettings) -> Oidc {
        Oidc {
            settings,
            keys: tokio::sync::Mutex::new(Keys { by_kid: HashMap::new(), fetched: None, tried: None }),
            teams: Default::default(),
        }
    }

    /// Whether the caller's user should be checked against the team its token says.
    pub fn team_due(&self, actor: &Actor) -> bool {
        let Some(team) = &actor.idp_team else { return false };
        let Ok(teams) = self.teams.lock() else { return true };
        !teams.get(&actor.sub).is_some_and(|(t, at)| t == team && at.elapsed() < TEAM_CHECK)
    }

    /// Notes that the caller's user is in the team its token says (the memory is pruned of
    /// entries past their time once it holds many subjects).
    pub fn team_checked(&self, actor: &Actor) {
        let (Some(team), Ok(mut teams)) = (&actor.idp_team, self.teams.lock()) else { return };
        if teams.len() >= 10_000 {
            teams.retain(|_, (_, at)| at.elapsed() < TEAM_CHECK);
        }
        teams.insert(actor.sub.clone(), (team.clone(), Instant::now()));
    }

    async fn fetch(&self) -> Result<HashMap<String, (DecodingKey, Algorithm)>, String> {
        let client = awc::Client::builder().timeout(Duration::from_secs(5)).finish();
        let mut res = client.get(&self.settings.jwks_url).send().await.map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("the key set answered {}", res.status()));
        }
        let set: JwkSet = res.json().limit(1024 * 1024).await.map_err(|e| e.to_string())?;
        Ok(keys_of(&set))
    }

    /// The key `kid` names: from the kept set, or from a fresh one when the kept set is stale or
    /// does not hold it (and the set was not fetched in the last `min_refetch`).
    async fn key(&self, kid: &str) -> Result<(DecodingKey, Algorithm), ApiError> {
        let mut keys = self.keys.lock().await;
        let stale = keys.fetched.is_none_or(|at| at.elapsed() >= self.settings.refresh);
        let missing = !keys.by_kid.contains_key(kid);
        let may_try = keys.tried.is_none_or(|at| at.elapsed() >= self.settings.min_refetch);
        if (stale || missing) && may_try {
            keys.tried = Some(Instant::now());
            match self.fetch().await {
                Ok(fresh) => {
                    keys.by_kid = fresh;
                    keys.fetched = Some(Instant::now());
                }
                // The kept keys stay in use while the provider cannot be reached.
                Err(e) => {
                    tracing::warn!(error = %e, url = %self.settings.jwks_url, "could not fetch the identity provider's keys")
                }
            }
        }
        keys.by_kid.get(kid).cloned().ok_or_else(|| {
            ApiError::unauthenticated("the token is signed with a key the identity provider does not publish")
        })
    }

    /// Verifies a provider's token and builds the caller.
    pub async fn verify(&self, token: &str, kid: &str) -> Result<Actor, ApiError> {
        let (key, algorithm) = self.key(kid).await?;
        let mut validation = Validation::new(algorithm);
        validation.leeway = 30;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub", "iss"];
        validation.set_issuer(&[&self.settings.issuer]);
        match &self.settings.audience {
            Some(a) => {
                validation.set_audience(&[a]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            ApiError::unauthenticated(match e.kind() {
                K::ExpiredSignature => "the token has expired",
                K::ImmatureSignature => "the token is not valid yet (nbf is in the future)",
                K::InvalidIssuer => "the token is not from the configured identity provider (iss)",
                K::InvalidAudience => "the token is not for this service (aud)",
                K::InvalidSignature => "the token signature is not valid",
                K::InvalidAlgorithm => "the token's algorithm is not its key's",
                K::MissingRequiredClaim(_) => "the token lacks a required claim (sub, exp, iss, aud)",
                _ => "the token is malformed",
            })
        })?;
        Ok(self.actor(&data.claims))
    }

    /// The caller the verified claims describe.
    fn actor(&self, claims: &Value) -> Actor {
        let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_string();
        let mut roles: Vec<Role> = Vec::new();
        for name in strings(at_path(claims, &self.settings.roles_claim)) {
            let mapped = self.settings.role_map.iter().filter(|(n, _)| *n == name).map(|(_, r)| *r);
            roles.extend(mapped.chain(Role::parse(&name)));
        }
        let mut scopes = strings(claims.get("scope"));
        scopes.extend(strings(claims.get("scp")));
        let mut actor = Actor::new(sub, roles.iter().map(|r| r.as_str()), scopes.iter().map(String::as_str));
        actor.name = claims.get("name").and_then(Value::as_str).map(String::from);
        actor.email = claims.get("email").and_then(Value::as_str).map(String::from);
        actor.idp_team = self.settings.team(claims);
        actor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn oidc(map: &str) -> Oidc {
        Oidc::new(OidcSettings {
            jwks_url: "http://127.0.0.1:9/keys".into(),
            issuer: "https://idp.example".into(),
            audience: None,
            roles_claim: "realm_access.roles".into(),
            role_map: OidcSettings::parse_role_map(map).unwrap(),
            team_claim: String::new(),
            team_map: Vec::new(),
            refresh: Duration::from_secs(600),
            min_refetch: Duration::from_secs(30),
        })
    }

    #[test]
    fn roles_come_from_the_configured_claim_mapped_or_by_name() {
        let o = oidc("crm-admins=admin, sellers=sales");
        let a = o.actor(&json!({"sub": "u1", "realm_access": {"roles": ["sellers", "support", "offline_access"]},
            "scope": "openid contacts:read", "scp": ["webhooks:read"], "name": "Ada", "email": "ada@example.com"}));
        assert_eq!(a.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(), ["sales", "support"]);
        assert!(a.has(crm_core::Scope::CasesWrite) && a.has(crm_core::Scope::WebhooksRead));
        assert!(!a.has(crm_core::Scope::UsersWrite));
        assert_eq!((a.sub.as_str(), a.name.as_deref()), ("u1", Some("Ada")));
        let nobody = o.actor(&json!({"sub": "u2", "roles": ["admin"]}));
        assert!(nobody.roles.is_empty(), "roles are read from the configured claim only");
        assert!(OidcSettings::parse_role_map("x=emperor").is_err());
        assert!(OidcSettings::parse_role_map("admin").is_err());
    }

    #[test]
    fn symmetric_and_unnamed_keys_are_left_out() {
        let set: JwkSet = serde_json::from_value(json!({"keys": [
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "RSA", "n": "sXch", "e": "AQAB"},
            {"kty": "RSA", "kid": "r", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"}
        ]}))
        .unwrap();
        let keys = keys_of(&set);
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["r"]);
        assert_eq!(keys["r"].1, Algorithm::RS256);
    }
}
