//! SMTP connections for the mailer, opened with `TCP_NODELAY`.
//!
//! lettre writes a message's closing `.` as a write of its own. On a socket with Nagle's
//! algorithm that small write waits until the server acknowledges the body, and servers delay
//! that ACK by about 40 ms, so a connection from lettre's own transport carries at most about 25
//! messages a second (docs/PERFORMANCE.md). lettre lets a caller bring the socket
//! (`AsyncSmtpConnection::connect_with_transport`) but its pool does not, so this module opens
//! the sockets itself, with `TCP_NODELAY`, keeps idle connections for reuse, and leaves the SMTP
//! protocol (EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA, dot-stuffing) to lettre. The URL is read as
//! lettre reads it (`smtp://`, `?tls=required|opportunistic`, `smtps://`, credentials, a path for
//! the EHLO name). Implicit TLS (`smtps://`) is opened by lettre, without `TCP_NODELAY`: lettre
//! does its TLS handshake only on sockets it opened itself.

use std::time::{Duration, Instant};

use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use percent_encoding::percent_decode_str;

/// Where and how to connect: `CRM_SMTP_URL`, read.
#[derive(Clone)]
pub struct Server {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    hello: ClientId,
}

impl Server {
    /// Reads an SMTP URL the way lettre's `from_url` does.
    pub fn from_url(url: &str) -> Result<Server, String> {
        let bad = |why: String| format!("CRM_SMTP_URL: {why}");
        let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host".into()))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let tls_param = parsed.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
        let params = || TlsParameters::new(host.clone()).map_err(|e| bad(e.to_string()));
        let (port, tls) = match (parsed.scheme(), tls_param.as_deref()) {
            ("smtp", None) => (25, Tls::None),
            ("smtp", Some("required")) => (587, Tls::Required(params()?)),
            ("smtp", Some("opportunistic")) => (587, Tls::Opportunistic(params()?)),
            ("smtps", _) => (465, Tls::Wrapper(params()?)),
            (scheme, tls) => {
                return Err(bad(format!(
                    "the scheme must be smtp or smtps and tls (if given) required or opportunistic, not {scheme} and {tls:?}"
                )));
            }
        };
        let decode =
            |s: &str| percent_decode_str(s).decode_utf8().map(|s| s.into_owned()).map_err(|e| bad(e.to_string()));
        let credentials = match parsed.password() {
            Some(password) => Some(Credentials::new(decode(parsed.username())?, decode(password)?)),
            None => None,
        };
        let hello = match parsed.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_string()),
        };
        Ok(Server { port: parsed.port().unwrap_or(port), host, tls, credentials, hello })
    }

    /// Opens a connection: TCP with `TCP_NODELAY`, EHLO, STARTTLS when asked, AUTH when
    /// credentials are given.
    async fn connect(&self, timeout: Duration) -> Result<AsyncSmtpConnection, String> {
        let mut conn = match &self.tls {
            Tls::Wrapper(params) => AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(timeout),
                &self.hello,
                Some(params.clone()),
                None,
            )
            .await
            .map_err(|e| e.to_string())?,
            _ => {
                let tcp =
                    tokio::time::timeout(timeout, tokio::net::TcpStream::connect((self.host.as_str(), self.port)))
                        .await
                        .map_err(|_| format!("no connection to {}:{} within {timeout:?}", self.host, self.port))?
                        .map_err(|e| format!("connecting to {}:{}: {e}", self.host, self.port))?;
                tcp.set_nodelay(true).map_err(|e| e.to_string())?;
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                    .await
                    .map_err(|e| e.to_string())?
            }
        };
        match &self.tls {
            Tls::Required(params) => conn.starttls(params.clone(), &self.hello).await.map_err(|e| e.to_string())?,
            Tls::Opportunistic(params) if conn.can_starttls() => {
                conn.starttls(params.clone(), &self.hello).await.map_err(|e| e.to_string())?
            }
            _ => {}
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials).await.map_err(|e| e.to_string())?;
        }
        Ok(conn)
    }
}

