//! Start-up from the hotlist topic, and following it afterwards: the
//! reading side of [`super::hotlist`], which writes.
//!
//! An instance is ready only once it holds every entry, so [`load`] reads
//! the topic on one thread per core ([`super::parallel`]), each owning
//! whole partitions and decoding their records as they arrive with the
//! borrowed decoder ([`crate::hotlist::record`]). Uploads are transactions
//! whose changes span partitions and apply at their commit point
//! ([`crate::hotlist::commit`]); no worker can judge a commit alone, so the
//! workers report the commit records they read, those are joined with where
//! every partition ended ([`crate::hotlist::commit_join`]), and each worker
//! then replays its own partitions in offset order, applying what is
//! committed and holding the rest for [`follow`], which goes on from the
//! same ends with the same protocol. No matcher holds half an upload. Never
//! logs a record's contents.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{follow_topic_batches, parallel, KafkaError};
use crate::config::Config;
use crate::hotlist::commit::{Commits, Tag, THROUGH_HEADER, VERSION_HEADER};
use crate::hotlist::commit_join::{Decision, Joined};
use crate::hotlist::plan::{ListMeta, LIST_PREFIX};
use crate::hotlist::record::{entry_of, RecordError};
use crate::hotlist::{Change, HotlistEntry, LiveMatcher, RowError};

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

    /// How many records are held back for their upload's commit point.
    pub fn held(&self) -> usize {
        self.commits.held()
    }
}

/// A record released by the commit protocol, with its offset for the log.
type Released = (i64, Record);

/// One record of the hotlist topic as a matcher needs it.
pub(super) enum Record {
    /// `#list/<id>`: a list's owner and refresh; `None` removes it.
    List { list_id: String, meta: Option<ListMeta> },
    /// `<list>/<entry>`: an entry, or why its record gives none; `None` (a
    /// tombstone) removes it.
    Entry {
        key: String,
        entry: Option<Result<Arc<HotlistEntry>, Box<RowError>>>,
    },
}

impl Record {
    /// The list the record belongs to (none for a key without one), and
    /// whether it is the list's own record.
    fn list(&self) -> (Option<&str>, bool) {
        match self {
            Record::List { list_id, .. } => (Some(list_id), true),
            Record::Entry { key, .. } => (key.split_once('/').map(|(list, _)| list), false),
        }
    }
}

/// Decodes a record; one that cannot be read is logged (offset and reason,
/// never its contents) and skipped.
pub(super) fn decode(message: &impl Message) -> Option<Record> {
    let key = message.key().and_then(|k| std::str::from_utf8(k).ok())?;
    let skipped = |e: &dyn std::fmt::Display| warn!(offset = message.offset(), error = %e, "hotlist record skipped");
    if let Some(list_id) = key.strip_prefix(LIST_PREFIX) {
        let meta = match message.payload().map(serde_json::from_slice::<ListMeta>) {
            Some(Ok(meta)) => Some(meta),
            Some(Err(e)) => {
                skipped(&e);
                return None;
            }
            None => None,
        };
        return Some(Record::List {
            list_id: list_id.to_owned(),
            meta,
        });
    }
    let entry = match message.payload().map(entry_of) {
        None => None,
        Some(Ok(entry)) => Some(Ok(Arc::new(entry))),
        Some(Err(RecordError::Row(e))) => Some(Err(Box::new(e))),
        Some(Err(e @ RecordError::Json(_))) => {
            skipped(&e);
            return None;
        }
    };
    Some(Record::Entry {
        key: key.to_owned(),
        entry,
    })
}

/// What a record of `list` (`is_list`: the list's own record) is to the
/// commit protocol; one whose commit headers cannot be read is applied as
/// it comes (logged, never dropped).
pub(super) fn tag_of(message: &impl Message, list: Option<&str>, is_list: bool) -> Tag {
    let header = |name: &str| {
        message
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == name))
            .and_then(|h| h.value)
    };
    Tag::of(list, is_list, header(VERSION_HEADER), header(THROUGH_HEADER)).unwrap_or_else(|e| {
        warn!(offset = message.offset(), error = %e, "hotlist record applied without its commit point");
        Tag::Plain
    })
}

/// Folds a list record into `lists`.
pub(super) fn apply_list(lists: &mut BTreeMap<String, ListMeta>, list_id: String, meta: Option<ListMeta>) {
    match meta {
        Some(meta) => lists.insert(list_id, meta),
        None => lists.remove(&list_id),
    };
}

/// Every current entry and list on the topic, and where each partition
/// ended, read on one thread per core.
pub fn load(config: &Config) -> Result<Loaded, KafkaError> {
    load_on(config, parallel::workers(config.topics.partitions.max(1) as usize))
}

