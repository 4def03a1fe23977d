//! Where the service's log lines go and in what shape: one JSON object per
//! line on stderr when stderr is not a terminal (a container, a file, a log
//! shipper), the human format on a terminal; `HOTLIST_LOG_FORMAT=json|text`
//! overrides the guess and `HOTLIST_LOG` sets the filter (`info`).
//!
//! Formatting only: what goes into a log line is decided where it is logged,
//! and no module logs a plate, a password or a token (the integration test
//! `logs::a_full_run_logs_json_without_a_planted_plate` searches for them).

use std::io::IsTerminal;

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// The human format, coloured on a terminal.
    Text,
}

impl LogFormat {
    /// From `HOTLIST_LOG_FORMAT` (`json` or `text`, any case), else JSON
    /// unless stderr is a terminal.
    pub fn choose(setting: Option<&str>, terminal: bool) -> LogFormat {
        match setting.map(str::to_ascii_lowercase).as_deref() {
            Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            _ if terminal => LogFormat::Text,
            _ => LogFormat::Json,
        }
    }
}

/// Installs the global subscriber; call once, first thing in `main`.
pub fn init() {
    let terminal = std::io::stderr().is_terminal();
    let setting = std::env::var("HOTLIST_LOG_FORMAT").ok();
    let filter = tracing_subscriber::EnvFilter::try_from_env("HOTLIST_LOG").unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match LogFormat::choose(setting.as_deref(), terminal) {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
        LogFormat::Text => builder.with_ansi(terminal).init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_off_a_terminal_text_on_one_unless_told() {
        assert_eq!(LogFormat::choose(None, false), LogFormat::Json);
        assert_eq!(LogFormat::choose(None, true), LogFormat::Text);
        assert_eq!(LogFormat::choose(Some("JSON"), true), LogFormat::Json);
        assert_eq!(LogFormat::choose(Some("text"), false), LogFormat::Text);
        assert_eq!(LogFormat::choose(Some("yaml"), false), LogFormat::Json);
    }
}
