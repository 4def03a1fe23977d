//! Everything that talks to Kafka: topic setup, the read source, the sinks.
//!
//! Kafka is the system of record and the way this service scales: reads are
//! consumed in a group (more partitions, more instances), alerts and rejected
//! records are produced back. Nothing here decides what a read means; that
//! is [`crate::pipeline`], which this module feeds and drains.

pub mod audit;
pub mod hotlist;
pub mod principals;
pub mod scan;
pub mod source;
pub mod topics;

use rdkafka::ClientConfig;

use crate::config::KafkaSettings;

/// Why talking to Kafka failed.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("kafka client error: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    #[error("topic {topic}: {reason}")]
    Topic { topic: String, reason: String },
    #[error("stopped before {0} record(s) were acknowledged; their reads will be redelivered")]
    Undelivered(usize),
}

/// The client settings every producer, consumer and admin client shares.
pub fn client_config(settings: &KafkaSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.bootstrap_servers)
        .set("client.id", &settings.client_id);
    for (name, value) in &settings.properties {
        config.set(name, value);
    }
    config
}
