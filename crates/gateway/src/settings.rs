//! Settings, from flags and the environment. Built once and passed down; no globals.

use std::path::{Path, PathBuf};

use crm_db::Backend;

/// How the service authenticates bearer tokens.
#[derive(Clone, Debug, Default)]
pub struct JwtSettings {
    /// HS256 shared secret.
    pub secret: Option<String>,
    /// RS256/ES256 public key (PEM text, or a path to a PEM file).
    pub public_key: Option<String>,
    /// Private key matching `public_key`, only for `crm token`.
    pub private_key: Option<String>,
    /// `RS256` or `ES256` when a public key is used (detected from the key if unset).
    pub algorithm: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

impl JwtSettings {
    pub fn has_keys(&self) -> bool {
        self.secret.is_some() || self.public_key.is_some()
    }
}

/// Which browser origins may call the API (CORS). Empty: none, the default.
#[derive(Clone, Debug, Default)]
pub struct CorsSettings {
    /// Exact origins (`https://app.example.com`), or `*` for any.
    pub origins: Vec<String>,
    /// Let browsers send credentials (cookies); never with `*`.
    pub credentials: bool,
}

impl CorsSettings {
    /// Reads `CRM_CORS_ORIGINS` (comma-separated), checking each origin's form.
    pub fn parse(origins: &str, credentials: bool) -> Result<CorsSettings, String> {
        // Browsers send origins in lower case; so are they compared.
        let origins: Vec<String> =
            origins.split(',').map(str::trim).filter(|o| !o.is_empty()).map(str::to_ascii_lowercase).collect();
        for o in &origins {
            if o == "*" {
                if credentials {
                    return Err("CRM_CORS_ORIGINS=* cannot be combined with CRM_CORS_CREDENTIALS".into());
                }
                continue;
            }
            let rest = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
            let ok = rest.is_some_and(|host| {
                !host.is_empty()
                    && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
            });
            if !ok {
                return Err(format!(
                    "CRM_CORS_ORIGINS: `{o}` is not an origin (scheme and host, e.g. https://app.example.com, no path)"
                ));
            }
        }
        Ok(CorsSettings { origins, credentials })
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// A Nominatim-compatible geocoder (`CRM_GEOCODER_URL`, docs/GEO.md).
#[derive(Clone, Debug, PartialEq)]
pub struct GeocoderSettings {
    pub url: String,
    /// Requests per second, per instance.
    pub rate: f64,
    /// How requests name the service (Nominatim's usage policy asks for one).
    pub user_agent: String,
}

impl GeocoderSettings {
    /// The geocoder these settings describe (checked).
    pub fn build(&self) -> Result<crm_geo::remote::RemoteGeocoder, String> {
        crm_geo::remote::RemoteGeocoder::new(&self.url, self.rate, &self.user_agent, std::time::Duration::from_secs(10))
    }
}

/// Everything `Application::build` needs.
#[derive(Clone, Debug)]
pub struct Settings {
    pub bind: String,
    pub database_url: String,
    pub jwt: JwtSettings,
    /// `CRM_ENV=production` forbids generated development secrets.
    pub production: bool,
    pub migrate: bool,
    /// Database connections (`None`: `PoolOptions::default_size`, two per core).
    pub pool_size: Option<u32>,
    /// Largest accepted JSON body, in bytes.
    pub max_body_bytes: usize,
    /// HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// How long Idempotency-Key answers are kept (at least 24 h by contract).
    pub idempotency_ttl: std::time::Duration,
    /// How long events stay in the change feed.
    pub event_retention: std::time::Duration,
    /// How long the audit log keeps its entries (at least 30 days).
    pub audit_retention: std::time::Duration,
    /// Create a user record for a token subject the first time it writes (or asks `/users/me`).
    pub provision_users: bool,
    /// How often expired idempotency keys and old events are purged (zero: never).
    pub maintenance_interval: std::time::Duration,
    /// How often the reminder worker looks for activity reminders that fell due (zero: never).
    pub reminder_interval: std::time::Duration,
    /// How often the job runner looks for queued background jobs (zero: this instance runs
    /// none).
    pub job_interval: std::time::Duration,
    /// How often the custom fields are checked for changes made through other instances, whose
    /// GraphQL types are then rebuilt (zero: only changes made through this one).
    pub schema_refresh: std::time::Duration,
    /// Browser origins allowed to call the API.
    pub cors: CorsSettings,
    /// How often the webhook sender looks for events to match and deliveries due (zero: no
    /// sender on this instance).
    pub webhook_interval: std::time::Duration,
    /// Inner addresses webhooks may call all the same (the tests' receivers on 127.0.0.1).
    pub webhook_allow: Vec<ipnet::IpNet>,
    /// How long one webhook call may take.
    pub webhook_timeout: std::time::Duration,
    /// The optional HTTP geocoder bulk geocoding jobs ask for what the gazetteer cannot place.
    pub geocoder: Option<GeocoderSettings>,
    /// The optional road-distance provider route plans ask (an OSRM-compatible table service:
    /// its URL and profile).
    pub routing: Option<(String, String)>,
    /// A subscription whose deliveries fail this long without a success is turned off.
    pub webhook_disable_after: std::time::Duration,
    /// Multiplies the webhook retry waits (1; the tests make them milliseconds).
    pub webhook_retry_scale: f64,
    /// How often the automation engine matches new events to rules and executes the runs due
    /// (zero: no engine on this instance).
    pub automation_interval: std::time::Duration,
    /// How the engine keeps rules from running away (chain depth, failures before a rule is
    /// turned off).
    pub automation: crm_automation::engine::Settings,
    /// How the server sends email (campaign waves); `None` without `CRM_SMTP_URL`: email
    /// campaigns with a template are refused at launch.
    pub mail: Option<crate::mail::MailSettings>,
    /// How often the mail worker looks for messages due (zero: no worker on this instance).
    pub mail_interval: std::time::Duration,
    /// Requests per minute of one caller (a token's subject or an API key without its own
    /// limit), per instance; 0: no limit.
    pub rate_limit: u32,
    /// Requests per minute of one client address on the public endpoints (campaign links,
    /// web-form lead capture), per instance; 0: no limit.
    pub public_rate_limit: u32,
    /// Proxies in front of the server, whose `X-Forwarded-For` names the client (for the
    /// public limits and API keys' allowed networks).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// On PostgreSQL, a request's statement running longer is cancelled (`503
    /// STATEMENT_TIMEOUT`); background jobs run without it. None: no limit.
    pub statement_timeout: Option<std::time::Duration>,
    /// On SIGTERM, how long `/readyz` answers `503` before the listener closes (for load
    /// balancers to notice).
    pub drain_delay: std::time::Duration,
    /// How long requests in flight may take to finish once the listener closed.
    pub shutdown_timeout: std::time::Duration,
    /// An OpenID Connect identity provider whose tokens are accepted besides the server's own.
    pub oidc: Option<crate::oidc::OidcSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".into(),
            database_url: "crm.sqlite3".into(),
            jwt: JwtSettings::default(),
            production: false,
            migrate: true,
            pool_size: None,
            max_body_bytes: 4 * 1024 * 1024,
            workers: None,
            idempotency_ttl: std::time::Duration::from_secs(24 * 3600),
            event_retention: std::time::Duration::from_secs(30 * 24 * 3600),
            audit_retention: std::time::Duration::from_secs(730 * 24 * 3600),
            provision_users: false,
            maintenance_interval: std::time::Duration::from_secs(3600),
            reminder_interval: std::time::Duration::from_secs(30),
            job_interval: std::time::Duration::from_secs(1),
            schema_refresh: std::time::Duration::from_secs(1),
            cors: CorsSettings::default(),
            webhook_interval: std::time::Duration::from_millis(250),
            webhook_allow: Vec::new(),
            webhook_timeout: std::time::Duration::from_secs(10),
            geocoder: None,
            routing: None,
            webhook_disable_after: std::time::Duration::from_secs(5 * 24 * 3600),
            webhook_retry_scale: 1.0,
            automation_interval: std::time::Duration::from_millis(250),
            automation: crm_automation::engine::Settings::default(),
            mail: None,
            mail_interval: std::time::Duration::from_secs(1),
            rate_limit: 1200,
            public_rate_limit: 60,
            trusted_proxies: Vec::new(),
            statement_timeout: Some(std::time::Duration::from_secs(30)),
            drain_delay: std::time::Duration::from_secs(5),
            shutdown_timeout: std::time::Duration::from_secs(30),
            oidc: None,
        }
    }
}

impl Settings {
    pub fn backend(&self) -> Backend {
        Backend::of_url(&self.database_url)
    }

