//! The alerts and alert-state topics as the dispatch board reads them, and
//! the writer of dispatchers' decisions.
//!
//! Every instance reads both topics whole, from their first records, outside
//! any consumer group (each needs every record), and hands each batch to a
//! callback with the partition and offset of every record, so the board can
//! say how far it has read. [`Writer`] writes one decision and waits until
//! every in-sync replica has it.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

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
/// until `shutdown`, on a thread of its own.
pub fn follow_from_beginning(
    config: &Config,
    topic: &str,
    reader: &str,
    shutdown: CancellationToken,
    mut f: impl FnMut(&[Record<'_>]) + Send + 'static,
) -> Result<(), KafkaError> {
    let from = from_beginning(config, topic)?;
    follow_topic_batches(config, reader, from, shutdown, move |batch| {
        let records: Vec<Record<'_>> = batch
            .iter()
            .map(|m| (m.partition(), m.offset(), m.payload().unwrap_or_default()))
            .collect();
        if !records.is_empty() {
            f(&records);
        }
    })
}

/// Writes dispatchers' decisions to the alert-state topic.
pub struct Writer {
    producer: FutureProducer,
    topic: String,
}

impl Writer {
    pub fn new(config: &Config) -> Result<Writer, KafkaError> {
        Ok(Writer {
            producer: client_config(&config.kafka).set("acks", "all").create()?,
            topic: config.topics.alert_state.clone(),
        })
    }

    /// Writes `transition`, keyed by its alert id (one partition per alert:
    /// one order of its decisions), and waits for the ack.
    pub async fn write(&self, transition: &Transition) -> Result<(), KafkaError> {
        let key = transition.alert_id.hyphenated().to_string();
        let payload = transition.encode();
        let record = FutureRecord::<str, [u8]>::to(&self.topic).key(&key).payload(&payload);
        self.producer.send(record, WRITE_TIMEOUT).await.map_err(|(e, _)| e)?;
        Ok(())
    }
}
