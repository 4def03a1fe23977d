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
use crate::hotlist::preview::{self, Previewed};
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

/// The topic now: entry records by key, list records by list id.
pub type Current = (BTreeMap<String, EntryRecord>, BTreeMap<String, ListMeta>);

/// Every current entry record (by key) and list record (by list id).
pub fn records(config: &Config) -> Result<Current, KafkaError> {
    let (records, lists, _) = read_records(config)?;
    Ok((records, lists))
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
    let progress = crate::progress::Progress::new("writing to the hotlist topic", Some(writes.len() as u64));
    for (key, value) in writes {
        let mut record = FutureRecord::<str, [u8]>::to(&config.topics.hotlist).key(key);
        if let Some(value) = value {
            record = record.payload(value);
        }
        pending.push(enqueue(&producer, record, &never).await?);
        progress.inc(1);
    }
    for delivery in pending {
        acked(delivery).await?;
    }
    progress.finish();
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

/// What uploading `entries` as list `list_id` would change, planned exactly
/// as [`upload_with`] plans it, with at most `show` rows of each kind;
/// writes nothing (a dry run).
pub async fn preview(
    config: &Config,
    list_id: &str,
    entries: &[Arc<HotlistEntry>],
    uploader: Uploader<'_>,
    show: usize,
) -> Result<Previewed, KafkaError> {
    let (current, lists) = records_async(config).await?;
    Ok(
        match plan::plan(list_id, entries, &current, &lists, uploader, chrono::Utc::now()) {
            Planned::Plan(plan) => Previewed::Preview(preview::preview(list_id, &plan, &current, show)),
            Planned::NotOwner { owner } => Previewed::NotOwner { owner },
        },
    )
}

/// Removes list `list_id`: a tombstone for each of its entries, then for
/// its list record; returns how many entries were removed.
pub async fn remove_list(config: &Config, list_id: &str) -> Result<usize, KafkaError> {
    let (current, _) = records_async(config).await?;
    let mut writes: Vec<(String, Option<Vec<u8>>)> = current
        .values()
        .filter(|r| r.list_id == list_id)
        .map(|r| (r.key(), None))
        .collect();
    let removed = writes.len();
    writes.push((format!("{LIST_PREFIX}{list_id}"), None));
    write_all(config, &writes).await?;
    Ok(removed)
}

/// [`records`] off the async runtime.
async fn records_async(config: &Config) -> Result<Current, KafkaError> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || records(&config))
        .await
        .map_err(|e| KafkaError::Topic {
            topic: "hotlist".into(),
            reason: e.to_string(),
        })?
}
