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

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, TopicPartitionList};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{client_config, follow_topic_batches, read_to_end, KafkaError};
use crate::config::Config;
use crate::hotlist::{build_entry, Change, HotlistEntry, LiveMatcher, RawEntry, RowError};

/// An entry as stored on the topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    pub entry_id: String,
    pub list_id: String,
    pub plate: String,
    pub region: Option<String>,
    pub category: String,
    pub priority: u8,
    pub description: String,
    #[serde(default)]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub details: crate::hotlist::EntryDetails,
}

impl EntryRecord {
    pub fn of(entry: &HotlistEntry) -> EntryRecord {
        EntryRecord {
            entry_id: entry.entry_id.clone(),
            list_id: entry.list_id.clone(),
            plate: entry.plate.to_string(),
            region: entry.region.map(|r| r.to_string()),
            category: entry.category.name().to_owned(),
            priority: entry.priority,
            description: entry.description.clone(),
            expires_at: entry.expires_at,
            details: entry.details.clone(),
        }
    }

    pub fn key(&self) -> String {
        format!("{}/{}", self.list_id, self.entry_id)
    }

    /// True when both versions of an entry match exactly the same reads:
    /// same plate, state, category (which sets the tolerance) and expiry.
    /// Descriptions and vehicle details do not change what matches.
    pub fn matches_like(&self, other: &EntryRecord) -> bool {
        (&self.plate, &self.region, &self.category, self.expires_at)
            == (&other.plate, &other.region, &other.category, other.expires_at)
    }
}

/// Key prefix of a list's own record (owner, last refresh).
const LIST_PREFIX: &str = "#list/";

/// Who owns a list and when it was last refreshed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMeta {
    pub list_id: String,
    /// The organisation whose uploads replace this list.
    pub organisation: String,
    pub refreshed_at: chrono::DateTime<chrono::Utc>,
    pub entries: usize,
}

/// The outcome of an upload request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    Done(UploadReport),
    /// The list belongs to another organisation; nothing was written.
    NotOwner {
        owner: String,
    },
}

/// What an upload changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct UploadReport {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
    /// Alerts raised by checking retained reads against entries that match
    /// differently than before (new plates, states, categories); only
    /// (read, entry) pairs that had no alert yet.
    pub historical_alerts: usize,
}

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
        .filter_map(|r| match entry_from_record(&r) {
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
    let owner = lists.get(list_id).map(|m| m.organisation.clone());
    if let Some(owner) = owner.clone().filter(|o| enforce_owner && o != organisation) {
        return Ok(UploadOutcome::NotOwner { owner });
    }
    let mut report = UploadReport::default();
    let mut writes: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    let mut keep = std::collections::HashSet::new();
    let mut fresh = Vec::new();
    for entry in entries.iter().filter(|e| e.list_id == list_id) {
        let record = EntryRecord::of(entry);
        let key = record.key();
        keep.insert(key.clone());
        match current.get(&key) {
            Some(existing) if *existing == record => report.unchanged += 1,
            existing => {
                if existing.is_some() {
                    report.changed += 1;
                } else {
                    report.added += 1;
                }
                // Only what can match reads it could not match before is
                // checked against retained reads; a new description is not.
                if !existing.is_some_and(|e| e.matches_like(&record)) {
                    fresh.push(Arc::clone(entry));
                }
                writes.push((key, Some(serde_json::to_vec(&record).expect("entries serialize"))));
            }
        }
    }
    for (key, record) in &current {
        if record.list_id == list_id && !keep.contains(key) {
            report.removed += 1;
            writes.push((key.clone(), None));
        }
    }
    let meta = ListMeta {
        list_id: list_id.to_owned(),
        organisation: owner.unwrap_or_else(|| organisation.to_owned()),
        refreshed_at: chrono::Utc::now(),
        entries: keep.len(),
    };
    writes.push((
        format!("{LIST_PREFIX}{list_id}"),
        Some(serde_json::to_vec(&meta).expect("serializes")),
    ));
    write_all(config, &writes).await?;
    let sizes = std::collections::HashMap::from([(list_id.to_owned(), keep.len())]);
    report.historical_alerts = super::historical::historical_alerts(config, fresh, sizes).await?;
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
                .and_then(|r| entry_from_record(&r).map_err(|e| e.to_string()));
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

/// Validates a stored record back into an entry, by the upload rules.
pub fn entry_from_record(record: &EntryRecord) -> Result<HotlistEntry, RowError> {
    let priority = record.priority.to_string();
    let expires = record.expires_at.map(|t| t.to_rfc3339());
    let raw = RawEntry {
        entry_id: &record.entry_id,
        list_id: &record.list_id,
        plate: &record.plate,
        category: &record.category,
        region: record.region.as_deref(),
        priority: Some(&priority),
        description: Some(Cow::Borrowed(&record.description)),
        expires_at: expires.as_deref(),
        details: record.details.clone(),
    };
    build_entry(&raw, 0)
}
