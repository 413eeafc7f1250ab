//! Reporting periods and the weighted amounts of the forecast, shared by reports and targets.

use chrono::{Datelike, NaiveDate, NaiveDateTime};

/// A reporting period: a quarter (`2026-Q4`), a month (`2026-11`) or a year (`2026`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    pub end_exclusive: NaiveDate,
}

impl Period {
    pub fn parse(s: &str) -> Option<Period> {
        let s = s.trim();
        let ymd = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1);
        let (start, months) = if let Some((y, q)) = s.split_once("-Q") {
            let q: u32 = q.parse().ok().filter(|q| (1..=4).contains(q))?;
            (ymd(y.parse().ok()?, (q - 1) * 3 + 1)?, 3)
        } else if let Some((y, m)) = s.split_once('-') {
            let m: u32 = m.parse().ok().filter(|m| (1..=12).contains(m))?;
            (ymd(y.parse().ok()?, m)?, 1)
        } else {
            (ymd(s.parse().ok()?, 1)?, 12)
        };
        if !(1970..=9998).contains(&start.year()) {
            return None;
        }
        let end_exclusive = start.checked_add_months(chrono::Months::new(months))?;
        Some(Period { start, end_exclusive })
    }

    /// A period written exactly in its canonical spelling (what report parameters take).
    pub fn parse_exact(s: &str) -> Option<Period> {
        Period::canonical(s).filter(|c| c == s).and_then(|_| Period::parse(s))
    }

    /// The canonical spelling (`2026-Q4`, `2026-01`, `2026`) of a period, if it is one.
    pub fn canonical(s: &str) -> Option<String> {
        let p = Period::parse(s)?;
        let months =
            (p.end_exclusive.year() - p.start.year()) * 12 + p.end_exclusive.month() as i32 - p.start.month() as i32;
        Some(match months {
            3 => format!("{}-Q{}", p.start.year(), p.start.month0() / 3 + 1),
            1 => format!("{}-{:02}", p.start.year(), p.start.month()),
            _ => format!("{}", p.start.year()),
        })
    }

    pub fn contains_date(&self, d: NaiveDate) -> bool {
        d >= self.start && d < self.end_exclusive
    }

    pub(crate) fn contains(&self, t: NaiveDateTime) -> bool {
        self.contains_date(t.date())
    }

    /// The last day of the period.
    pub fn end(&self) -> NaiveDate {
        self.end_exclusive.pred_opt().unwrap_or(self.end_exclusive)
    }
}

/// Σ(amount × probability%) → minor units, rounded half up.
pub fn weighted(sum_amount_times_percent: i128) -> i64 {
    let v = if sum_amount_times_percent >= 0 {
        (sum_amount_times_percent + 50) / 100
    } else {
        (sum_amount_times_percent - 50) / 100
    };
    i64::try_from(v).unwrap_or(i64::MAX)
}
