//! Historical hits: when a list gains an entry, the reads still retained
//! (30 days at most) are checked against it, so a car listed today but seen
//! yesterday is not missed.
//!
//! Only entries whose match-relevant fields are new are checked (the upload
//! decides which, see [`crate::hotlist::plan`]): a
//! nightly re-upload that only changes descriptions checks nothing. And a
//! (read, entry) pair that already has an alert, raised in real time or by
//! an earlier upload, never gets a second one: alert ids are deterministic,
//! and ids already on the alerts topic are skipped. So every historical
//! alert is published once, marked historical from the start, with the
//! read's capture time as its timestamp.
//!
//! The retained reads are read on one thread per core ([`replay`]), each
//! owning whole partitions, as start-up reads the hotlist (issue 16).

use std::collections::HashSet;
use std::sync::Arc;

use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::Message;

use super::day_keys::{sealed_day, with_sealed_day, Keyring};
use super::{acked, client_config, enqueue, parallel, read_to_end, scan, KafkaError};
use crate::config::Config;
use crate::hotlist::budget::Census;
use crate::hotlist::{HotlistEntry, LiveMatcher, Matcher};
use crate::pipeline::replay_filter::cannot_hit;
use crate::pipeline::{EncodedAlert, Outcome, Processor};

/// Checks the retained reads against `entries` (matched with the
/// tolerances their whole lists have, `census`) and writes an alert for each hit that has none
/// yet, sealed like every alert. Returns how many it wrote.
pub async fn historical_alerts(
    config: &Config,
    keyring: &Arc<Keyring>,
    entries: Vec<Arc<HotlistEntry>>,
    census: Census,
) -> Result<usize, KafkaError> {
    if entries.is_empty() {
        return Ok(0);
    }
    let matcher: Arc<dyn Matcher> = Arc::new(LiveMatcher::with_census(entries, config.matching.clone(), census));
    let (scan_config, scan_keys) = (config.clone(), Arc::clone(keyring));
    let alerts = tokio::task::spawn_blocking(move || new_alerts(&scan_config, &scan_keys, matcher))
        .await
        .map_err(|e| KafkaError::Topic {
            topic: config.topics.reads.clone(),
            reason: e.to_string(),
        })??;
    let producer: FutureProducer = client_config(&config.kafka).set("acks", "all").create()?;
    let partitions = super::partition_count(producer.client(), &config.topics.alerts)?;
    let never = tokio_util::sync::CancellationToken::new();
    let mut deliveries = Vec::with_capacity(alerts.len());
    for alert in &alerts {
        let Some((day, sealed)) =
            keyring
                .seal(alert.captured_at_ms, &alert.payload)
                .await
                .map_err(|e| KafkaError::Topic {
                    topic: config.topics.day_keys.clone(),
                    reason: e.to_string(),
                })?
        else {
            continue; // captured past the retention since the scan: not kept
        };
        let headers = with_sealed_day(rdkafka::message::OwnedHeaders::new(), &day);
        let record = FutureRecord::to(&config.topics.alerts)
            .key(&alert.key)
            .payload(&sealed)
            .headers(headers)
            .partition(crate::alert::partition_of(alert.entry_hash, partitions))
            .timestamp(alert.captured_at_ms);
        deliveries.push(enqueue(&producer, record, &never).await?);
    }
    for delivery in deliveries {
        acked(delivery).await?;
    }
    Ok(alerts.len())
}

/// The alerts the retained reads raise on `matcher`, less those already on the alerts topic.
fn new_alerts(config: &Config, keyring: &Keyring, matcher: Arc<dyn Matcher>) -> Result<Vec<EncodedAlert>, KafkaError> {
    let workers = parallel::workers(config.topics.partitions.max(1) as usize);
    let alerts = replay(config, keyring, matcher, workers)?;
    not_yet_alerted(config, alerts)
}

/// The alerts the retained reads raise on `matcher`, read on `workers`
/// threads, each owning whole partitions with a parser of its own. The
/// matcher holds only the new entries, so nearly no read hits and parsing
/// was most of the cost: a read that surely cannot hit is told from its
/// raw bytes ([`cannot_hit`]) and never parsed. Alerts come in partition
/// order.
pub fn replay(
    config: &Config,
    keyring: &Keyring,
    matcher: Arc<dyn Matcher>,
    workers: usize,
) -> Result<Vec<EncodedAlert>, KafkaError> {
    let max = config.pipeline.max_record_bytes;
    let (found, _) = parallel::read_to_end_parallel(
        config,
        &config.topics.reads,
        "search",
        workers,
        || (Processor::historical(Arc::clone(&matcher), max), Vec::new(), Vec::new()),
        |(processor, alerts, hits), message| {
            // A plain read (no day-key header) is its own plaintext: no
            // keyring call per read.
            let payload = match sealed_day(message) {
                None => std::borrow::Cow::Borrowed(message.payload().unwrap_or_default()),
                Some(_) => match keyring.open_message(message) {
                    Ok(payload) => payload,
                    Err(_) => return,
                },
            };
            if cannot_hit(&payload, &*matcher, hits) {
                return;
            }
            if let Outcome::Alerts(found) = processor.process(&payload) {
                alerts.extend(found);
            }
        },
        |(_, alerts, _)| alerts,
    )?;
    Ok(found.into_iter().flatten().collect())
}

/// [`replay`] as it was before issue 16: one consumer, records handed out
/// one by one through the search scan; kept for `bench replay`.
pub fn replay_one_thread(
    config: &Config,
    keyring: &Keyring,
    matcher: Arc<dyn Matcher>,
) -> Result<Vec<EncodedAlert>, KafkaError> {
    let mut processor = Processor::historical(matcher, config.pipeline.max_record_bytes);
    let mut alerts = Vec::new();
    scan::scan(config, keyring, &config.topics.reads, usize::MAX, |bytes| {
        if let Outcome::Alerts(found) = processor.process(bytes) {
            alerts.extend(found);
        }
        false
    })?;
    Ok(alerts)
}

/// `alerts` less those whose ids are on the alerts topic already.
pub fn not_yet_alerted(config: &Config, mut alerts: Vec<EncodedAlert>) -> Result<Vec<EncodedAlert>, KafkaError> {
    if alerts.is_empty() {
        return Ok(alerts);
    }
    let mut wanted: HashSet<Vec<u8>> = alerts.iter().map(|a| a.key.as_bytes().to_vec()).collect();
    read_to_end(config, &config.topics.alerts, "alert-ids", |message| {
        if let Some(key) = message.key() {
            wanted.remove(key);
        }
        !wanted.is_empty()
    })?;
    alerts.retain(|a| wanted.remove(a.key.as_bytes()));
    Ok(alerts)
}
