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

use super::day_keys::Keyring;
use super::{acked, client_config, enqueue, follow_topic_batches, read_to_end, KafkaError};
use crate::config::Config;
use crate::hotlist::plan::{self, Planned, Uploader, LIST_PREFIX};
pub use crate::hotlist::plan::{EntryRecord, ListMeta, UploadOutcome, UploadReport};
use crate::hotlist::{Change, HotlistEntry, LiveMatcher};
use crate::metrics::Metrics;

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
///
/// Read on one thread per core ([`super::parallel`]): records with one key
/// share a partition, so each thread folds its partitions' records and turns
/// them into entries on its own. Entries come back sorted by key within each
/// thread's share, so a load of one topic is always in one order.
pub fn load(config: &Config) -> Result<Loaded, KafkaError> {
    let partitions = config.topics.partitions.max(1) as usize;
    load_on(config, super::parallel::workers(partitions))
}

/// [`load`] on `workers` threads (the bench compares one with several).
pub fn load_on(config: &Config, workers: usize) -> Result<Loaded, KafkaError> {
    let (shares, end) = super::parallel::read_to_end_parallel(
        config,
        &config.topics.hotlist,
        "hotlist",
        workers,
        Share::default,
        Share::fold,
        Share::finish,
    )?;
    let mut entries = Vec::with_capacity(shares.iter().map(|(e, _)| e.len()).sum());
    let mut lists = BTreeMap::new();
    for (share_entries, share_lists) in shares {
        entries.extend(share_entries);
        lists.extend(share_lists);
    }
    Ok(Loaded { entries, lists, end })
}

/// One loading thread's records: the live entries by key and the lists.
#[derive(Default)]
struct Share {
    records: std::collections::HashMap<String, EntryRecord>,
    lists: BTreeMap<String, ListMeta>,
}

impl Share {
    fn fold(&mut self, message: &rdkafka::message::BorrowedMessage<'_>) {
        match decode(message) {
            Some(TopicRecord::List { list_id, meta }) => apply_list(&mut self.lists, list_id, meta),
            Some(TopicRecord::Entry {
                key,
                record: Some(record),
            }) => {
                self.records.insert(key, *record);
            }
            Some(TopicRecord::Entry { key, record: None }) => {
                self.records.remove(&key);
            }
            None => {}
        }
    }

