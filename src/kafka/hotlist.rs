//! Hotlists on Kafka: the compacted `alpr.hotlist` topic is the one copy
//! every matcher instance builds its index from.
//!
//! A record is keyed `<list_id>/<entry_id>` and holds the entry as JSON; a
//! tombstone removes it. [`upload`] replaces a whole list atomically, for
//! the uploader and for every matcher: the file is validated completely
//! before anything is written (see [`crate::hotlist::feed`]); the upload
//! then becomes the list's only writer (fencing any earlier upload of the
//! list, [`super::hotlist_write`]), compares the file with the list as the
//! topic holds it, and writes only new and changed entries, with tombstones
//! for entries no longer present, in one transaction. [`load`] reads the
//! topic to its end at start (not as a group member: every instance needs
//! every entry); [`follow`] applies later records to a [`LiveMatcher`], so
//! an upload is matchable on every instance moments after it commits. Both
//! read committed records only and apply an upload at its commit point
//! ([`crate::hotlist::commit`]), so no matcher holds half of one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::message::Headers;
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::day_keys::Keyring;
use super::hotlist_write::{ListWriter, Write};
use super::{follow_topic_batches, read_to_end, read_to_end_settled, KafkaError};
use crate::config::Config;
use crate::hotlist::commit::{Commits, Tag, THROUGH_HEADER, VERSION_HEADER};
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
    /// Where the topic ended: [`follow`] goes on from here.
    pub end: Resume,
}

/// Where a reader of the topic stopped: each partition's next offset, and
/// the uploads read only in part (held back until their commit point).
pub struct Resume {
    offsets: TopicPartitionList,
    commits: Commits<Released>,
}

impl Resume {
    /// The last committed version of `list` read (0: none).
    pub fn version(&self, list: &str) -> u64 {
        self.commits.version(list)
    }
}

/// A record released by the commit protocol, with its offset for the log.
type Released = (i64, TopicRecord);

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
    let (records, lists, end) = read_records(config, false)?;
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

/// The entries and lists read on `workers` threads, decoding records as
/// they come, without the commit protocol of [`load`] (uploads in flight
/// are not held back): for `bench hotlist-load` to compare threads; `serve`
/// loads with [`load`].
pub fn load_on(config: &Config, workers: usize) -> Result<(usize, usize), KafkaError> {
    let (shares, end) = super::parallel::read_to_end_parallel(
        config,
        &config.topics.hotlist,
        "hotlist",
        workers,
        Share::default,
        Share::fold,
        Share::finish,
    )?;
    let _ = end;
    let entries = shares.iter().map(|(e, _)| e.len()).sum();
    let lists = shares.iter().map(|(_, l)| l.len()).sum();
    Ok((entries, lists))
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

/// The topic now: entry records by key, list records by list id.
pub type Current = (BTreeMap<String, EntryRecord>, BTreeMap<String, ListMeta>);

/// Every current entry record (by key) and list record (by list id).
pub fn records(config: &Config) -> Result<Current, KafkaError> {
    let (records, lists, _) = read_records(config, false)?;
    Ok((records, lists))
}

/// Every list's owner and last refresh.
pub fn lists(config: &Config) -> Result<Vec<ListMeta>, KafkaError> {
    Ok(read_records(config, false)?.1.into_values().collect())
}

type Records = (BTreeMap<String, EntryRecord>, BTreeMap<String, ListMeta>, Resume);

/// The live records by key (tombstones folded) and lists, as committed
/// uploads left them; `settled` waits out transactions open at the call.
fn read_records(config: &Config, settled: bool) -> Result<Records, KafkaError> {
    let mut records = BTreeMap::new();
    let mut lists = BTreeMap::new();
    let mut commits = Commits::default();
    let mut released = Vec::new();
    let each = |message: &rdkafka::message::BorrowedMessage<'_>| {
        take(&mut commits, message, &mut released);
        for (_, record) in released.drain(..) {
            apply_record(&mut records, &mut lists, record);
        }
        true
    };
    let topic = &config.topics.hotlist;
    let offsets = if settled {
        read_to_end_settled(config, topic, "hotlist", each)?
    } else {
        read_to_end(config, topic, "hotlist", each)?
    };
    for element in offsets.elements() {
        if let Offset::Offset(end) = element.offset() {
            commits.reached(element.partition(), end, &mut released);
        }
    }
    for (_, record) in released.drain(..) {
        apply_record(&mut records, &mut lists, record);
    }
    Ok((records, lists, Resume { offsets, commits }))
}

