//! The commit protocol ([`super::commit`]) for a reader that reads the
//! hotlist topic's partitions on several threads at once: why a parallel
//! start-up never holds half an upload either.
//!
//! An upload's changes may sit on partitions that different workers read,
//! and its commit point on a third, so no worker can decide alone whether
//! a change it read is committed. But a start-up reads every partition to
//! its end, and at the end the sequential reader's verdict depends on
//! nothing but where each partition ended: a commit is released when every
//! partition is past the offsets it names, and a change when a released
//! commit of its list has its version or a later one. So the load runs in
//! two passes: the workers decode their records (the costly part) and
//! report only the commit records they saw; [`Joined`] joins those with the
//! partitions' ends; then each worker replays its partitions in offset
//! order with a [`Replay`], which applies or holds each record. What is
//! held goes to the follower's [`super::commit::Commits`], exactly as the
//! sequential reader would have left it. Pure: no I/O, tested below.

use std::collections::{BTreeMap, BTreeSet};

use super::commit::Tag;

/// The commit records read on every partition, judged against where each
/// partition ended.
#[derive(Debug, Default)]
pub struct Joined {
    /// The last version released, by list.
    versions: BTreeMap<String, u64>,
    /// Commit records read but not released: `(partition, offset)`.
    waiting: BTreeSet<(i32, i64)>,
}

impl Joined {
    /// Judges the commit records read (`(partition, offset, tag)`; tags
    /// other than [`Tag::Commit`] are ignored) against `ends`, each
    /// partition's next offset once read to its end.
    pub fn new<'a>(commits: impl IntoIterator<Item = (i32, i64, &'a Tag)>, ends: &BTreeMap<i32, i64>) -> Joined {
        let mut joined = Joined::default();
        for (partition, offset, tag) in commits {
            let Tag::Commit { list, version, through } = tag else {
                continue;
            };
            let reached = through
                .iter()
                .all(|(p, last)| ends.get(p).is_some_and(|end| end > last));
            if reached {
                let at = joined.versions.entry(list.clone()).or_insert(0);
                *at = (*at).max(*version);
            } else {
                joined.waiting.insert((partition, offset));
            }
        }
        joined
    }

    /// The last version of `list` released (0: none).
    pub fn version(&self, list: &str) -> u64 {
        self.versions.get(list).copied().unwrap_or(0)
    }

    /// Every list's last released version.
    pub fn versions(&self) -> &BTreeMap<String, u64> {
        &self.versions
    }

    /// A replay of one partition's records.
    pub fn replay(&self) -> Replay<'_> {
        Replay {
            joined: self,
            blocked: BTreeSet::new(),
        }
    }
}

/// What becomes of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Applied now, in offset order.
    Apply,
    /// Held for the follower: its upload is not committed yet, or it comes
    /// after such an upload's change on its partition.
    Hold,
}

/// One partition's records judged in offset order.
#[derive(Debug)]
pub struct Replay<'a> {
    joined: &'a Joined,
    /// Lists with a record held earlier on this partition.
    blocked: BTreeSet<String>,
}

impl Replay<'_> {
    /// Decides the record at `offset` of `partition`, tagged `tag`; call in
    /// offset order, one replay per partition.
    pub fn decide(&mut self, partition: i32, offset: i64, tag: &Tag) -> Decision {
        let held = match tag {
            Tag::Plain => false,
            Tag::After { list } => self.blocked.contains(list),
            Tag::Change { list, version } => *version > self.joined.version(list),
            Tag::Commit { .. } => self.joined.waiting.contains(&(partition, offset)),
        };
        if !held {
            return Decision::Apply;
        }
        if let Tag::After { list } | Tag::Change { list, .. } | Tag::Commit { list, .. } = tag {
            self.blocked.insert(list.clone());
        }
        Decision::Hold
    }
}

#[cfg(test)]
#[path = "commit_join_tests.rs"]
mod tests;
