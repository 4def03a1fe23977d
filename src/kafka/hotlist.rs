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
//! every entry); [`follow`] applies later records to a
//! [`crate::hotlist::LiveMatcher`], so
//! an upload is matchable on every instance moments after it commits. Both
//! read committed records only and apply an upload at its commit point
//! ([`crate::hotlist::commit`]), so no matcher holds half of one; those two
//! live in [`super::hotlist_load`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::{Message, Offset};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::day_keys::Keyring;
use super::hotlist_load::{apply_list, tag_of};
pub use super::hotlist_load::{follow, load, load_on, Lists, Loaded, Resume};
use super::hotlist_write::{ListWriter, Write};
use super::{read_to_end, read_to_end_settled, KafkaError};
use crate::config::Config;
use crate::hotlist::commit::{Commits, Tag};
use crate::hotlist::plan::{self, Planned, Uploader, LIST_PREFIX};
pub use crate::hotlist::plan::{EntryRecord, ListMeta, UploadOutcome, UploadReport};
use crate::hotlist::preview::{self, Previewed};
use crate::hotlist::HotlistEntry;
use crate::metrics::Metrics;

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

type Records = (
    BTreeMap<String, EntryRecord>,
    BTreeMap<String, ListMeta>,
    Commits<Released>,
);

/// A record released by the commit protocol, with its offset for the log.
type Released = (i64, TopicRecord);

/// Every current entry on the topic read and converted on one thread, as
/// start-up did before issue 16 (for `bench hotlist-load`): how many
/// entries and lists.
pub fn load_one_thread(config: &Config) -> Result<(usize, usize), KafkaError> {
    let (records, lists, _) = read_records(config, false)?;
    let entries = records.into_values().filter(|r| r.to_entry().is_ok()).count();
    Ok((entries, lists.len()))
}

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
    Ok((records, lists, commits))
}

/// Feeds `message` to the commit protocol; what it releases goes to `out`.
fn take(commits: &mut Commits<Released>, message: &impl Message, out: &mut Vec<Released>) {
    let (partition, offset) = (message.partition(), message.offset());
    match decode(message) {
        Some(record) => commits.push(partition, offset, tag(message, &record), (offset, record), out),
        None => commits.reached(partition, offset + 1, out),
    }
}

/// What `record` is to the commit protocol.
fn tag(message: &impl Message, record: &TopicRecord) -> Tag {
    match record {
        TopicRecord::List { list_id, .. } => tag_of(message, Some(list_id), true),
        TopicRecord::Entry { key, .. } => tag_of(message, key.split_once('/').map(|(list, _)| list), false),
    }
}

/// One record of the hotlist topic, decoded as an upload diffs it (the
/// loader and the follower decode it straight into an entry instead,
/// [`super::hotlist_load`]).
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
