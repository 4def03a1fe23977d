//! Keeping every instance's users and grants in step with `alpr.principals`.
//!
//! At start the whole compacted topic is read (not as a group member: every
//! instance needs every record) and folded into [`Principals`]; the API
//! serves only after that. Then a task follows the topic and applies each
//! new record, so a user or grant added on one instance is known on all.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{client_config, KafkaError};
use crate::api::principals::Principals;
use crate::config::Config;

const TIMEOUT: Duration = Duration::from_secs(15);

/// Reads the topic to its end; returns the state and where each partition ended.
pub fn load(config: &Config) -> Result<(Principals, TopicPartitionList), KafkaError> {
    let topic = &config.topics.principals;
    let consumer: BaseConsumer = client_config(&config.kafka)
        .set("group.id", format!("{}-principals", config.kafka.group_id))
        .set("enable.auto.commit", "false")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), TIMEOUT)?;
    let mut start = TopicPartitionList::new();
    let mut end = TopicPartitionList::new();
    let mut remaining = 0i64;
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let (low, high) = consumer.fetch_watermarks(topic, partition.id(), TIMEOUT)?;
        start.add_partition_offset(topic, partition.id(), Offset::Offset(low))?;
        end.add_partition_offset(topic, partition.id(), Offset::Offset(high))?;
        remaining += high - low;
    }
    consumer.assign(&start)?;
    let mut principals = Principals::default();
    let ends: Vec<(i32, i64)> = end
        .elements()
        .iter()
        .map(|e| (e.partition(), e.offset().to_raw().unwrap_or(0)))
        .collect();
    let mut done: std::collections::HashMap<i32, i64> = ends.iter().map(|(p, _)| (*p, 0)).collect();
    while remaining > 0 && ends.iter().any(|(p, high)| done[p] < *high) {
        let Some(message) = consumer.poll(TIMEOUT) else {
            return Err(KafkaError::Topic {
                topic: topic.clone(),
                reason: "the topic did not deliver its records within the timeout".into(),
            });
        };
        let message = message?;
        done.insert(message.partition(), message.offset() + 1);
        apply(&mut principals, &message);
    }
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
    let consumer: StreamConsumer = client_config(&config.kafka)
        .set("group.id", format!("{}-principals", config.kafka.group_id))
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.assign(&from)?;
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => break,
                message = consumer.recv() => message,
            };
            match message {
                Ok(message) => apply(&mut principals.write().expect("principals lock"), &message),
                Err(e) => warn!(error = %e, "principals topic error"),
            }
        }
    });
    Ok(())
}
