//! Commit points of whole-list replacements: why a matcher never holds a
//! list half old, half new.
//!
//! An upload writes its changes to the hotlist topic in one Kafka
//! transaction, each record tagged with the list's new version, and last
//! the list's own record, which names that version and, per partition, the
//! offset of the upload's last change there (its commit point). The
//! changes land on several partitions, which a reader reaches in no fixed
//! order, so a reader holds an upload's changes until it has read the
//! list record *and* every partition past the offsets it names, then
//! releases them all at once, with every older held change of that list.
//!
//! Records without a version (written before this existed, or by another
//! producer) are released as they come, so old topics still load.
//! Compaction cannot strand a change: a change whose own list record was
//! compacted away is released by any later one of its list (versions only
//! grow), and a commit point whose last record was compacted away is
//! passed by the reader's position. Pure: no I/O, tested below.

use std::collections::BTreeMap;

/// Header of every record of an upload: the list version it makes, in
/// decimal.
pub const VERSION_HEADER: &str = "hm.list-version";
/// Header of an upload's list record: `partition:offset` of the upload's
/// last change on each partition, comma separated (empty if none).
pub const THROUGH_HEADER: &str = "hm.through";

/// Why a commit header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("list version header is not a number")]
    Version,
    #[error("commit point header is not partition:offset pairs")]
    Through,
}

/// What a record is to the commit protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tag {
    /// No version and no list: applies as it comes.
    Plain,
    /// No version, of `list`: applies as it comes, or, while an upload of
    /// the list is held back, right after it (a removal written after an
    /// upload must not be undone by the upload's release).
    After { list: String },
    /// A change of `list` made by the upload of `version`.
    Change { list: String, version: u64 },
    /// The list record of the upload of `version`: its commit point.
    Commit {
        list: String,
        version: u64,
        through: BTreeMap<i32, i64>,
    },
}

impl Tag {
    /// Reads the tag of a record of `list` (`None` if the key names no
    /// list) from its two headers; `is_list` for a list record.
    pub fn of(
        list: Option<&str>,
        is_list: bool,
        version: Option<&[u8]>,
        through: Option<&[u8]>,
    ) -> Result<Tag, CommitError> {
        let (Some(list), Some(version)) = (list, version) else {
            return Ok(list.map_or(Tag::Plain, |list| Tag::After { list: list.to_owned() }));
        };
        let version = std::str::from_utf8(version)
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or(CommitError::Version)?;
        let list = list.to_owned();
        if !is_list {
            return Ok(Tag::Change { list, version });
        }
        let through = parse_through(through.unwrap_or_default())?;
        Ok(Tag::Commit { list, version, through })
    }
}

/// Writes a commit point for [`THROUGH_HEADER`].
pub fn format_through(through: &BTreeMap<i32, i64>) -> String {
    through
        .iter()
        .map(|(partition, offset)| format!("{partition}:{offset}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_through(text: &[u8]) -> Result<BTreeMap<i32, i64>, CommitError> {
    let text = std::str::from_utf8(text).map_err(|_| CommitError::Through)?;
    text.split(',')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (partition, offset) = pair.split_once(':').ok_or(CommitError::Through)?;
            Ok((
                partition.parse().map_err(|_| CommitError::Through)?,
                offset.parse().map_err(|_| CommitError::Through)?,
            ))
        })
        .collect()
}

/// A commit read but not yet reached on every partition.
#[derive(Debug)]
struct Waiting<T> {
    list: String,
    partition: i32,
    version: u64,
    through: BTreeMap<i32, i64>,
    item: T,
}

/// The reader's side of the protocol: feed it every record in the order
/// read, take out what is released, in an order that applies correctly.
#[derive(Debug)]
pub struct Commits<T> {
    /// Next offset to read, per partition.
    positions: BTreeMap<i32, i64>,
    /// Changes of uploads not yet committed, by list, in reading order.
    held: BTreeMap<String, Vec<(u64, T)>>,
    waiting: Vec<Waiting<T>>,
    /// Partitions holding a change of an upload held back, by list.
    held_on: BTreeMap<String, std::collections::BTreeSet<i32>>,
    /// Plain records of lists with an upload held back on their partition
    /// (so read after it), to follow it.
    after: BTreeMap<String, Vec<T>>,
    /// The last version released, by list.
    versions: BTreeMap<String, u64>,
}