    /// Where the development JWT secret lives: next to an SQLite file, or in the working
    /// directory for PostgreSQL.
    pub fn dev_secret_path(&self) -> PathBuf {
        match self.backend() {
            Backend::Sqlite => {
                let path = self.database_url.strip_prefix("sqlite://").unwrap_or(&self.database_url);
                let dir = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                dir.join(".crm-jwt-secret")
            }
            Backend::Postgres => PathBuf::from(".crm-jwt-secret"),
        }
    }

    /// Fills in a development JWT secret when none is configured (never in production).
    /// Returns a note for the operator when it did.
    pub fn ensure_jwt_keys(&mut self) -> Result<Option<String>, String> {
        if self.jwt.has_keys() {
            return Ok(None);
        }
        if self.production {
            return Err(
                "CRM_ENV=production needs CRM_JWT_SECRET or CRM_JWT_PUBLIC_KEY; refusing to start without keys".into(),
            );
        }
        let path = self.dev_secret_path();
        if let Ok(s) = std::fs::read_to_string(&path) {
            let s = s.trim().to_string();
            if s.len() >= 32 {
                self.jwt.secret = Some(s);
                return Ok(Some(format!("using the development JWT secret in {}", path.display())));
            }
        }
        use base64::Engine;
        let bytes: [u8; 32] = rand::random();
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        write_private(&path, &secret)
            .map_err(|e| format!("cannot write development JWT secret to {}: {e}", path.display()))?;
        self.jwt.secret = Some(secret);
        Ok(Some(format!(
            "no CRM_JWT_SECRET set: generated a development secret in {} (set CRM_JWT_SECRET in production)",
            path.display()
        )))
    }
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(content.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_origins_are_checked() {
        let c = CorsSettings::parse(" https://app.example.com, http://localhost:5173 ,", false).unwrap();
        assert_eq!(c.origins, ["https://app.example.com", "http://localhost:5173"]);
        assert!(CorsSettings::parse("", false).unwrap().origins.is_empty());
        assert!(CorsSettings::parse("*", false).is_ok());
        assert!(CorsSettings::parse("*", true).is_err());
        assert!(CorsSettings::parse("app.example.com", false).is_err());
        assert!(CorsSettings::parse("https://app.example.com/", false).is_err());
    }

    #[test]
    fn production_refuses_to_start_without_keys() {
        let mut s = Settings { production: true, ..Settings::default() };
        assert!(s.ensure_jwt_keys().is_err());
        assert!(s.jwt.secret.is_none());
    }

    #[test]
    fn development_generates_and_then_reuses_a_secret_next_to_the_database() {
        let dir = std::env::temp_dir().join(format!("crm-settings-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = dir.join("crm.sqlite3").to_string_lossy().to_string();
        let mut first = Settings { database_url: url.clone(), ..Settings::default() };
        assert!(first.ensure_jwt_keys().unwrap().unwrap().contains("generated"));
        let mut second = Settings { database_url: url, ..Settings::default() };
        assert!(second.ensure_jwt_keys().unwrap().unwrap().contains("using"));
        assert_eq!(first.jwt.secret, second.jwt.secret);
        assert!(dir.join(".crm-jwt-secret").exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
