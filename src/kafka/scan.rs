//! Reading a whole topic for the records that match, for officer searches
//! and exports.
//!
//! ALPR topics hold at most 30 days, so a search reads what is there rather
//! than keeping a second copy in another store. It reads every partition
//! from its first to its last offset at the time of the call, outside any
//! consumer group, and stops at `limit` matches.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::{client_config, KafkaError};
use crate::config::Config;

const TIMEOUT: Duration = Duration::from_secs(15);

/// The payloads of `topic` for which `keep` is true, oldest first per partition.
pub fn scan(
    config: &Config,
    topic: &str,
    limit: usize,
    mut keep: impl FnMut(&[u8]) -> bool,
) -> Result<Vec<Vec<u8>>, KafkaError> {
    let consumer: BaseConsumer = client_config(&config.kafka)
        .set("group.id", format!("{}-search", config.kafka.group_id))
        .set("enable.auto.commit", "false")
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), TIMEOUT)?;
    let mut assignment = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let (low, high) = consumer.fetch_watermarks(topic, partition.id(), TIMEOUT)?;
        if high > low {
            assignment.add_partition_offset(topic, partition.id(), Offset::Offset(low))?;
            ends.insert(partition.id(), high);
        }
    }
    let mut found = Vec::new();
    if ends.is_empty() {
        return Ok(found);
    }
    consumer.assign(&assignment)?;
    while !ends.is_empty() && found.len() < limit {
        let Some(message) = consumer.poll(TIMEOUT) else {
            return Err(KafkaError::Topic {
                topic: topic.to_owned(),
                reason: "records stopped arriving before the end of the topic".into(),
            });
        };
        let message = message?;
        let payload = message.payload().unwrap_or_default();
        if keep(payload) {
            found.push(payload.to_vec());
        }
        if ends
            .get(&message.partition())
            .is_some_and(|high| message.offset() + 1 >= *high)
        {
            ends.remove(&message.partition());
        }
    }
    Ok(found)
}
