//! Reading a whole topic for the records that match, for officer searches
//! and exports.
//!
//! ALPR topics hold at most 30 days, so a search reads what is there rather
//! than keeping a second copy in another store. It reads every partition
//! from its first to its last offset at the time of the call, outside any
//! consumer group, and stops at `limit` matches.

use rdkafka::Message;

use super::{read_to_end, KafkaError};
use crate::config::Config;

/// The payloads of `topic` for which `keep` is true, oldest first per partition.
pub fn scan(
    config: &Config,
    topic: &str,
    limit: usize,
    mut keep: impl FnMut(&[u8]) -> bool,
) -> Result<Vec<Vec<u8>>, KafkaError> {
    let mut found = Vec::new();
    read_to_end(config, topic, "search", |message| {
        let payload = message.payload().unwrap_or_default();
        if keep(payload) {
            found.push(payload.to_vec());
        }
        found.len() < limit
    })?;
    Ok(found)
}
