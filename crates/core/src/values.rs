//! Parsed value types: inputs become these at the edge, so the domain never stores an
//! unchecked string. Each parser normalizes (trim, case, E.164) and names the field on error.

use validator::{ValidateEmail, ValidateUrl};

use crate::error::FieldError;

/// Trims; empty becomes `None`.
pub fn clean(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() { None } else { Some(t.to_string()) }
}

/// A trimmed, lower-cased, syntactically valid email address.
pub fn parse_email(field: &str, raw: &str) -> Result<String, FieldError> {
    let e = raw.trim().to_lowercase();
    if e.len() > 254 || !e.validate_email() {
        return Err(FieldError::new(field, "invalid_email", format!("`{raw}` is not a valid email address")));
    }
    Ok(e)
}

/// A phone number in E.164 (`+821012345678`). Numbers without a `+` prefix are read in
/// the given country (ISO 3166 alpha-2), when one is known.
pub fn parse_phone(field: &str, raw: &str, country: Option<&str>) -> Result<String, FieldError> {
    let region = country.and_then(|c| c.parse::<phonenumber::country::Id>().ok());
    let bad = || {
        let hint = if raw.trim_start().starts_with('+') || region.is_some() {
            ""
        } else {
            " (use international format, e.g. +82 10 1234 5678, or set `country`)"
        };
        FieldError::new(field, "invalid_phone", format!("`{raw}` is not a valid phone number{hint}"))
    };
    let n = phonenumber::parse(region, raw.trim()).map_err(|_| bad())?;
    if !phonenumber::is_valid(&n) {
        return Err(bad());
    }
    Ok(n.format().mode(phonenumber::Mode::E164).to_string())
}

/// `parse_phone`, except that a number the record already stores is kept as it is: it was
/// written by `parse_phone`, so it is already E.164. An update that leaves a phone alone then
/// neither validates it again (newer numbering metadata cannot fail an edit of another field)
/// nor runs the parser's regexes, whose per-thread matching caches grew by 22 MB during the
/// bench's PATCH scenario, which changes only the title.
pub fn parse_phone_unless_stored(
    field: &str,
    raw: &str,
    country: Option<&str>,
    stored: &[&str],
) -> Result<String, FieldError> {
    let t = raw.trim();
    if stored.contains(&t) { Ok(t.to_string()) } else { parse_phone(field, raw, country) }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
pub fn parse_country(field: &str, raw: &str) -> Result<String, FieldError> {
    let c = raw.trim().to_ascii_uppercase();
    match isocountry::CountryCode::for_alpha2(&c) {
        Ok(_) => Ok(c),
        Err(_) => {
            Err(FieldError::new(field, "invalid_country", format!("`{raw}` is not an ISO 3166-1 alpha-2 country code")))
        }
    }
}

/// A bare internet domain, lower case: `https://www.Acme.com/about` becomes `acme.com`.
pub fn parse_domain(field: &str, raw: &str) -> Result<String, FieldError> {
    let mut d = raw.trim().to_lowercase();
    for prefix in ["https://", "http://"] {
        if let Some(rest) = d.strip_prefix(prefix) {
            d = rest.to_string();
        }
    }
    if let Some(i) = d.find(['/', '?', '#']) {
        d.truncate(i);
    }
    if let Some(rest) = d.strip_prefix("www.") {
        d = rest.to_string();
    }
    let d = d.trim_end_matches('.').to_string();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    let labels: Vec<&str> = d.split('.').collect();
    if d.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| label_ok(l)) {
        return Err(FieldError::new(field, "invalid_domain", format!("`{raw}` is not a valid domain")));
    }
    Ok(d)
}

/// An absolute http(s) URL; a bare host gets `https://`.
pub fn parse_url(field: &str, raw: &str) -> Result<String, FieldError> {
    let t = raw.trim();
    let u = if t.contains("://") { t.to_string() } else { format!("https://{t}") };
    if !(u.starts_with("http://") || u.starts_with("https://")) || !u.validate_url() || !u.contains('.') {
        return Err(FieldError::new(field, "invalid_url", format!("`{raw}` is not a valid http(s) URL")));
    }
    Ok(u)
}

/// The items in their first order, each once, in linear time.
pub fn dedup<T: Eq + std::hash::Hash + Clone>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    items.into_iter().filter(|x| seen.insert(x.clone())).collect()
}