/// [`load`] on `workers` threads. Entries come in partition order, each
/// partition's in the order their keys first appear, so a load of one
/// topic is always in one order, whatever the number of threads.
pub fn load_on(config: &Config, workers: usize) -> Result<Loaded, KafkaError> {
    let topic = &config.topics.hotlist;
    let (shares, offsets) =
        parallel::read_to_end_parallel(config, topic, "hotlist", workers, Share::default, Share::fold, |s| s)?;
    let ends: BTreeMap<i32, i64> = offsets
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(at) => Some((e.partition(), at)),
            _ => None,
        })
        .collect();
    let joined = Joined::new(
        shares
            .iter()
            .flat_map(|s| s.commits.iter().map(|(p, o, t)| (*p, *o, t))),
        &ends,
    );
    let replayed = std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| {
                let joined = &joined;
                scope.spawn(move || share.replay(joined))
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect::<Result<Vec<_>, _>>()
    })
    .map_err(|_| KafkaError::Topic {
        topic: topic.clone(),
        reason: "a loading thread panicked".into(),
    })?;
    let mut commits = Commits::default();
    for (list, version) in joined.versions() {
        commits.released(list, *version);
    }
    let mut stray = Vec::new();
    for (partition, end) in &ends {
        commits.reached(*partition, *end, &mut stray);
    }
    let (mut partitions, mut lists) = (Vec::new(), BTreeMap::new());
    for share in replayed {
        partitions.extend(share.entries);
        lists.extend(share.lists);
        for (partition, offset, tag, record) in share.held {
            commits.push(partition, offset, tag, (offset, record), &mut stray);
        }
    }
    partitions.sort_unstable_by_key(|(partition, _)| *partition);
    let mut entries: Vec<Arc<HotlistEntry>> = partitions.into_iter().flat_map(|(_, e)| e).collect();
    // Held records are handed over exactly as judged, so none comes back
    // out; if one did, it still applies rather than being lost.
    for (offset, record) in stray {
        match record {
            Record::List { list_id, meta } => apply_list(&mut lists, list_id, meta),
            Record::Entry { entry: Some(Ok(e)), .. } => entries.push(e),
            Record::Entry { .. } => warn!(offset, "hotlist record released out of order at start-up"),
        }
    }
    Ok(Loaded {
        entries,
        lists,
        end: Resume { offsets, commits },
    })
}

/// One loading thread's records, decoded, per partition in offset order.
#[derive(Default)]
struct Share {
    partitions: BTreeMap<i32, Vec<(i64, Tag, Record)>>,
    /// The commit records among them: `(partition, offset, tag)`.
    commits: Vec<(i32, i64, Tag)>,
}

/// A share replayed: live entries by partition, lists, and what is held.
struct Replayed {
    entries: Vec<(i32, Vec<Arc<HotlistEntry>>)>,
    lists: BTreeMap<String, ListMeta>,
    held: Vec<(i32, i64, Tag, Record)>,
}

impl Share {
    fn fold(&mut self, message: &BorrowedMessage<'_>) {
        let Some(record) = decode(message) else {
            return;
        };
        let (list, is_list) = record.list();
        let tag = tag_of(message, list, is_list);
        let (partition, offset) = (message.partition(), message.offset());
        if matches!(tag, Tag::Commit { .. }) {
            self.commits.push((partition, offset, tag.clone()));
        }
        self.partitions
            .entry(partition)
            .or_default()
            .push((offset, tag, record));
    }

    fn replay(self, joined: &Joined) -> Replayed {
        let mut out = Replayed {
            entries: Vec::with_capacity(self.partitions.len()),
            lists: BTreeMap::new(),
            held: Vec::new(),
        };
        for (partition, records) in self.partitions {
            let mut replay = joined.replay();
            // Each key's slot, in the order keys first appear: no sort needed
            // for one order per topic.
            let mut slots: HashMap<String, usize> = HashMap::with_capacity(records.len());
            let mut live: Vec<Option<Arc<HotlistEntry>>> = Vec::with_capacity(records.len());
            for (offset, tag, record) in records {
                if replay.decide(partition, offset, &tag) == Decision::Hold {
                    out.held.push((partition, offset, tag, record));
                    continue;
                }
                let (key, entry) = match record {
                    Record::List { list_id, meta } => {
                        apply_list(&mut out.lists, list_id, meta);
                        continue;
                    }
                    Record::Entry {
                        key,
                        entry: Some(Ok(entry)),
                    } => (key, Some(entry)),
                    Record::Entry { key, entry: None } => (key, None),
                    Record::Entry {
                        key,
                        entry: Some(Err(e)),
                    } => {
                        warn!(offset, error = %e, "hotlist record skipped");
                        (key, None)
                    }
                };
                match slots.get(&key) {
                    Some(&slot) => live[slot] = entry,
                    None if entry.is_some() => {
                        slots.insert(key, live.len());
                        live.push(entry);
                    }
                    None => {}
                }
            }
            out.entries.push((partition, live.into_iter().flatten().collect()));
        }
        out
    }
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
            let (partition, offset) = (message.partition(), message.offset());
            match decode(message) {
                Some(record) => {
                    let (list, is_list) = record.list();
                    let tag = tag_of(message, list, is_list);
                    commits.push(partition, offset, tag, (offset, record), &mut released);
                }
                None => commits.reached(partition, offset + 1, &mut released),
            }
        }
        let changes = released
            .into_iter()
            .filter_map(|(offset, record)| change_of(&lists, offset, record))
            .collect();
        matcher.apply(changes);
    })
}

/// The matcher change a record makes; list records update `lists` instead.
fn change_of(lists: &Lists, offset: i64, record: Record) -> Option<Change> {
    match record {
        Record::List { list_id, meta } => {
            apply_list(&mut lists.write().expect("lists lock"), list_id, meta);
            None
        }
        Record::Entry { key, entry: None } => {
            let (list_id, entry_id) = key.split_once('/')?;
            Some(Change::Remove {
                list_id: list_id.to_owned(),
                entry_id: entry_id.to_owned(),
            })
        }
        Record::Entry {
            entry: Some(Ok(entry)), ..
        } => Some(Change::Upsert(entry)),
        Record::Entry {
            entry: Some(Err(e)), ..
        } => {
            warn!(offset, error = %e, "hotlist record skipped");
            None
        }
    }
}
