//! The alerts and alert-state topics as the dispatch board reads them, and
//! the writer of dispatchers' decisions.
//!
//! Every instance reads both topics whole, from their first records, outside
//! any consumer group (each needs every record), and hands each batch to a
//! callback with the partition and offset of every record, so the board can
//! say how far it has read. [`Writer`] writes one decision and waits until
//! every in-sync replica has it.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::day_keys::{with_sealed_day, Keyring};
use super::{client_config, follow_topic_batches, partition_count, KafkaError};
use crate::alert::lifecycle::Transition;
use crate::config::Config;

/// How long a decision may take to be acknowledged.
const WRITE_TIMEOUT: Duration = Duration::from_secs(15);

/// One record as the board takes it: partition, offset, payload.
pub type Record<'a> = (i32, i64, &'a [u8]);

/// Every partition of `topic` from its first record.
fn from_beginning(config: &Config, topic: &str) -> Result<TopicPartitionList, KafkaError> {
    let consumer: BaseConsumer = client_config(&config.kafka).create()?;
    let partitions = partition_count(consumer.client(), topic)?;
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition_offset(topic, partition, Offset::Beginning)?;
    }
    Ok(list)
}

/// Calls `f` with every batch of records of `topic` from its beginning,
/// opened with `keyring`, until `shutdown`, on a thread of its own. A
/// record that cannot be opened (its day key destroyed: past the
/// retention) is handed on empty, so its offset still counts as read.
pub fn follow_from_beginning(
    config: &Config,
    (topic, keyring): (&str, Arc<Keyring>),
    reader: &str,
    shutdown: CancellationToken,
    mut f: impl FnMut(&[Record<'_>]) + Send + 'static,
) -> Result<(), KafkaError> {
    let from = from_beginning(config, topic)?;
    follow_topic_batches(config, reader, from, shutdown, move |batch| {
        let opened: Vec<Cow<'_, [u8]>> = batch
            .iter()
            .map(|m| keyring.open_message(m).unwrap_or_default())
            .collect();
        let records: Vec<Record<'_>> = batch
            .iter()
            .zip(&opened)
            .map(|(m, payload)| (m.partition(), m.offset(), payload.as_ref()))
            .collect();
        if !records.is_empty() {
            f(&records);
        }
    })
}

/// Writes dispatchers' decisions to the alert-state topic, sealed.
pub struct Writer {
    producer: FutureProducer,
    topic: String,
    keyring: Arc<Keyring>,
}

impl Writer {
    pub fn new(config: &Config, keyring: Arc<Keyring>) -> Result<Writer, KafkaError> {
        Ok(Writer {
            producer: client_config(&config.kafka).set("acks", "all").create()?,
            topic: config.topics.alert_state.clone(),
            keyring,
        })
    }

    /// Writes `transition`, keyed by its alert id (one partition per alert:
    /// one order of its decisions), sealed under the day its incident was
    /// first captured and timestamped then, so it is deleted with the
    /// incident's alerts; waits for the ack.
    pub async fn write(&self, transition: &Transition, captured_ms: i64) -> Result<(), KafkaError> {
        let key = transition.alert_id.hyphenated().to_string();
        let sealed = self.keyring.seal(captured_ms, &transition.encode()).await;
        let (day, payload) = sealed
            .map_err(|e| KafkaError::Topic {
                topic: self.topic.clone(),
                reason: e.to_string(),
            })?
            .ok_or_else(|| KafkaError::Topic {
                topic: self.topic.clone(),
                reason: "the incident is past the retention".into(),
            })?;
        let headers = with_sealed_day(OwnedHeaders::new(), &day);
        let record = FutureRecord::<str, [u8]>::to(&self.topic)
            .key(&key)
            .payload(&payload)
            .headers(headers)
            .timestamp(captured_ms);
        self.producer.send(record, WRITE_TIMEOUT).await.map_err(|(e, _)| e)?;
        Ok(())
    }
}
