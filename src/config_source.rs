//! The `[source]` section of the config: how the read source's consumer
//! fetches reads and how its producer batches alerts (librdkafka settings
//! chosen by measurement, issue 16), validated once into [`SourceSettings`],
//! which hands each client its properties ready to set. Beside config.rs to
//! keep that file short. It never carries a secret: these are sizes, waits
//! and a codec name.

use serde::Deserialize;

use super::{in_range, invalid, ConfigError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    fetch_min_bytes: u64,
    fetch_wait_max_ms: u64,
    max_partition_fetch_bytes: u64,
    queued_max_messages_kbytes: u64,
    fetch_queue_backoff_ms: u64,
    alert_linger_ms: u64,
    alert_batch_num_messages: u64,
    alert_batch_bytes: u64,
    alert_compression: String,
}

/// How alerts and dead letters are compressed on the wire (the codecs this
/// build of librdkafka has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
}

impl Compression {
    /// The name librdkafka and the config file use.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
        }
    }

    fn parse(text: &str) -> Option<Compression> {
        [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
        ]
        .into_iter()
        .find(|c| c.name() == text)
    }
}

/// How the reads consumer fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerTuning {
    pub fetch_min_bytes: u64,
    pub fetch_wait_max_ms: u64,
    pub max_partition_fetch_bytes: u64,
    pub queued_max_messages_kbytes: u64,
    pub fetch_queue_backoff_ms: u64,
}

/// How the alert producer batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertProducerTuning {
    pub linger_ms: u64,
    pub batch_num_messages: u64,
    pub batch_bytes: u64,
    pub compression: Compression,
}

/// The read source's client settings, ready to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSettings {
    pub consumer: ConsumerTuning,
    pub alerts: AlertProducerTuning,
}

impl SourceSettings {
    /// The librdkafka properties of the reads consumer.
    pub fn consumer_properties(&self) -> Vec<(&'static str, String)> {
        let c = &self.consumer;
        vec![
            ("fetch.min.bytes", c.fetch_min_bytes.to_string()),
            ("fetch.wait.max.ms", c.fetch_wait_max_ms.to_string()),
            ("max.partition.fetch.bytes", c.max_partition_fetch_bytes.to_string()),
            ("queued.max.messages.kbytes", c.queued_max_messages_kbytes.to_string()),
            ("fetch.queue.backoff.ms", c.fetch_queue_backoff_ms.to_string()),
        ]
    }

    /// The librdkafka properties of the alert producer.
    pub fn producer_properties(&self) -> Vec<(&'static str, String)> {
        let a = &self.alerts;
        vec![
            ("linger.ms", a.linger_ms.to_string()),
            ("batch.num.messages", a.batch_num_messages.to_string()),
            ("batch.size", a.batch_bytes.to_string()),
            ("compression.type", a.compression.name().to_owned()),
        ]
    }
}

impl RawSource {
    /// Checks every value against librdkafka's own bounds, so a bad value is
    /// refused at start with the key's name rather than by a client later.
    pub(super) fn validate(self) -> Result<SourceSettings, ConfigError> {
        in_range("source.fetch_min_bytes", self.fetch_min_bytes, 1, 100_000_000)?;
        in_range("source.fetch_wait_max_ms", self.fetch_wait_max_ms, 0, 300_000)?;
        in_range(
            "source.max_partition_fetch_bytes",
            self.max_partition_fetch_bytes,
            1,
            52_428_800,
        )?;
        in_range(
            "source.queued_max_messages_kbytes",
            self.queued_max_messages_kbytes,
            1,
            2_097_151,
        )?;
        in_range("source.fetch_queue_backoff_ms", self.fetch_queue_backoff_ms, 0, 300_000)?;
        in_range("source.alert_linger_ms", self.alert_linger_ms, 0, 900_000)?;
        in_range(
            "source.alert_batch_num_messages",
            self.alert_batch_num_messages,
            1,
            1_000_000,
        )?;
        in_range("source.alert_batch_bytes", self.alert_batch_bytes, 1, 4_194_304)?;
        let compression = Compression::parse(&self.alert_compression).ok_or_else(|| {
            invalid(
                "source.alert_compression",
                format!(
                    "{:?} is not \"none\", \"gzip\", \"snappy\" or \"lz4\"",
                    self.alert_compression
                ),
            )
        })?;
        Ok(SourceSettings {
            consumer: ConsumerTuning {
                fetch_min_bytes: self.fetch_min_bytes,
                fetch_wait_max_ms: self.fetch_wait_max_ms,
                max_partition_fetch_bytes: self.max_partition_fetch_bytes,
                queued_max_messages_kbytes: self.queued_max_messages_kbytes,
                fetch_queue_backoff_ms: self.fetch_queue_backoff_ms,
            },
            alerts: AlertProducerTuning {
                linger_ms: self.alert_linger_ms,
                batch_num_messages: self.alert_batch_num_messages,
                batch_bytes: self.alert_batch_bytes,
                compression,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{development_toml, Config, ConfigError};

    fn with(old: &str, new: &str) -> Result<Config, ConfigError> {
        let text = development_toml();
        assert!(text.contains(old), "{old}");
        Config::from_toml(&text.replace(old, new), Vec::<(String, String)>::new())
    }

    #[test]
    fn the_defaults_become_the_clients_properties() {
        let config = with("", "").unwrap();
        let names = |p: Vec<(&'static str, String)>| p.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(
            names(config.source.consumer_properties()),
            [
                "fetch.min.bytes",
                "fetch.wait.max.ms",
                "max.partition.fetch.bytes",
                "queued.max.messages.kbytes",
                "fetch.queue.backoff.ms"
            ]
        );
        assert_eq!(
            names(config.source.producer_properties()),
            ["linger.ms", "batch.num.messages", "batch.size", "compression.type"]
        );
    }

    #[test]
    fn a_changed_value_reaches_its_property() {
        let config = with("alert_compression = \"none\"", "alert_compression = \"lz4\"").unwrap();
        assert!(config
            .source
            .producer_properties()
            .contains(&("compression.type", "lz4".to_owned())));
        let config = with("fetch_min_bytes = 1\n", "fetch_min_bytes = 65536\n").unwrap();
        assert!(config
            .source
            .consumer_properties()
            .contains(&("fetch.min.bytes", "65536".to_owned())));
    }

    #[test]
    fn bad_values_are_refused_by_key() {
        let cases = [
            (
                "fetch_min_bytes = 1\n",
                "fetch_min_bytes = 0\n",
                "source.fetch_min_bytes",
            ),
            (
                "alert_batch_num_messages = ",
                "alert_batch_num_messages = 0 #",
                "source.alert_batch_num_messages",
            ),
            (
                "alert_compression = \"none\"",
                "alert_compression = \"zip\"",
                "source.alert_compression",
            ),
            (
                "fetch_wait_max_ms = ",
                "fetch_wait_max_ms = 300001 #",
                "source.fetch_wait_max_ms",
            ),
        ];
        for (old, new, key) in cases {
            match with(old, new) {
                Err(ConfigError::Invalid { key: got, .. }) => assert_eq!(got, key),
                other => panic!("{new}: {other:?}"),
            }
        }
    }
}
