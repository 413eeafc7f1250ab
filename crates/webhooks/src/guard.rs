//! The SSRF guard: a webhook may not make the server call into its own network. URLs must be
//! `https` in production; loopback, private, link-local (the cloud metadata service at
//! 169.254.169.254 among them), shared, multicast and unspecified addresses are refused, as a
//! literal in the URL when it is saved and after name resolution when it is called (so a name
//! that resolves to an inner address, or rebinds to one, is refused too), unless the address is
//! in the allow list (`CRM_WEBHOOK_ALLOW`: the tests allow `127.0.0.1`). Redirects are never
//! followed.

use std::net::IpAddr;

use ipnet::IpNet;

/// What the guard allows, from settings; on the database handle's context (`Db::with_context`)
/// so that saving a subscription checks its URL the way delivering it will.
#[derive(Clone, Debug, Default)]
pub struct Guard {
    /// Addresses allowed although they are inner ones (`127.0.0.1/32`, `10.1.0.0/16`).
    pub allow: Vec<IpNet>,
    /// Only `https` URLs (production).
    pub https_only: bool,
}

impl Guard {
    /// Parses `CRM_WEBHOOK_ALLOW`: comma-separated addresses or networks.
    pub fn parse_allow(list: &str) -> Result<Vec<IpNet>, String> {
        parse_networks("CRM_WEBHOOK_ALLOW", list)
    }

    /// The guard of the unit of work running on this thread (the application's), or the
    /// default one (no exceptions, `http` allowed).
    pub fn current() -> Guard {
        crm_db::pool::context::<Guard>().map(|g| (*g).clone()).unwrap_or_default()
    }

    /// Whether the server may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow.iter().any(|n| n.contains(&ip)) || public(ip)
    }
}

/// Why a URL or an address was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("not a URL: {0}")]
    Invalid(String),
    #[error("the URL must be https")]
    HttpsRequired,
    #[error("{0} is an inner address (loopback, private, link-local or metadata): the server does not call it")]
    Forbidden(IpAddr),
}

impl GuardError {
    pub fn code(&self) -> &'static str {
        match self {
            GuardError::Invalid(_) => "invalid_url",
            GuardError::HttpsRequired => "https_required",
            GuardError::Forbidden(_) => "forbidden_address",
        }
    }
}

/// Checks a subscription's URL as it is saved: its form, its scheme, and its host when the host
/// is an address (names are checked when they are resolved, at each delivery).
pub fn check_url(raw: &str) -> Result<url::Url, GuardError> {
    check_url_with(&Guard::current(), raw)
}

pub fn check_url_with(guard: &Guard, raw: &str) -> Result<url::Url, GuardError> {
    if raw.len() > 2000 {
        return Err(GuardError::Invalid("at most 2000 characters".into()));
    }
    let u = url::Url::parse(raw).map_err(|e| GuardError::Invalid(e.to_string()))?;
    match u.scheme() {
        "https" => {}
        "http" if !guard.https_only => {}
        "http" => return Err(GuardError::HttpsRequired),
        other => return Err(GuardError::Invalid(format!("`{other}` is not http or https"))),
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(GuardError::Invalid("credentials do not go in the URL (sign with the secret instead)".into()));
    }
    if u.fragment().is_some() {
        return Err(GuardError::Invalid("a URL with a fragment (`#…`)".into()));
    }
    let ip = match u.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(d)) if is_localhost(d) => Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(GuardError::Invalid("no host".into())),
    };
    if let Some(ip) = ip
        && !guard.allows(ip)
    {
        return Err(GuardError::Forbidden(ip));
    }
    Ok(u)
}

/// `localhost` and its subdomains (RFC 6761), with or without the final dot.
fn is_localhost(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Whether an address is one the public internet routes to (not loopback, private, link-local,
/// shared, multicast, documentation, unspecified or broadcast; an IPv4-mapped IPv6 address is
/// judged as its IPv4 address).
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                // 100.64.0.0/10, shared address space (carrier NAT)
                || (a == 100 && (64..128).contains(&b))
                // 192.0.0.0/24, protocol assignments
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                // 198.18.0.0/15, benchmarking
                || (a == 198 && (b == 18 || b == 19))
                // 240.0.0.0/4, reserved
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                // 2001:db8::/32, documentation
                || (first == 0x2001 && v6.segments()[1] == 0x0db8)
                // 64:ff9b::/96 (NAT64) reaches IPv4 addresses the guard cannot see
                || (first == 0x0064 && v6.segments()[1] == 0xff9b))
        }
    }
}

/// A comma-separated list of addresses and networks (`10.0.0.0/8,127.0.0.1`) of the setting
/// `name`.
pub fn parse_networks(name: &str, list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{name}: `{s}` is not an address or network"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_addresses_are_refused_unless_allowed() {
        for inner in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!public(inner.parse().unwrap()), "{inner}");
        }
        for outer in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(public(outer.parse().unwrap()), "{outer}");
        }
        let g = Guard { allow: Guard::parse_allow("127.0.0.1, 10.9.0.0/16").unwrap(), https_only: false };
        assert!(g.allows("127.0.0.1".parse().unwrap()));
        assert!(g.allows("10.9.3.4".parse().unwrap()));
        assert!(!g.allows("10.8.3.4".parse().unwrap()));
        assert!(Guard::parse_allow("nope").is_err());
    }

    #[test]
    fn urls_are_checked_as_saved() {
        let open = Guard::default();
        assert!(check_url_with(&open, "https://hooks.example.com/crm?x=1").is_ok());
        assert!(check_url_with(&open, "http://hooks.example.com/crm").is_ok());
        let prod = Guard { https_only: true, ..Default::default() };
        assert_eq!(check_url_with(&prod, "http://hooks.example.com/").unwrap_err(), GuardError::HttpsRequired);
        for (bad, code) in [
            ("ftp://x.example.com/", "invalid_url"),
            ("not a url", "invalid_url"),
            ("https://user:pw@x.example.com/", "invalid_url"),
            ("http://127.0.0.1:8080/", "forbidden_address"),
            ("http://[::1]/", "forbidden_address"),
            ("http://localhost/", "forbidden_address"),
            ("http://LocalHost./", "forbidden_address"),
            ("http://api.localhost/", "forbidden_address"),
            ("http://169.254.169.254/latest/meta-data", "forbidden_address"),
            ("http://2130706433/", "forbidden_address"),
        ] {
            assert_eq!(check_url_with(&open, bad).unwrap_err().code(), code, "{bad}");
        }
    }
}
