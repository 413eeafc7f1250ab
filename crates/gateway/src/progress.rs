//! Progress of long CLI work (`crm seed`): a bar on a terminal, otherwise a line per phase step
//! at most every two seconds and one when the phase ends (plain text, or JSON lines with
//! `CRM_LOG_FORMAT=json`), all on stderr so stdout keeps the command's result.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How a progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    /// An animated bar (stderr is a terminal).
    Bar,
    /// Periodic text lines.
    Lines,
    /// Periodic JSON lines.
    Json,
    /// Nothing (tests, library use).
    Hidden,
}

/// One unit of long work split in phases, each with a known size.
pub struct Progress {
    display: Display,
    bar: Option<ProgressBar>,
    phase: String,
    total: u64,
    done: u64,
    phase_started: Instant,
    last_line: Instant,
}

const LINE_EVERY: Duration = Duration::from_secs(2);

impl Progress {
    /// A bar when stderr is a terminal, lines otherwise.
    pub fn for_stderr(json: bool) -> Progress {
        let display = match (json, std::io::stderr().is_terminal()) {
            (true, _) => Display::Json,
            (false, true) => Display::Bar,
            (false, false) => Display::Lines,
        };
        Progress::new(display)
    }

    pub fn hidden() -> Progress {
        Progress::new(Display::Hidden)
    }

    pub fn new(display: Display) -> Progress {
        let now = Instant::now();
        Progress { display, bar: None, phase: String::new(), total: 0, done: 0, phase_started: now, last_line: now }
    }

    /// Ends the current phase (if any) and starts one of `total` steps.
    pub fn phase(&mut self, name: &str, total: u64) {
        self.finish();
        self.phase = name.to_string();
        self.total = total;
        self.done = 0;
        self.phase_started = Instant::now();
        self.last_line = self.phase_started;
        if self.display == Display::Bar {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} ({percent}%) eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(name.to_string());
            self.bar = Some(bar);
        }
    }

    /// `n` more steps of the current phase are done.
    pub fn inc(&mut self, n: u64) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        } else if self.last_line.elapsed() >= LINE_EVERY && self.done < self.total {
            self.last_line = Instant::now();
            self.line(false);
        }
    }

    /// Ends the current phase, saying so.
    pub fn finish(&mut self) {
        if self.phase.is_empty() {
            return;
        }
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
        if self.display != Display::Bar {
            self.line(true);
        }
        self.phase.clear();
    }

    /// The ETA from the rate so far, in whole seconds.
    fn eta(&self) -> Option<u64> {
        let secs = self.phase_started.elapsed().as_secs_f64();
        (self.done > 0 && self.done < self.total)
            .then(|| ((self.total - self.done) as f64 * secs / self.done as f64).ceil() as u64)
    }

    fn line(&self, end: bool) {
        let elapsed = self.phase_started.elapsed().as_secs_f64();
        let pct = (self.done * 100).checked_div(self.total).unwrap_or(100);
        let text = match self.display {
            Display::Lines if end => format!("{}: {} done in {elapsed:.1} s", self.phase, self.done),
            Display::Lines => format!(
                "{}: {}/{} ({pct}%), eta {} s",
                self.phase,
                self.done,
                self.total,
                self.eta().map_or_else(|| "?".to_string(), |s| s.to_string())
            ),
            Display::Json => serde_json::json!({
                "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                "level": "INFO",
                "target": "crm::progress",
                "message": if end { "phase done" } else { "progress" },
                "phase": self.phase,
                "done": self.done,
                "total": self.total,
                "percent": pct,
                "elapsed_s": (elapsed * 10.0).round() / 10.0,
                "eta_s": self.eta(),
            })
            .to_string(),
            Display::Bar | Display::Hidden => return,
        };
        let _ = writeln!(std::io::stderr(), "{text}");
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}