/// How many entries a list may hold as sent, before normalizing or removing duplicates: twice
/// what it may keep. A longer list is refused before any entry is looked at, so a small body
/// with a huge list costs nothing.
pub fn check_sent(field: &str, sent: usize, keep: usize, what: &str) -> Result<(), FieldError> {
    if sent > 2 * keep {
        return Err(FieldError::new(
            field,
            "too_many",
            format!("at most {keep} {what} ({} as sent, before duplicates are removed)", 2 * keep),
        ));
    }
    Ok(())
}

/// Field names of a record (`email`, `custom_fields.tier`), as a webhook or an automation rule
/// lists them: trimmed, de-duplicated, order kept; each invalid one is an error at
/// `field[i]`.
pub fn parse_field_names(field: &str, raw: Vec<String>, errs: &mut crate::FieldErrors) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, f) in raw.into_iter().enumerate() {
        let f = f.trim().to_string();
        let ok = !f.is_empty()
            && f.len() <= 100
            && f.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
        if !ok {
            errs.add(&format!("{field}[{i}]"), "invalid_value", "a field name, e.g. `email` or `custom_fields.tier`");
        } else if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

/// Tags: trimmed, lower-cased, de-duplicated, order kept; at most 50 of at most 64 chars.
pub fn parse_tags(field: &str, raw: &[String]) -> Result<Vec<String>, FieldError> {
    check_sent(field, raw.len(), 50, "tags")?;
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = Vec::new();
    for t in raw {
        let t = t.trim().to_lowercase();
        if t.is_empty() {
            continue;
        }
        if t.chars().count() > 64 {
            return Err(FieldError::new(field, "too_long", "a tag is at most 64 characters"));
        }
        if seen.insert(t.clone()) {
            out.push(t);
        }
    }
    if out.len() > 50 {
        return Err(FieldError::new(field, "too_many", "at most 50 tags"));
    }
    Ok(out)
}

/// Latitude and longitude within their ranges.
pub fn check_coordinate(field: &str, v: f64, limit: f64) -> Result<f64, FieldError> {
    if v.is_finite() && v.abs() <= limit {
        Ok(v)
    } else {
        Err(FieldError::new(field, "out_of_range", format!("must be between -{limit} and {limit}")))
    }
}

/// A record's coordinates: each in range, and both or neither (a point needs the two) when
/// they change from `stored` (a record saved with one coordinate before this rule stays
/// writable as long as its coordinates are left alone).
pub fn location(
    lat: Option<f64>,
    lng: Option<f64>,
    stored: Option<(Option<f64>, Option<f64>)>,
    errs: &mut crate::FieldErrors,
) -> (Option<f64>, Option<f64>) {
    let changed = stored != Some((lat, lng));
    match (lat, lng) {
        (Some(_), None) if changed => errs.add("longitude", "required", "a latitude needs a longitude"),
        (None, Some(_)) if changed => errs.add("latitude", "required", "a longitude needs a latitude"),
        _ => {}
    }
    let lat = lat.and_then(|v| errs.take(check_coordinate("latitude", v, 90.0)));
    let lng = lng.and_then(|v| errs.take(check_coordinate("longitude", v, 180.0)));
    (lat, lng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized() {
        assert_eq!(parse_email("email", "  Jane.Doe@Example.COM ").unwrap(), "jane.doe@example.com");
        assert_eq!(parse_email("email", "not-an-email").unwrap_err().code, "invalid_email");
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(parse_phone("phone", "+82 10-1234-5678", None).unwrap(), "+821012345678");
        assert_eq!(parse_phone("phone", "010-1234-5678", Some("KR")).unwrap(), "+821012345678");
        assert_eq!(parse_phone("phone", "(415) 555-2671", Some("US")).unwrap(), "+14155552671");
        assert!(parse_phone("phone", "010-1234-5678", None).is_err());
        assert!(parse_phone("phone", "12", Some("US")).is_err());
    }

    #[test]
    fn countries_domains_urls_tags() {
        assert_eq!(parse_country("country", "kr").unwrap(), "KR");
        assert!(parse_country("country", "XX").is_err());
        assert!(parse_country("country", "Korea").is_err());
        assert_eq!(parse_domain("domain", "https://www.Acme.com/about").unwrap(), "acme.com");
        assert!(parse_domain("domain", "localhost").is_err());
        assert_eq!(parse_url("website", "acme.com").unwrap(), "https://acme.com");
        assert!(parse_url("website", "ftp://acme.com").is_err());
        assert_eq!(parse_tags("tags", &["VIP ".into(), "vip".into(), "b2b".into()]).unwrap(), vec!["vip", "b2b"]);
        assert!(check_coordinate("latitude", 91.0, 90.0).is_err());
    }
}
