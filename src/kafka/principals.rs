//! Keeping every instance's users and grants in step with `alpr.principals`.
//!
//! At start the whole compacted topic is read (not as a group member: every
//! instance needs every record) and folded into [`Principals`]; the API
//! serves only after that. Then a task follows the topic and applies each
//! new record, so a user or grant added on one instance is known on all.
//! [`Writer`] writes the records the API's custodian routes make.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{client_config, follow_topic, read_to_end, KafkaError};
use crate::access::principals::Principals;
use crate::config::Config;

/// How long a principal record may take to be acknowledged.
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);

/// Reads the topic to its end; returns the state and where each partition ended.
pub fn load(config: &Config) -> Result<(Principals, TopicPartitionList), KafkaError> {
    let mut principals = Principals::default();
    let end = read_to_end(config, &config.topics.principals, "principals", |message| {
        apply(&mut principals, message);
        true
    })?;
    Ok((principals, end))
}

fn apply(principals: &mut Principals, message: &impl Message) {
    let Some(key) = message.key().and_then(|k| std::str::from_utf8(k).ok()) else {
        warn!(
            offset = message.offset(),
            "principal record without a usable key skipped"
        );
        return;
    };
    if let Err(e) = principals.apply(key, message.payload()) {
        warn!(offset = message.offset(), error = %e, "principal record skipped");
    }
}

/// Applies every record after `from` to `principals` until `shutdown`.
pub fn follow(
    config: &Config,
    from: TopicPartitionList,
    principals: Arc<RwLock<Principals>>,
    shutdown: CancellationToken,
) -> Result<(), KafkaError> {
    follow_topic(config, "principals", from, shutdown, move |message| {
        apply(&mut principals.write().expect("principals lock"), message)
    })
}

/// Writes principal records (users, grants, agencies) to the topic.
pub struct Writer {
    producer: FutureProducer,
    topic: String,
}

impl Writer {
    /// A writer whose records are acknowledged by all in-sync replicas.
    pub fn new(config: &Config) -> Result<Writer, KafkaError> {
        Ok(Writer {
            producer: client_config(&config.kafka).set("acks", "all").create()?,
            topic: config.topics.principals.clone(),
        })
    }

    /// Writes one record (`None` = tombstone) and waits for the ack.
    pub async fn write(&self, key: &str, value: Option<&[u8]>) -> Result<(), KafkaError> {
        let mut record = FutureRecord::<str, [u8]>::to(&self.topic).key(key);
        if let Some(value) = value {
            record = record.payload(value);
        }
        self.producer.send(record, WRITE_TIMEOUT).await.map_err(|(e, _)| e)?;
        Ok(())
    }
}
