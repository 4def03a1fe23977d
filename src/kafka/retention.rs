//! `retention verify`: the oldest record still kept of every topic that
//! holds ALPR data, and whether it is within 30 days of capture
//! ([`crate::retention::judge`]). Records the service writes about a read
//! carry its capture time as their timestamp, so the oldest timestamp is
//! the oldest capture kept.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::{consumer_config, KafkaError};
use crate::config::Config;
use crate::retention::{judge, Verdict};

const TIMEOUT: Duration = Duration::from_secs(15);

/// The oldest record kept of one partition, and the verdict on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oldest {
    pub topic: String,
    pub partition: i32,
    /// `None`: the partition is empty.
    pub verdict: Option<Verdict>,
}

/// The oldest record of every partition of every ALPR topic, judged at
/// `now_ms` against the configured retention.
pub fn oldest(config: &Config, now_ms: i64) -> Result<Vec<Oldest>, KafkaError> {
    let consumer: BaseConsumer = consumer_config(&config.kafka, format!("{}-retention-verify", config.kafka.group_id))
        .set("enable.auto.commit", "false")
        .create()?;
    let mut found = Vec::new();
    let specs = super::topics::specs(&config.topics);
    let alpr: Vec<_> = specs.iter().filter(|s| s.alpr_data).collect();
    let progress = crate::progress::Progress::steps(
        "checking partitions",
        alpr.len() as u64 * config.topics.partitions.max(1) as u64,
    );
    for spec in alpr {
        let metadata = consumer.fetch_metadata(Some(&spec.name), TIMEOUT)?;
        for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
            progress.inc(1);
            let (low, high) = consumer.fetch_watermarks(&spec.name, partition.id(), TIMEOUT)?;
            let verdict = match high > low {
                false => None,
                true => first_timestamp(&consumer, &spec.name, partition.id(), low)?
                    .map(|ms| judge(ms, now_ms, config.topics.retention)),
            };
            found.push(Oldest {
                topic: spec.name.clone(),
                partition: partition.id(),
                verdict,
            });
        }
    }
    progress.finish();
    Ok(found)
}

/// The timestamp of the first record at or after `offset`.
fn first_timestamp(
    consumer: &BaseConsumer,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<Option<i64>, KafkaError> {
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, partition, Offset::Offset(offset))?;
    consumer.assign(&assignment)?;
    match consumer.poll(TIMEOUT) {
        Some(message) => Ok(message?.timestamp().to_millis()),
        None => Ok(None),
    }
}
