//! The `[dispatch]` section: suppression, the board's time zone, and the
//! webhook endpoints with their secrets, validated into ready settings.
//!
//! A webhook secret never sits in the config file: each endpoint names an
//! environment variable or a mounted file, read once here. [`Secret`]'s
//! `Debug` shows only its length.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{in_range, invalid, ConfigError};
use crate::hotlist::Category;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDispatch {
    suppression_window_secs: u64,
    time_zone: String,
    webhook_max_attempts: u32,
    webhook_backoff_ms: u64,
    webhook_backoff_max_ms: u64,
    webhook_timeout_ms: u64,
    #[serde(default)]
    webhooks: Vec<RawWebhook>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    name: String,
    url: String,
    #[serde(default)]
    secret_env: String,
    #[serde(default)]
    secret_file: String,
    #[serde(default)]
    ca_file: String,
    #[serde(default)]
    lists: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default = "lowest_priority")]
    max_priority: u8,
}

fn lowest_priority() -> u8 {
    u8::MAX
}

/// A webhook signing secret. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// The dispatch board, suppression and webhooks.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// Alerts on one entry within this long of its last sighting are one incident.
    pub suppression_window: Duration,
    /// IANA name of the City's time zone, for the board.
    pub time_zone: String,
    pub webhooks: Vec<WebhookEndpoint>,
    pub retry: RetryPolicy,
}

/// How a webhook delivery is retried before it goes to the dead-letter topic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// How long one request may take.
    pub timeout: Duration,
}

/// One receiver of webhooks, with what it wants.
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    pub name: String,
    pub url: String,
    pub secret: Secret,
    /// An extra trusted CA (PEM) for a receiver on a private CA.
    pub ca_pem: Option<Vec<u8>>,
    /// Only these lists (empty: every list).
    pub lists: Vec<String>,
    /// Only these categories (empty: every category).
    pub categories: Vec<Category>,
    /// Only entries of priority 0 (most urgent) to this.
    pub max_priority: u8,
}

impl WebhookEndpoint {
    /// Whether the endpoint wants alerts on an entry of this list, category and priority.
    pub fn wants(&self, list_id: &str, category: Category, priority: u8) -> bool {
        (self.lists.is_empty() || self.lists.iter().any(|l| l == list_id))
            && (self.categories.is_empty() || self.categories.contains(&category))
            && priority <= self.max_priority
    }
}

impl RawDispatch {
    pub(super) fn validate(self, env: &BTreeMap<String, String>) -> Result<DispatchSettings, ConfigError> {
        in_range(
            "dispatch.suppression_window_secs",
            self.suppression_window_secs,
            0,
            86_400,
        )?;
        if self.time_zone.is_empty() || self.time_zone.len() > 64 || self.time_zone.contains(char::is_whitespace) {
            return Err(invalid(
                "dispatch.time_zone",
                "must be an IANA zone name such as America/Los_Angeles",
            ));
        }
        in_range(
            "dispatch.webhook_max_attempts",
            u64::from(self.webhook_max_attempts),
            1,
            100,
        )?;
        in_range("dispatch.webhook_backoff_ms", self.webhook_backoff_ms, 1, 3_600_000)?;
        in_range(
            "dispatch.webhook_backoff_max_ms",
            self.webhook_backoff_max_ms,
            self.webhook_backoff_ms,
            3_600_000,
        )?;
        in_range("dispatch.webhook_timeout_ms", self.webhook_timeout_ms, 100, 600_000)?;
        let mut webhooks = Vec::new();
        for raw in self.webhooks {
            if webhooks.iter().any(|w: &WebhookEndpoint| w.name == raw.name) {
                return Err(invalid(
                    "dispatch.webhooks",
                    format!("two endpoints are named {:?}", raw.name),
                ));
            }
            webhooks.push(raw.validate(env)?);
        }
        Ok(DispatchSettings {
            suppression_window: Duration::from_secs(self.suppression_window_secs),
            time_zone: self.time_zone,
            webhooks,
            retry: RetryPolicy {
                max_attempts: self.webhook_max_attempts,
                first_backoff: Duration::from_millis(self.webhook_backoff_ms),
                max_backoff: Duration::from_millis(self.webhook_backoff_max_ms),
                timeout: Duration::from_millis(self.webhook_timeout_ms),
            },
        })
    }
}

impl RawWebhook {
    fn validate(self, env: &BTreeMap<String, String>) -> Result<WebhookEndpoint, ConfigError> {
        const KEY: &str = "dispatch.webhooks";
        let name_ok = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
        if self.name.is_empty() || self.name.len() > 64 || !self.name.chars().all(name_ok) {
            return Err(invalid(
                KEY,
                format!("name {:?}: letters, digits, '.', '_', '-' only", self.name),
            ));
        }
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| invalid(KEY, format!("{}: url is not valid: {e}", self.name)))?;
        if url.scheme() != "https" || url.host_str().is_none() {
            return Err(invalid(
                KEY,
                format!("{}: the url must be https:// with a host", self.name),
            ));
        }
        let secret = match (self.secret_env.trim(), self.secret_file.trim()) {
            (var, "") if !var.is_empty() => env
                .get(var)
                .map(|v| v.as_bytes().to_vec())
                .ok_or_else(|| invalid(KEY, format!("{}: environment variable {var} is not set", self.name)))?,
            ("", file) if !file.is_empty() => std::fs::read(file)
                .map(|mut bytes| {
                    bytes.truncate(bytes.trim_ascii_end().len());
                    bytes
                })
                .map_err(|e| invalid(KEY, format!("{}: cannot read secret_file: {e}", self.name)))?,
            _ => {
                return Err(invalid(
                    KEY,
                    format!("{}: set exactly one of secret_env and secret_file", self.name),
                ))
            }
        };
        if secret.len() < 16 {
            return Err(invalid(
                KEY,
                format!("{}: the secret must be at least 16 bytes", self.name),
            ));
        }
        let ca_pem = match self.ca_file.trim() {
            "" => None,
            path => Some(
                std::fs::read(PathBuf::from(path))
                    .map_err(|e| invalid(KEY, format!("{}: cannot read ca_file: {e}", self.name)))?,
            ),
        };
        let mut categories = Vec::new();
        for name in &self.categories {
            categories.push(
                Category::parse(name)
                    .ok_or_else(|| invalid(KEY, format!("{}: {name:?} is not a category", self.name)))?,
            );
        }
        Ok(WebhookEndpoint {
            name: self.name,
            url: url.to_string(),
            secret: Secret(secret),
            ca_pem,
            lists: self.lists,
            categories,
            max_priority: self.max_priority,
        })
    }
}