/// How long an idle connection is kept (servers close theirs after a few minutes of silence);
/// one idle for longer than [`CHECK_AFTER`] is checked with a NOOP before it is used again.
const KEEP_IDLE: Duration = Duration::from_secs(60);
const CHECK_AFTER: Duration = Duration::from_secs(5);

/// What became of one message.
pub enum Sent {
    /// The server's final answer (lettre's error when it refused).
    Answered(Result<(), lettre::transport::smtp::Error>),
    /// No connection could be opened (nothing was handed over).
    NoConnection(String),
    /// The exchange took longer than the timeout: the message may have gone out.
    TimedOut,
}

/// At most `size` connections in use at once; idle ones are kept for the next message.
pub struct Pool {
    server: Server,
    timeout: Duration,
    slots: tokio::sync::Semaphore,
    idle: std::sync::Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl Pool {
    pub fn new(server: Server, size: u32, timeout: Duration) -> Pool {
        Pool {
            server,
            timeout,
            slots: tokio::sync::Semaphore::new(size.max(1) as usize),
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// An idle connection that still answers, or a new one.
    async fn take(&self) -> Result<AsyncSmtpConnection, String> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some((mut conn, since)) = idle else { break };
            let quiet = since.elapsed();
            if quiet > KEEP_IDLE {
                conn.abort().await;
                continue;
            }
            if quiet < CHECK_AFTER || conn.test_connected().await {
                return Ok(conn);
            }
            conn.abort().await;
        }
        self.server.connect(self.timeout).await
    }

    /// Hands one message to the server.
    pub async fn send(&self, message: &lettre::Message) -> Sent {
        let Ok(_slot) = self.slots.acquire().await else { return Sent::NoConnection("the mailer is closed".into()) };
        let mut conn = match self.take().await {
            Ok(conn) => conn,
            Err(e) => return Sent::NoConnection(e),
        };
        let body = message.formatted();
        match tokio::time::timeout(self.timeout, conn.send(message.envelope(), &body)).await {
            Ok(answer) => {
                // lettre closes a connection on any error; a good one goes back for reuse.
                if !conn.has_broken() {
                    self.idle.lock().unwrap_or_else(|e| e.into_inner()).push((conn, Instant::now()));
                }
                Sent::Answered(answer.map(|_| ()))
            }
            Err(_) => {
                conn.abort().await;
                Sent::TimedOut
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &Server) -> &'static str {
        match s.tls {
            Tls::None => "none",
            Tls::Required(_) => "required",
            Tls::Opportunistic(_) => "opportunistic",
            Tls::Wrapper(_) => "wrapper",
        }
    }

    #[test]
    fn urls_are_read_as_lettre_reads_them() {
        let s = Server::from_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((s.host.as_str(), s.port, kind(&s), s.credentials.is_none()), ("127.0.0.1", 2525, "none", true));
        let s = Server::from_url("smtp://mail.example.com?tls=required").unwrap();
        assert_eq!((s.port, kind(&s)), (587, "required"));
        let s = Server::from_url("smtp://mail.example.com?tls=opportunistic").unwrap();
        assert_eq!((s.port, kind(&s)), (587, "opportunistic"));
        let s = Server::from_url("smtps://u%40x:p%2Fw@mail.example.com/crm.example.com").unwrap();
        assert_eq!((s.port, kind(&s)), (465, "wrapper"));
        assert_eq!(s.credentials, Some(Credentials::new("u@x".into(), "p/w".into())));
        assert_eq!(s.hello, ClientId::Domain("crm.example.com".into()));
        let s = Server::from_url("smtp://[::1]:25").unwrap();
        assert_eq!(s.host, "::1");
        for bad in ["http://mail.example.com", "smtp://mail.example.com?tls=always", "smtp:///nohost", "not a url"] {
            let e = Server::from_url(bad).err().unwrap_or_else(|| panic!("{bad} was taken"));
            assert!(e.starts_with("CRM_SMTP_URL: "), "{e}");
        }
    }
}