    fn finish(self) -> (Vec<Arc<HotlistEntry>>, BTreeMap<String, ListMeta>) {
        let mut records: Vec<_> = self.records.into_iter().collect();
        records.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let entries = records
            .into_iter()
            .filter_map(|(_, r)| match r.to_entry() {
                Ok(entry) => Some(Arc::new(entry)),
                Err(e) => {
                    warn!(error = %e, "hotlist record skipped");
                    None
                }
            })
            .collect();
        (entries, self.lists)
    }
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

/// One record of the hotlist topic, decoded: the one reading of the topic's
/// records, for the loader and the follower alike.
enum TopicRecord {
    /// `#list/<id>`: a list's owner and refresh; `None` removes it.
    List { list_id: String, meta: Option<ListMeta> },
    /// `<list>/<entry>`: an entry; `None` (a tombstone) removes it.
    Entry {
        key: String,
        record: Option<Box<EntryRecord>>,
    },
}

/// Decodes a record; one that cannot be read is logged (offset and reason,
/// never its contents) and skipped.
fn decode(message: &impl Message) -> Option<TopicRecord> {
    let key = message.key().and_then(|k| std::str::from_utf8(k).ok())?;
    let skipped = |e: serde_json::Error| warn!(offset = message.offset(), error = %e, "hotlist record skipped");
    if let Some(list_id) = key.strip_prefix(LIST_PREFIX) {
        let meta = match message.payload().map(serde_json::from_slice::<ListMeta>) {
            Some(Ok(meta)) => Some(meta),
            Some(Err(e)) => {
                skipped(e);
                return None;
            }
            None => None,
        };
        return Some(TopicRecord::List {
            list_id: list_id.to_owned(),
            meta,
        });
    }
    let record = match message.payload().map(serde_json::from_slice::<EntryRecord>) {
        Some(Ok(record)) => Some(Box::new(record)),
        Some(Err(e)) => {
            skipped(e);
            return None;
        }
        None => None,
    };
    Some(TopicRecord::Entry {
        key: key.to_owned(),
        record,
    })
}

/// Folds a list record into `lists`.
fn apply_list(lists: &mut BTreeMap<String, ListMeta>, list_id: String, meta: Option<ListMeta>) {
    match meta {
        Some(meta) => lists.insert(list_id, meta),
        None => lists.remove(&list_id),
    };
}

fn apply_record(
    records: &mut BTreeMap<String, EntryRecord>,
    lists: &mut BTreeMap<String, ListMeta>,
    message: &impl Message,
) {
    match decode(message) {
        Some(TopicRecord::List { list_id, meta }) => apply_list(lists, list_id, meta),
        Some(TopicRecord::Entry {
            key,
            record: Some(record),
        }) => {
            records.insert(key, *record);
        }
        Some(TopicRecord::Entry { key, record: None }) => {
            records.remove(&key);
        }
        None => {}
    }
}

/// `organisation` uploads; with `enforce_owner` (any role but the custodian)
/// it may only replace a list it owns, or claim a new one. The list's
/// covert flag is kept.
pub async fn upload(
    config: &Config,
    list_id: &str,
    entries: &[Arc<HotlistEntry>],
    organisation: &str,
    enforce_owner: bool,
) -> Result<UploadOutcome, KafkaError> {
    let uploader = Uploader {
        organisation,
        enforce_owner,
        covert: None,
        registered_owner: None,
    };
    upload_as(config, list_id, entries, uploader).await
}

/// Replaces list `list_id` with `entries` as `uploader` says, from a
/// command (not the service): the day keys that seal its historical alerts
/// are loaded for this one upload.
pub async fn upload_as(
    config: &Config,
    list_id: &str,
    entries: &[Arc<HotlistEntry>],
    uploader: Uploader<'_>,
) -> Result<UploadOutcome, KafkaError> {
    let done = CancellationToken::new();
    let keyring = Keyring::start(config, Metrics::new(), crate::system_clock(), done.clone()).await?;
    let outcome = upload_with(config, &keyring, list_id, entries, uploader).await;
    done.cancel();
    outcome
}

/// Replaces list `list_id` with `entries` as `uploader` says; historical
/// alerts are sealed with `keyring`'s day keys.
pub async fn upload_with(
    config: &Config,
    keyring: &Arc<Keyring>,
    list_id: &str,
    entries: &[Arc<HotlistEntry>],
    uploader: Uploader<'_>,
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
    report.historical_alerts = super::historical::historical_alerts(config, keyring, plan.fresh, sizes).await?;
    Ok(UploadOutcome::Done(report))
}

/// Writes `(key, value or tombstone)` records in order and waits for every
/// ack; a full producer queue is waited out, never dropped.
async fn write_all(config: &Config, writes: &[(String, Option<Vec<u8>>)]) -> Result<(), KafkaError> {
    let producer: FutureProducer = client_config(&config.kafka)
        .set("acks", "all")
        .set("linger.ms", "20")
        .create()?;
    let never = CancellationToken::new();
    let mut pending = Vec::with_capacity(writes.len());
    for (key, value) in writes {
        let mut record = FutureRecord::<str, [u8]>::to(&config.topics.hotlist).key(key);
        if let Some(value) = value {
            record = record.payload(value);
        }
        pending.push(enqueue(&producer, record, &never).await?);
    }
    for delivery in pending {
        acked(delivery).await?;
    }
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
    match decode(message)? {
        TopicRecord::List { list_id, meta } => {
            apply_list(&mut lists.write().expect("lists lock"), list_id, meta);
            None
        }
        TopicRecord::Entry { key, record: None } => {
            let (list_id, entry_id) = key.split_once('/')?;
            Some(Change::Remove {
                list_id: list_id.to_owned(),
                entry_id: entry_id.to_owned(),
            })
        }
        TopicRecord::Entry {
            record: Some(record), ..
        } => match record.to_entry() {
            Ok(entry) => Some(Change::Upsert(Arc::new(entry))),
            Err(e) => {
                warn!(offset = message.offset(), error = %e, "hotlist record skipped");
                None
            }
        },
    }
}