/// Feeds `message` to the commit protocol; what it releases goes to `out`.
fn take(commits: &mut Commits<Released>, message: &impl Message, out: &mut Vec<Released>) {
    let (partition, offset) = (message.partition(), message.offset());
    match decode(message) {
        Some(record) => commits.push(partition, offset, tag(message, &record), (offset, record), out),
        None => commits.reached(partition, offset + 1, out),
    }
}

/// What `record` is to the commit protocol; a record whose commit headers
/// cannot be read is applied as it comes (logged, never dropped).
fn tag(message: &impl Message, record: &TopicRecord) -> Tag {
    let header = |name: &str| {
        message
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == name))
            .and_then(|h| h.value)
    };
    let (list, is_list) = match record {
        TopicRecord::List { list_id, meta: Some(_) } => (Some(list_id.as_str()), true),
        TopicRecord::List { list_id, meta: None } => (Some(list_id.as_str()), true),
        TopicRecord::Entry { key, .. } => (key.split_once('/').map(|(list, _)| list), false),
    };
    Tag::of(list, is_list, header(VERSION_HEADER), header(THROUGH_HEADER)).unwrap_or_else(|e| {
        warn!(offset = message.offset(), error = %e, "hotlist record applied without its commit point");
        Tag::Plain
    })
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
    record: TopicRecord,
) {
    match record {
        TopicRecord::List { list_id, meta } => apply_list(lists, list_id, meta),
        TopicRecord::Entry {
            key,
            record: Some(record),
        } => {
            records.insert(key, *record);
        }
        TopicRecord::Entry { key, record: None } => {
            records.remove(&key);
        }
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
    let writer = ListWriter::fence(config, list_id).await?;
    let (current, lists, read) = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || read_records(&config, true))
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
    let changes: Vec<Write> = plan
        .writes
        .iter()
        .map(|(key, record)| {
            let value = record
                .as_ref()
                .map(|r| serde_json::to_vec(r).expect("entries serialize"));
            (key.clone(), value)
        })
        .collect();
    let meta = (
        format!("{LIST_PREFIX}{list_id}"),
        serde_json::to_vec(&plan.meta).expect("serializes"),
    );
    writer.replace(&changes, meta, read.version(list_id) + 1).await?;
    let mut report = plan.report;
    // The fresh entries match as the whole list will: its sizes and budgets.
    let census = crate::hotlist::budget::Census::of(entries, &config.matching);
    report.historical_alerts = super::historical::historical_alerts(config, keyring, plan.fresh, census).await?;
    Ok(UploadOutcome::Done(report))
}

/// Writes `(key, value or tombstone)` records in order and waits for every
/// ack; a full producer queue is waited out, never dropped.
async fn write_all(config: &Config, writes: &[(String, Option<Vec<u8>>)]) -> Result<(), KafkaError> {
    use super::{acked, client_config, enqueue};
    use rdkafka::producer::{FutureProducer, FutureRecord};
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
/// `shutdown`: what each batch the topic returns at once releases (records
/// without a version, and uploads whose commit point it reached) is one
/// change of the matcher, visible to reads all together.
pub fn follow(
    config: &Config,
    from: Resume,
    matcher: Arc<LiveMatcher>,
    lists: Lists,
    shutdown: CancellationToken,
) -> Result<(), KafkaError> {
    let Resume { offsets, mut commits } = from;
    follow_topic_batches(config, "hotlist", offsets, shutdown, move |batch| {
        if batch.is_empty() {
            // The topic went quiet: leave reads as few levels to probe as possible.
            matcher.quiet();
            return;
        }
        let mut released = Vec::new();
        for message in batch {
            take(&mut commits, message, &mut released);
        }
        let changes = released
            .into_iter()
            .filter_map(|(offset, record)| change_of(&lists, offset, record))
            .collect();
        matcher.apply(changes);
    })
}

/// The matcher change a record makes; list records update `lists` instead.
fn change_of(lists: &Lists, offset: i64, record: TopicRecord) -> Option<Change> {
    match record {
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
                warn!(offset, error = %e, "hotlist record skipped");
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
