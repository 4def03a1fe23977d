//! Hotlists on Kafka: the compacted `alpr.hotlist` topic is the one copy
//! every matcher instance builds its index from.
//!
//! A record is keyed `<list_id>/<entry_id>` and holds the entry as JSON; a
//! tombstone removes it. [`upload`] replaces a whole list atomically from
//! the uploader's point of view: the file is validated completely before
//! anything is written (see [`crate::hotlist::feed`]), then compared with the
//! list as the topic holds it, and only new and changed entries are written,
//! with tombstones for entries no longer present. [`load`] reads the topic to
//! its end at start (not as a group member: every instance needs every
//! entry); [`follow`] applies later records to a [`LiveMatcher`], so an
//! upload is matchable on every instance moments after it is acknowledged.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{client_config, follow_topic_batches, read_to_end, KafkaError};
use crate::config::Config;
use crate::hotlist::plan::{self, Planned, Uploader, LIST_PREFIX};
pub use crate::hotlist::plan::{EntryRecord, ListMeta, UploadOutcome, UploadReport};
use crate::hotlist::{Change, HotlistEntry, LiveMatcher};

/// The lists an instance knows, shared with the API for freshness checks.
pub type Lists = Arc<std::sync::RwLock<BTreeMap<String, ListMeta>>>;

/// What [`load`] found on the topic.
pub struct Loaded {
    pub entries: Vec<Arc<HotlistEntry>>,
    pub lists: BTreeMap<String, ListMeta>,
    /// Where each partition ended: [`follow`] goes on from here.
    pub end: TopicPartitionList,
}

/// Lists not refreshed within `max_age` of `now` (a feed that silently
/// stopped misses every new theft).
pub fn stale(
    lists: &BTreeMap<String, ListMeta>,
    now: chrono::DateTime<chrono::Utc>,
    max_age: Duration,
) -> Vec<ListMeta> {
    let max_age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
    lists
        .values()
        .filter(|m| now - m.refreshed_at > max_age)
        .cloned()
        .collect()
}

/// Every current entry and list on the topic, and where each partition ended.
pub fn load(config: &Config) -> Result<Loaded, KafkaError> {
    let (records, lists, end) = read_records(config)?;
    let entries = records
        .into_values()
        .filter_map(|r| match r.to_entry() {
            Ok(entry) => Some(Arc::new(entry)),
            Err(e) => {
                warn!(error = %e, "hotlist record skipped");
                None
            }
        })
        .collect();
    Ok(Loaded { entries, lists, end })
}

/// The live records by key, folding tombstones.
/// Every list's owner and last refresh.
pub fn lists(config: &Config) -> Result<Vec<ListMeta>, KafkaError> {
    Ok(read_records(config)?.1.into_values().collect())
}

type Records = (
    BTreeMap<String, EntryRecord>,
    BTreeMap<String, ListMeta>,
    TopicPartitionList,
);

fn read_records(config: &Config) -> Result<Records, KafkaError> {
    let mut records = BTreeMap::new();
    let mut lists = BTreeMap::new();
    let end = read_to_end(config, &config.topics.hotlist, "hotlist", |message| {
        apply_record(&mut records, &mut lists, message);
        true
    })?;
    Ok((records, lists, end))
}

/// Applies a `#list/<id>` record; returns false for any other key.
fn apply_list_record(lists: &mut BTreeMap<String, ListMeta>, key: &str, message: &impl Message) -> bool {
    let Some(list) = key.strip_prefix(LIST_PREFIX) else {
        return false;
    };
    match message.payload().map(serde_json::from_slice::<ListMeta>) {
        Some(Ok(meta)) => {
            lists.insert(list.to_owned(), meta);
        }
        Some(Err(e)) => warn!(offset = message.offset(), error = %e, "list record skipped"),
        None => {
            lists.remove(list);
        }
    }
    true
}

fn apply_record(
    records: &mut BTreeMap<String, EntryRecord>,
    lists: &mut BTreeMap<String, ListMeta>,
    message: &impl Message,
) {
    let Some(key) = message.key().and_then(|k| std::str::from_utf8(k).ok()) else {
        return;
    };
    if apply_list_record(lists, key, message) {
        return;
    }
    match message.payload() {
        None => {
            records.remove(key);
        }
        Some(bytes) => match serde_json::from_slice::<EntryRecord>(bytes) {
            Ok(record) => {
                records.insert(key.to_owned(), record);
            }
            Err(e) => warn!(offset = message.offset(), error = %e, "hotlist record is not an entry"),
        },
    }
}

