//! The times of schedule and relative rules: cron expressions in a time zone, offsets from a
//! record's date field. The engine is handed "now" (`engine::fire_due`), so the tests drive the
//! clock.

use chrono::{Duration, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use crm_core::filter::FieldKind;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::target::Target;

/// A cron expression of five fields (or a nickname such as `@daily`): seconds and years are not
/// taken, so a rule fires at most once a minute.
pub fn parse_cron(text: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(text)
        .map_err(|e| format!("`{text}` is not a cron expression of five fields (minute hour day month weekday): {e}"))
}

/// An IANA time zone (`Europe/Berlin`).
pub fn parse_zone(text: &str) -> Result<Tz, String> {
    text.parse::<Tz>().map_err(|_| format!("`{text}` is not an IANA time zone such as `Asia/Seoul`"))
}

/// A signed offset: `-3d` (before), `1h` or `+1h` (after).
pub fn parse_offset(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    Ok(crate::actions::parse_duration(rest)? * sign)
}

/// The kind of `field` on `target` when it is a timestamp or a date.
pub fn date_column(target: &Target, field: &str) -> Result<(&'static str, FieldKind), String> {
    match (target.catalog)().field(field) {
        Some(f) if matches!(f.kind, FieldKind::Timestamp | FieldKind::Date) => Ok((f.column, f.kind)),
        Some(_) => Err(format!("`{field}` is not a timestamp or a date")),
        None => Err(format!("`{field}` is not a field of {}", (target.catalog)().resource)),
    }
}

/// The first time of `schedule` in `zone` strictly after `after` (UTC), in UTC.
pub fn next_after(schedule: &str, zone: Option<&str>, after: NaiveDateTime) -> Option<NaiveDateTime> {
    let cron = parse_cron(schedule).ok()?;
    let tz = zone.map(parse_zone).transpose().ok()?.unwrap_or(Tz::UTC);
    let local = tz.from_utc_datetime(&after);
    cron.find_next_occurrence(&local, false).ok().map(|t| t.naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn schedules_fire_at_local_times() {
        // 09:00 in Seoul (UTC+9, no daylight saving) is midnight UTC.
        assert_eq!(next_after("0 9 * * *", Some("Asia/Seoul"), at("2026-12-07 18:00")), Some(at("2026-12-08 00:00")));
        // Weekdays only: Friday 2026-12-11 → Monday 2026-12-14.
        assert_eq!(next_after("30 8 * * MON-FRI", None, at("2026-12-11 09:00")), Some(at("2026-12-14 08:30")));
        // Berlin in summer (UTC+2) and in winter (UTC+1).
        assert_eq!(
            next_after("0 7 * * *", Some("Europe/Berlin"), at("2026-07-01 12:00")),
            Some(at("2026-07-02 05:00"))
        );
        assert_eq!(
            next_after("0 7 * * *", Some("Europe/Berlin"), at("2026-12-01 12:00")),
            Some(at("2026-12-02 06:00"))
        );
        assert!(parse_cron("* * * * * *").is_err(), "no seconds");
        assert!(parse_cron("@daily").is_ok());
        assert!(parse_zone("Mars/Olympus").is_err());
        assert_eq!(parse_offset("-3d"), Ok(Duration::days(-3)));
        assert_eq!(parse_offset("+1h"), Ok(Duration::hours(1)));
    }
}
