//! Keeping every instance's users and grants in step with `alpr.principals`.
//!
//! At start the whole compacted topic is read (not as a group member: every
//! instance needs every record) and folded into [`Principals`]; the API
//! serves only after that. Then a task follows the topic and applies each
//! new record, so a user or grant added on one instance is known on all.

use std::sync::{Arc, RwLock};

use rdkafka::{Message, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{follow_topic, read_to_end, KafkaError};
use crate::api::principals::Principals;
use crate::config::Config;

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
