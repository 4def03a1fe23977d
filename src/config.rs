//! Configuration: one TOML tree, environment overrides, validated once.
//!
//! A config file is an overlay: it names only the keys it changes, merged
//! onto the built-in `config/default.toml` (every key commented there). Raw
//! values and the environment are checked here and turned into ready objects, so the rest of
//! the program never re-validates a setting and never starts with a bad one.
//! Secrets (broker credentials) come from the environment, never the file.
//!
//! Environment overrides:
//! - `HOTLIST_BOOTSTRAP_SERVERS`: `kafka.bootstrap_servers`
//! - `HOTLIST_GROUP_ID`: `kafka.group_id`
//! - `HOTLIST_HOTLIST_PATH`: `hotlist.path`
//! - `HOTLIST_KAFKA_PROPERTY_<NAME>`: the librdkafka property `<name>` with
//!   `_` read as `.`, e.g. `HOTLIST_KAFKA_PROPERTY_SASL_PASSWORD`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::alert::pass::PassSettings;
use crate::hotlist::{CsvLimits, TolerancePolicy};

#[path = "config_dispatch.rs"]
mod dispatch;
use dispatch::RawDispatch;
pub use dispatch::{DispatchSettings, RetryPolicy, Secret, WebhookEndpoint};
#[path = "config_errors.rs"]
mod errors;
pub use errors::ConfigError;
use errors::{in_range, invalid, non_empty, topic_name};
#[path = "config_overlay.rs"]
mod overlay;
#[path = "config_security.rs"]
mod security;
use security::{default_admin_listen, default_day_keys_topic, RawAccess, RawSecurity};

/// The policy's retention: ALPR data is deleted after 30 days.
pub const RETENTION_DAYS_MAX: u32 = 30;
/// The defaults, shipped inside the binary so it runs without any file.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// The defaults with the well-known development key allowed: for the
/// demo and the tests only.
pub fn development_toml() -> String {
    DEFAULT_TOML.replace("development_key = false", "development_key = true")
}

