//! Why a configuration is refused ([`ConfigError`]), and the small checks
//! of single values that say so, each naming the key it is about.

/// Why the configuration was refused. Each message carries its cause (no
/// `#[source]`: printed as a chain, the cause would show twice) and what to check.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {what} {path}: {error}: check {check}")]
    Io {
        /// What the file is, e.g. "config file".
        what: &'static str,
        path: String,
        error: std::io::Error,
        /// The setting or variable that names the file.
        check: &'static str,
    },
    #[error("config is not valid: {0}")]
    Parse(toml::de::Error),
    #[error("unknown config key {key}: {}", nearest.as_ref().map_or_else(|| "see config/default.toml for every key".to_owned(), |n| format!("did you mean {n}?")))]
    UnknownKey { key: String, nearest: Option<String> },
    #[error("config key {key} is invalid: {reason}")]
    Invalid { key: &'static str, reason: String },
}

pub(super) fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

pub(super) fn non_empty(key: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        return Err(invalid(key, "must not be empty"));
    }
    Ok(())
}

pub(super) fn topic_name(name: &str) -> Result<(), ConfigError> {
    let legal = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    if name.is_empty() || name.len() > 249 || !name.bytes().all(legal) || name == "." || name == ".." {
        return Err(invalid("topics", format!("{name:?} is not a legal Kafka topic name")));
    }
    Ok(())
}

pub(super) fn in_range(key: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(invalid(key, format!("must be from {min} to {max}, not {value}")));
    }
    Ok(())
}