impl<T> Default for Commits<T> {
    fn default() -> Self {
        Commits {
            positions: BTreeMap::new(),
            held: BTreeMap::new(),
            waiting: Vec::new(),
            held_on: BTreeMap::new(),
            after: BTreeMap::new(),
            versions: BTreeMap::new(),
        }
    }
}

impl<T> Commits<T> {
    /// Takes the record at `offset` of `partition`; what it releases is
    /// pushed to `out`.
    pub fn push(&mut self, partition: i32, offset: i64, tag: Tag, item: T, out: &mut Vec<T>) {
        let position = self.positions.entry(partition).or_insert(0);
        *position = (*position).max(offset + 1);
        match tag {
            Tag::Plain => out.push(item),
            Tag::After { list } if self.is_holding(&list, partition) => self.after.entry(list).or_default().push(item),
            Tag::After { .. } => out.push(item),
            Tag::Change { list, version } if version <= self.version(&list) => out.push(item),
            Tag::Change { list, version } => {
                self.held_on.entry(list.clone()).or_default().insert(partition);
                self.held.entry(list).or_default().push((version, item));
            }
            Tag::Commit { list, version, through } => self.waiting.push(Waiting {
                list,
                partition,
                version,
                through,
                item,
            }),
        }
        self.release(out);
    }

    /// The reader is at `position` of `partition` (its end, or past
    /// records it never saw): commits waiting for it are released.
    pub fn reached(&mut self, partition: i32, position: i64, out: &mut Vec<T>) {
        let at = self.positions.entry(partition).or_insert(0);
        *at = (*at).max(position);
        self.release(out);
    }

    /// The last version of `list` released (0: none, or only plain records).
    pub fn version(&self, list: &str) -> u64 {
        self.versions.get(list).copied().unwrap_or(0)
    }

    /// Notes that the uploads of `list` up to `version` were released
    /// already, by a reader that judged the partitions' commits together
    /// ([`super::commit_join`]): a follower starting from its end.
    pub fn released(&mut self, list: &str, version: u64) {
        let at = self.versions.entry(list.to_owned()).or_insert(0);
        *at = (*at).max(version);
    }

    /// How many records are held back.
    pub fn held(&self) -> usize {
        self.held.values().map(Vec::len).sum::<usize>()
            + self.waiting.len()
            + self.after.values().map(Vec::len).sum::<usize>()
    }

    /// Whether an upload of `list` is held back with a change or its
    /// commit on `partition` (a record read there now comes after it).
    fn is_holding(&self, list: &str, partition: i32) -> bool {
        self.held_on.get(list).is_some_and(|p| p.contains(&partition))
            || self.waiting.iter().any(|w| w.list == list && w.partition == partition)
    }

    fn release(&mut self, out: &mut Vec<T>) {
        while let Some(i) = self.waiting.iter().position(|w| self.is_reached(w)) {
            let commit = self.waiting.remove(i);
            if let Some(held) = self.held.get_mut(&commit.list) {
                let (now, later): (Vec<_>, Vec<_>) = held.drain(..).partition(|(v, _)| *v <= commit.version);
                *held = later;
                out.extend(now.into_iter().map(|(_, item)| item));
                if held.is_empty() {
                    self.held.remove(&commit.list);
                    self.held_on.remove(&commit.list);
                }
            }
            out.push(commit.item);
            let holding = self.held.contains_key(&commit.list) || self.waiting.iter().any(|w| w.list == commit.list);
            if !holding {
                out.extend(self.after.remove(&commit.list).unwrap_or_default());
            }
            let version = self.versions.entry(commit.list).or_insert(0);
            *version = (*version).max(commit.version);
        }
    }

    fn is_reached(&self, commit: &Waiting<T>) -> bool {
        commit
            .through
            .iter()
            .all(|(partition, last)| self.positions.get(partition).is_some_and(|at| at > last))
    }
}

#[cfg(test)]
#[path = "commit_tests.rs"]
mod tests;