const ENV_PROPERTY_PREFIX: &str = "HOTLIST_KAFKA_PROPERTY_";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    kafka: RawKafka,
    topics: RawTopics,
    pipeline: RawPipeline,
    hotlist: RawHotlist,
    matching: RawMatching,
    api: RawApi,
    dispatch: RawDispatch,
    #[serde(default)]
    security: RawSecurity,
    #[serde(default)]
    access: RawAccess,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    listen: String,
    tls_cert_path: String,
    tls_key_path: String,
    plain_http_for_development: bool,
    #[serde(default)]
    self_signed_for_development: bool,
    #[serde(default = "default_admin_listen")]
    admin_listen: String,
    session_minutes: u64,
    lockout_failures: usize,
    lockout_minutes: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKafka {
    bootstrap_servers: String,
    group_id: String,
    client_id: String,
    session_timeout_ms: u64,
    instance_id: String,
    unassigned_grace_secs: u64,
    #[serde(default = "default_consumer_queue_kib")]
    consumer_queue_kib: u32,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopics {
    reads: String,
    alerts: String,
    dlq: String,
    hotlist: String,
    principals: String,
    audit: String,
    audit_events: String,
    alert_state: String,
    webhook_dlq: String,
    #[serde(default = "default_day_keys_topic")]
    day_keys: String,
    partitions: i32,
    replication_factor: i32,
    min_insync_replicas: i32,
    retention_days: u32,
    audit_retention_days: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    max_record_bytes: usize,
    batch_size: usize,
    batch_linger_ms: u64,
    delivery_timeout_ms: u64,
    pass_window_ms: u64,
    pass_max_reads_per_camera: usize,
    pass_max_cameras: usize,
    pass_hit_probability: f32,
}

impl RawPipeline {
    /// How reads are grouped into passes ([`crate::alert::pass`]).
    fn passes(&self) -> Result<PassSettings, ConfigError> {
        in_range("pipeline.pass_window_ms", self.pass_window_ms, 0, 60_000)?;
        let per_camera = self.pass_max_reads_per_camera as u64;
        in_range("pipeline.pass_max_reads_per_camera", per_camera, 1, 1_024)?;
        in_range("pipeline.pass_max_cameras", self.pass_max_cameras as u64, 1, 1_000_000)?;
        if !(0.5..1.0).contains(&self.pass_hit_probability) {
            let reason = format!("must be at least 0.5 and below 1, not {}", self.pass_hit_probability);
            return Err(invalid("pipeline.pass_hit_probability", reason));
        }
        Ok(PassSettings {
            window: Duration::from_millis(self.pass_window_ms),
            max_reads_per_camera: self.pass_max_reads_per_camera,
            max_cameras: self.pass_max_cameras,
            hit_probability: self.pass_hit_probability,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHotlist {
    path: PathBuf,
    file_organisation: String,
    max_invalid_percent: f64,
    max_file_bytes: u64,
    max_rows: usize,
    max_age_hours: u64,
    fold_fraction: f64,
}

#[path = "config_matching.rs"]
mod matching;
use matching::RawMatching;

/// Ready-to-use settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub kafka: KafkaSettings,
    pub topics: Topics,
    pub pipeline: PipelineSettings,
    pub hotlist: HotlistSettings,
    /// Each list's tolerance to OCR errors.
    pub matching: TolerancePolicy,
    pub api: ApiSettings,
    pub dispatch: DispatchSettings,
    /// Keys the audit chain and signs principals ([`crate::access::keys`]).
    pub key: crate::access::keys::ServiceKey,
    /// Wraps the day keys of encryption at rest ([`crate::retention::seal`]).
    pub master_key: crate::retention::seal::MasterKey,
    pub access: AccessSettings,
}

/// The policy's prerequisites of users ([`crate::access::prerequisites`]).
#[derive(Debug, Clone, Copy)]
pub struct AccessSettings {
    /// Days an officer's ALPR training stays current.
    pub training_valid_days: u32,
}

/// The HTTPS API.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub listen: std::net::SocketAddr,
    /// The admin port: `/metrics`, `/healthz`, `/readyz`, plain HTTP, no
    /// ALPR or user data ([`crate::admin`]).
    pub admin_listen: std::net::SocketAddr,
    /// PEM certificate chain and key; `None` makes a self-signed pair at
    /// start if `self_signed` allows it, and refuses to start otherwise.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Without a certificate, make a self-signed one (development, demo
    /// and tests only; logged as a warning).
    pub self_signed: bool,
    /// Serve plain HTTP (development only; logged loudly).
    pub plain_http: bool,
    pub session_ttl: Duration,
    pub lockout: crate::access::lockout::LockoutPolicy,
}

/// How to reach the brokers.
#[derive(Clone)]
pub struct KafkaSettings {
    pub bootstrap_servers: String,
    pub group_id: String,
    pub client_id: String,
    /// How long the group waits for a silent instance before giving its
    /// partitions to the others (the failover time after a crash).
    pub session_timeout: Duration,
    /// Static group membership: a stable name of this instance (the pod
    /// name), so a restarted instance takes its partitions straight back.
    /// `None`: dynamic membership.
    pub instance_id: Option<String>,
    /// An instance without partitions for longer than this is not ready.
    pub unassigned_grace: Duration,
    /// The most each consumer prefetches into its local queue, in KiB
    /// (librdkafka's `queued.max.messages.kbytes`).
    pub consumer_queue_kib: u32,
    /// Extra librdkafka properties, possibly secret.
    pub properties: BTreeMap<String, String>,
}

fn default_consumer_queue_kib() -> u32 {
    16_384
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Property values may be passwords: show only their names.
        f.debug_struct("KafkaSettings")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("group_id", &self.group_id)
            .field("client_id", &self.client_id)
            .field("session_timeout", &self.session_timeout)
            .field("instance_id", &self.instance_id)
            .field("unassigned_grace", &self.unassigned_grace)
            .field("consumer_queue_kib", &self.consumer_queue_kib)
            .field("properties", &self.properties.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Topic names and the settings `topics` creates them with.
#[derive(Debug, Clone)]
pub struct Topics {
    pub reads: String,
    pub alerts: String,
    pub dlq: String,
    pub hotlist: String,
    /// Users and grants (compacted).
    pub principals: String,
    /// The SB 34 access log (one partition: one chain).
    pub audit: String,
    /// Audit events on their way to the sealer (one partition).
    pub audit_events: String,
    /// Dispatchers' decisions on alerts, keyed by alert id.
    pub alert_state: String,
    /// Webhook deliveries that failed past their last retry.
    pub webhook_dlq: String,
    /// Day keys of encryption at rest, wrapped (compacted, one partition).
    pub day_keys: String,
    pub partitions: i32,
    /// -1 leaves it to the broker's default.
    pub replication_factor: i32,
    /// `min.insync.replicas` set on created topics; 0 takes the broker's.
    pub min_insync_replicas: i32,
    pub retention: Duration,
    /// How long audit records are kept (they are not ALPR data).
    pub audit_retention: Duration,
}

/// How the pipeline batches and bounds its work.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub max_record_bytes: usize,
    pub batch_size: usize,
    pub batch_linger: Duration,
    pub delivery_timeout: Duration,
    /// Reads of one vehicle's pass decided together.
    pub passes: PassSettings,
}

/// Where the hotlist comes from, and its limits.
#[derive(Debug, Clone)]
pub struct HotlistSettings {
    /// The static hotlist file, if any (lists arrive through the topic).
    pub path: Option<PathBuf>,
    /// The organisation that owns the file's lists: only it (and the
    /// custodian) replaces them through the topic.
    pub file_organisation: String,
    /// How much of a file `--skip-invalid` may skip.
    pub skip_invalid: crate::hotlist::feed::SkipInvalid,
    pub limits: CsvLimits,
    /// A list not refreshed for this long is reported stale.
    pub max_age: Duration,
    /// Share of the base index the live changes may reach before the base
    /// is rebuilt in the background.
    pub fold_fraction: f64,
}

impl Config {
    /// Loads `path` (or the built-in defaults) and applies the process environment.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let text = match path {
            Some(path) => std::fs::read_to_string(path).map_err(|error| ConfigError::Io {
                what: "config file",
                path: path.display().to_string(),
                error,
                check: "--config / HOTLIST_CONFIG",
            })?,
            None => DEFAULT_TOML.to_owned(),
        };
        Config::from_toml(&text, std::env::vars())
    }

    /// Parses `text` as an overlay on the built-in defaults
    /// ([`overlay`]), applies overrides from `env`, and validates.
    pub fn from_toml(text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let user: toml::Table = toml::from_str(text).map_err(ConfigError::Parse)?;
        // Deserialized from text, so an error shows the line it is about.
        let merged = toml::to_string(&overlay::merged_with_defaults(user.clone())).expect("a table serializes");
        let mut raw: Raw = toml::from_str(&merged).map_err(|e| overlay::explain(e, &user))?;
        let env: BTreeMap<String, String> = env.into_iter().collect();
        for (name, value) in &env {
            apply_env(&mut raw, name, value.clone());
        }
        raw.validate(&env)
    }
}

fn apply_env(raw: &mut Raw, name: &str, value: String) {
    match name {
        "HOTLIST_BOOTSTRAP_SERVERS" => raw.kafka.bootstrap_servers = value,
        "HOTLIST_GROUP_ID" => raw.kafka.group_id = value,
        "HOTLIST_INSTANCE_ID" => raw.kafka.instance_id = value,
        "HOTLIST_HOTLIST_PATH" => raw.hotlist.path = value.into(),
        _ => {
            if let Some(property) = name.strip_prefix(ENV_PROPERTY_PREFIX) {
                let property = property.to_ascii_lowercase().replace('_', ".");
                raw.kafka.properties.insert(property, value);
            }
        }
    }
}

impl Raw {
    fn validate(self, env: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
        let Raw {
            kafka,
            topics,
            pipeline,
            hotlist,
            matching,
            api,
            dispatch,
            security,
            access,
        } = self;
        let (key, master_key) = security.validate(env)?;
        in_range("access.training_valid_days", access.training_valid_days, 1, 3650)?;
        let dispatch = dispatch.validate(env)?;
        let matching = matching.validate()?;
        let api = api.validate()?;
        non_empty("kafka.bootstrap_servers", &kafka.bootstrap_servers)?;
        non_empty("kafka.group_id", &kafka.group_id)?;
        non_empty("kafka.client_id", &kafka.client_id)?;
        in_range("kafka.session_timeout_ms", kafka.session_timeout_ms, 6_000, 300_000)?;
        let names = [
            &topics.reads,
            &topics.alerts,
            &topics.dlq,
            &topics.hotlist,
            &topics.principals,
            &topics.audit,
            &topics.audit_events,
            &topics.alert_state,
            &topics.webhook_dlq,
            &topics.day_keys,
        ];
        for name in names {
            topic_name(name)?;
        }
        if std::collections::BTreeSet::from(names).len() != names.len() {
            return Err(invalid("topics", "every topic must have a name of its own"));
        }
        in_range(
            "topics.audit_retention_days",
            u64::from(topics.audit_retention_days),
            365,
            3650,
        )?;
        if topics.partitions < 1 {
            return Err(invalid("topics.partitions", "must be at least 1"));
        }
        if topics.replication_factor == 0 || topics.replication_factor < -1 {
            return Err(invalid(
                "topics.replication_factor",
                "must be -1 (broker default) or at least 1",
            ));
        }
        if topics.min_insync_replicas < 0 {
            return Err(invalid(
                "topics.min_insync_replicas",
                "must be 0 (broker default) or at least 1",
            ));
        }
        in_range("kafka.unassigned_grace_secs", kafka.unassigned_grace_secs, 1, 3600)?;
        in_range(
            "kafka.consumer_queue_kib",
            u64::from(kafka.consumer_queue_kib),
            1024,
            2_097_151,
        )?;
        if !kafka
            .instance_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            || kafka.instance_id.len() > 200
        {
            return Err(invalid(
                "kafka.instance_id",
                "may hold only letters, digits, '.', '_' and '-' (at most 200)",
            ));
        }
        if !(1..=RETENTION_DAYS_MAX).contains(&topics.retention_days) {
            return Err(invalid(
                "topics.retention_days",
                format!("must be 1 to {RETENTION_DAYS_MAX}: the policy deletes ALPR data after 30 days"),
            ));
        }
        in_range(
            "pipeline.max_record_bytes",
            pipeline.max_record_bytes as u64,
            256,
            1 << 20,
        )?;
        in_range("pipeline.batch_size", pipeline.batch_size as u64, 1, 100_000)?;
        in_range("pipeline.batch_linger_ms", pipeline.batch_linger_ms, 0, 10_000)?;
        in_range(
            "pipeline.delivery_timeout_ms",
            pipeline.delivery_timeout_ms,
            1_000,
            600_000,
        )?;
        in_range("hotlist.max_file_bytes", hotlist.max_file_bytes, 1, u64::MAX)?;
        in_range("hotlist.max_rows", hotlist.max_rows as u64, 1, u64::MAX)?;
        in_range("hotlist.max_age_hours", hotlist.max_age_hours, 1, 720)?;
        if !(0.0..=100.0).contains(&hotlist.max_invalid_percent) {
            return Err(ConfigError::Invalid {
                key: "hotlist.max_invalid_percent",
                reason: format!("must be from 0 to 100, got {}", hotlist.max_invalid_percent),
            });
        }
        let file_organisation = hotlist.file_organisation.trim().to_owned();
        if file_organisation.is_empty()
            || file_organisation.len() > 128
            || file_organisation.chars().any(char::is_control)
        {
            return Err(ConfigError::Invalid {
                key: "hotlist.file_organisation",
                reason: "must be 1 to 128 printable characters".into(),
            });
        }
        if !(hotlist.fold_fraction > 0.0 && hotlist.fold_fraction <= 10.0) {
            return Err(ConfigError::Invalid {
                key: "hotlist.fold_fraction",
                reason: format!("must be above 0 and at most 10, got {}", hotlist.fold_fraction),
            });
        }
        Ok(Config {
            kafka: KafkaSettings {
                bootstrap_servers: kafka.bootstrap_servers,
                group_id: kafka.group_id,
                client_id: kafka.client_id,
                session_timeout: Duration::from_millis(kafka.session_timeout_ms),
                instance_id: Some(kafka.instance_id).filter(|id| !id.is_empty()),
                unassigned_grace: Duration::from_secs(kafka.unassigned_grace_secs),
                consumer_queue_kib: kafka.consumer_queue_kib,
                properties: kafka.properties,
            },
            topics: Topics {
                retention: Duration::from_secs(u64::from(topics.retention_days) * 86_400),
                reads: topics.reads,
                alerts: topics.alerts,
                dlq: topics.dlq,
                hotlist: topics.hotlist,
                principals: topics.principals,
                audit: topics.audit,
                audit_events: topics.audit_events,
                alert_state: topics.alert_state,
                webhook_dlq: topics.webhook_dlq,
                day_keys: topics.day_keys,
                audit_retention: Duration::from_secs(u64::from(topics.audit_retention_days) * 86_400),
                partitions: topics.partitions,
                replication_factor: topics.replication_factor,
                min_insync_replicas: topics.min_insync_replicas,
            },
            pipeline: PipelineSettings {
                max_record_bytes: pipeline.max_record_bytes,
                batch_size: pipeline.batch_size,
                batch_linger: Duration::from_millis(pipeline.batch_linger_ms),
                delivery_timeout: Duration::from_millis(pipeline.delivery_timeout_ms),
                passes: pipeline.passes()?,
            },
            hotlist: HotlistSettings {
                path: (!hotlist.path.as_os_str().is_empty()).then_some(hotlist.path),
                file_organisation,
                skip_invalid: crate::hotlist::feed::SkipInvalid {
                    max_percent: hotlist.max_invalid_percent,
                },
                limits: CsvLimits {
                    max_bytes: hotlist.max_file_bytes,
                    max_rows: hotlist.max_rows,
                },
                max_age: Duration::from_secs(hotlist.max_age_hours * 3600),
                fold_fraction: hotlist.fold_fraction,
            },
            matching,
            api,
            dispatch,
            key,
            master_key,
            access: AccessSettings {
                training_valid_days: access.training_valid_days as u32,
            },
        })
    }
}

impl RawApi {
    fn validate(self) -> Result<ApiSettings, ConfigError> {
        let listen = self
            .listen
            .parse()
            .map_err(|_| invalid("api.listen", format!("{:?} is not an address:port", self.listen)))?;
        let admin_listen = self.admin_listen.parse().map_err(|_| {
            invalid(
                "api.admin_listen",
                format!("{:?} is not an address:port", self.admin_listen),
            )
        })?;
        let tls = match (self.tls_cert_path.trim(), self.tls_key_path.trim()) {
            ("", "") => None,
            ("", _) | (_, "") => {
                return Err(invalid(
                    "api.tls_cert_path",
                    "set both the certificate and the key, or neither",
                ))
            }
            (cert, key) => Some((PathBuf::from(cert), PathBuf::from(key))),
        };
        in_range("api.session_minutes", self.session_minutes, 1, 24 * 60)?;
        in_range("api.lockout_failures", self.lockout_failures as u64, 1, 100)?;
        in_range("api.lockout_minutes", self.lockout_minutes, 1, 24 * 60)?;
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Ok(ApiSettings {
            listen,
            admin_listen,
            tls,
            plain_http: self.plain_http_for_development,
            self_signed: self.self_signed_for_development,
            session_ttl: minutes(self.session_minutes),
            lockout: crate::access::lockout::LockoutPolicy {
                free_failures: self.lockout_failures as u32,
                first_delay: std::time::Duration::from_secs(1),
                max_delay: minutes(self.lockout_minutes),
                window: minutes(self.lockout_minutes),
            },
        })
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
