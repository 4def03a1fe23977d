//! Reading a whole topic for the records that match, for officer searches
//! and exports.
//!
//! ALPR topics hold at most 30 days, so a search reads what is there rather
//! than keeping a second copy in another store. It reads every partition
//! from its first to its last offset at the time of the call, outside any
//! consumer group, and stops at `limit` matches. Sealed records are opened
//! with their day's key; one whose key is destroyed is past the retention
//! and is skipped (and counted), as if already deleted.

use super::day_keys::Keyring;
use super::{read_to_end, KafkaError};
use crate::config::Config;

/// The plaintext payloads of `topic` for which `keep` is true, oldest first
/// per partition.
pub fn scan(
    config: &Config,
    keyring: &Keyring,
    topic: &str,
    limit: usize,
    mut keep: impl FnMut(&[u8]) -> bool,
) -> Result<Vec<Vec<u8>>, KafkaError> {
    let mut found = Vec::new();
    read_to_end(config, topic, "search", |message| {
        if let Ok(payload) = keyring.open_message(message) {
            if keep(&payload) {
                found.push(payload.into_owned());
            }
        }
        found.len() < limit
    })?;
    Ok(found)
}

/// Up to `count` records of one partition of `topic` from `offset`, as
/// stored (sealed), for an investigator's `decrypt`.
pub fn records_at(
    config: &Config,
    (topic, partition, offset): (&str, i32, i64),
    count: usize,
) -> Result<Vec<rdkafka::message::OwnedMessage>, KafkaError> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Message, Offset, TopicPartitionList};
    let timeout = std::time::Duration::from_secs(15);
    let consumer: BaseConsumer = super::consumer_config(&config.kafka, format!("{}-decrypt", config.kafka.group_id))
        .set("enable.auto.commit", "false")
        .create()?;
    let (low, high) = consumer.fetch_watermarks(topic, partition, timeout)?;
    let (first, end) = (offset.max(low), high.min(offset.saturating_add(count as i64)));
    let mut found = Vec::new();
    if first >= end {
        return Ok(found);
    }
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, partition, Offset::Offset(first))?;
    consumer.assign(&assignment)?;
    while let Some(message) = consumer.poll(timeout) {
        let message = message?;
        let done = message.offset() + 1 >= end;
        found.push(message.detach());
        if done {
            break;
        }
    }
    Ok(found)
}
