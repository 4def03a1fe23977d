//! Progress of long work: uploads, the start-up read of the hotlist topic,
//! benchmarks, historical replays and `retention verify`.
//!
//! A million-entry upload takes tens of seconds; silence that long looks
//! like a hang. On a terminal (standard error is one) a [`Progress`] draws
//! an indicatif bar with the count, the rate and the time left; otherwise
//! (a service under systemd or Kubernetes) it logs a `progress` line every
//! [`LOG_EVERY`] with the same figures. It counts units of work only, never
//! says what they are: no plate, entry or record content ever reaches it.
//! The figures are computed by the pure [`Figures::at`], tested here
//! without a clock.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a progress line is logged when standard error is not a terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(5);

/// Work smaller than this shows no progress (it is over before anyone looks).
pub const MIN_TOTAL: u64 = 50_000;

/// The bar or the log is looked at once per this many units at most, so a
/// count per record costs an atomic add and nothing more.
const STRIDE: u64 = 4096;

/// Counts done so far, their rate and the time left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub done: u64,
    pub total: Option<u64>,
    /// Units a second since the start.
    pub rate: f64,
    /// At the rate so far; `None` without a total or a rate.
    pub left: Option<Duration>,
}

impl Figures {
    /// The figures of `done` of `total` after `elapsed`.
    pub fn at(done: u64, total: Option<u64>, elapsed: Duration) -> Figures {
        let seconds = elapsed.as_secs_f64();
        let rate = if seconds > 0.0 { done as f64 / seconds } else { 0.0 };
        let left = total
            .filter(|_| rate > 0.0)
            .map(|total| Duration::from_secs_f64(total.saturating_sub(done) as f64 / rate));
        Figures {
            done,
            total,
            rate,
            left,
        }
    }
}

/// Progress of one piece of work, shown on a terminal or logged.
pub struct Progress {
    what: &'static str,
    total: Option<u64>,
    done: AtomicU64,
    started: Instant,
    shown: Shown,
}

enum Shown {
    Hidden,
    Bar(indicatif::ProgressBar),
    Logged { last: Mutex<Instant> },
}

impl Progress {
    /// Progress of `what` (e.g. "reading the hotlist topic"), `total` units
    /// if known; hidden when the total is known and small.
    pub fn new(what: &'static str, total: Option<u64>) -> Progress {
        let shown = if total.is_some_and(|t| t < MIN_TOTAL) {
            Shown::Hidden
        } else if std::io::stderr().is_terminal() {
            Shown::Bar(bar(what, total))
        } else {
            Shown::Logged {
                last: Mutex::new(Instant::now()),
            }
        };
        Progress {
            what,
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
            shown,
        }
    }

    /// Progress of a few slow steps (e.g. partitions to check): shown
    /// whatever the total.
    pub fn steps(what: &'static str, total: u64) -> Progress {
        let shown = if std::io::stderr().is_terminal() {
            Shown::Bar(bar(what, Some(total)))
        } else {
            Shown::Logged {
                last: Mutex::new(Instant::now()),
            }
        };
        Progress {
            what,
            total: Some(total),
            done: AtomicU64::new(0),
            started: Instant::now(),
            shown,
        }
    }

    /// `n` more units done.
    pub fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if n < STRIDE && (done - n) / STRIDE == done / STRIDE {
            return;
        }
        match &self.shown {
            Shown::Hidden => {}
            Shown::Bar(bar) => bar.set_position(done),
            Shown::Logged { last } => {
                let mut last = last.lock().expect("progress lock");
                if last.elapsed() >= LOG_EVERY {
                    *last = Instant::now();
                    self.log(done, "progress");
                }
            }
        }
    }

    /// The work is over: the bar is cleared, or a last line logged.
    pub fn finish(&self) {
        let done = self.done.load(Ordering::Relaxed);
        match &self.shown {
            Shown::Hidden => {}
            Shown::Bar(bar) => bar.finish_and_clear(),
            Shown::Logged { .. } => self.log(done, "done"),
        }
    }

    fn log(&self, done: u64, message: &'static str) {
        let f = Figures::at(done, self.total, self.started.elapsed());
        tracing::info!(
            what = self.what,
            done = f.done,
            total = f.total,
            per_second = f.rate.round() as u64,
            seconds_left = f.left.map(|d| d.as_secs()),
            "{message}"
        );
    }
}

fn bar(what: &'static str, total: Option<u64>) -> indicatif::ProgressBar {
    let (bar, template) = match total {
        Some(total) => (
            indicatif::ProgressBar::new(total),
            "{msg}: {bar:30} {human_pos}/{human_len} ({rate}, {eta} left)",
        ),
        None => (indicatif::ProgressBar::no_length(), "{msg}: {human_pos} ({rate})"),
    };
    let style = indicatif::ProgressStyle::with_template(template)
        .expect("a valid template")
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        );
    bar.set_style(style);
    bar.set_message(what);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_give_the_rate_and_the_time_left() {
        let f = Figures::at(250_000, Some(1_000_000), Duration::from_secs(5));
        assert_eq!(f.rate, 50_000.0);
        assert_eq!(f.left, Some(Duration::from_secs(15)));
        assert_eq!(Figures::at(10, None, Duration::from_secs(2)).left, None, "no total");
        let start = Figures::at(0, Some(10), Duration::ZERO);
        assert_eq!((start.rate, start.left), (0.0, None), "nothing to go on yet");
        let over = Figures::at(12, Some(10), Duration::from_secs(1));
        assert_eq!(over.left, Some(Duration::ZERO), "more than the total: none left");
    }

    #[test]
    fn small_work_shows_nothing() {
        let p = Progress::new("small", Some(MIN_TOTAL - 1));
        assert!(matches!(p.shown, Shown::Hidden));
        p.inc(5);
        p.finish();
        assert_eq!(p.done.load(Ordering::Relaxed), 5);
    }
}