/// `organisation` uploads; with `enforce_owner` (any role but the custodian)
/// it may only replace a list it owns, or claim a new one.
pub async fn upload(
    config: &Config,
    list_id: &str,
    entries: &[Arc<HotlistEntry>],
    organisation: &str,
    enforce_owner: bool,
) -> Result<UploadOutcome, KafkaError> {
    let (current, lists, _) = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || read_records(&config))
            .await
            .map_err(|e| KafkaError::Topic {
                topic: "hotlist".into(),
                reason: e.to_string(),
            })??
    };
    let uploader = Uploader {
        organisation,
        enforce_owner,
    };
    let plan = match plan::plan(list_id, entries, &current, &lists, uploader, chrono::Utc::now()) {
        Planned::Plan(plan) => plan,
        Planned::NotOwner { owner } => return Ok(UploadOutcome::NotOwner { owner }),
    };
    let mut writes: Vec<(String, Option<Vec<u8>>)> = plan
        .writes
        .iter()
        .map(|(key, record)| {
            let value = record
                .as_ref()
                .map(|r| serde_json::to_vec(r).expect("entries serialize"));
            (key.clone(), value)
        })
        .collect();
    writes.push((
        format!("{LIST_PREFIX}{list_id}"),
        Some(serde_json::to_vec(&plan.meta).expect("serializes")),
    ));
    write_all(config, &writes).await?;
    let mut report = plan.report;
    let sizes = std::collections::HashMap::from([(list_id.to_owned(), plan.meta.entries)]);
    report.historical_alerts = super::historical::historical_alerts(config, plan.fresh, sizes).await?;
    Ok(UploadOutcome::Done(report))
}

/// Writes `(key, value or tombstone)` records in order and waits for every
/// ack; when the producer's queue is full it waits for acks before going on.
async fn write_all(config: &Config, writes: &[(String, Option<Vec<u8>>)]) -> Result<(), KafkaError> {
    let producer: FutureProducer = client_config(&config.kafka)
        .set("acks", "all")
        .set("linger.ms", "20")
        .create()?;
    let mut pending = std::collections::VecDeque::new();
    for (key, value) in writes {
        loop {
            let mut record = FutureRecord::<str, [u8]>::to(&config.topics.hotlist).key(key);
            if let Some(value) = value {
                record = record.payload(value);
            }
            match producer.send_result(record) {
                Ok(future) => {
                    pending.push_back(future);
                    break;
                }
                Err((
                    rdkafka::error::KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    _,
                )) => {
                    let Some(oldest) = pending.pop_front() else {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    acked(oldest).await?;
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
    }
    for future in pending {
        acked(future).await?;
    }
    Ok(())
}

async fn acked(future: rdkafka::producer::DeliveryFuture) -> Result<(), KafkaError> {
    future
        .await
        .map_err(|_| KafkaError::Undelivered(1))?
        .map_err(|(e, _)| e)?;
    Ok(())
}

/// Applies every hotlist record after `from` to `matcher` and `lists` until
/// `shutdown`: each batch the topic returns at once is one change of the
/// matcher, visible to reads all together.
pub fn follow(
    config: &Config,
    from: TopicPartitionList,
    matcher: Arc<LiveMatcher>,
    lists: Lists,
    shutdown: CancellationToken,
) -> Result<(), KafkaError> {
    follow_topic_batches(config, "hotlist", from, shutdown, move |batch| {
        if batch.is_empty() {
            // The topic went quiet: leave reads as few levels to probe as possible.
            matcher.quiet();
            return;
        }
        let changes = batch.iter().filter_map(|message| change_of(&lists, message)).collect();
        matcher.apply(changes);
    })
}

/// The matcher change a record makes; list records update `lists` instead.
fn change_of(lists: &Lists, message: &impl Message) -> Option<Change> {
    let key = message.key().and_then(|k| std::str::from_utf8(k).ok())?;
    if apply_list_record(&mut lists.write().expect("lists lock"), key, message) {
        return None;
    }
    match message.payload() {
        None => {
            let (list_id, entry_id) = key.split_once('/')?;
            Some(Change::Remove {
                list_id: list_id.to_owned(),
                entry_id: entry_id.to_owned(),
            })
        }
        Some(bytes) => {
            let entry = serde_json::from_slice::<EntryRecord>(bytes)
                .map_err(|e| e.to_string())
                .and_then(|r| r.to_entry().map_err(|e| e.to_string()));
            match entry {
                Ok(entry) => Some(Change::Upsert(Arc::new(entry))),
                Err(e) => {
                    warn!(offset = message.offset(), error = %e, "hotlist record skipped");
                    None
                }
            }
        }
    }
}
