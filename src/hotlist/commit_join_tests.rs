//! The joined commit protocol, checked against the sequential reader.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::hotlist::commit::Commits;

fn change(list: &str, version: u64) -> Tag {
    Tag::Change {
        list: list.into(),
        version,
    }
}

fn commit(list: &str, version: u64, through: &[(i32, i64)]) -> Tag {
    Tag::Commit {
        list: list.into(),
        version,
        through: through.iter().copied().collect(),
    }
}

fn after(list: &str) -> Tag {
    Tag::After { list: list.into() }
}

type Record = (i32, i64, Tag, &'static str);

/// What the parallel load applies and holds: each partition replayed on
/// its own (as its worker would), after the commits are joined.
fn joined(records: &[Record], ends: &BTreeMap<i32, i64>) -> (BTreeSet<&'static str>, Vec<&'static str>) {
    let joined = Joined::new(records.iter().map(|(p, o, t, _)| (*p, *o, t)), ends);
    let (mut applied, mut held) = (BTreeSet::new(), Vec::new());
    let partitions: BTreeSet<i32> = records.iter().map(|r| r.0).collect();
    for partition in partitions {
        let mut mine: Vec<&Record> = records.iter().filter(|r| r.0 == partition).collect();
        mine.sort_by_key(|r| r.1);
        let mut replay = joined.replay();
        for (p, offset, tag, name) in mine {
            match replay.decide(*p, *offset, tag) {
                Decision::Apply => applied.insert(*name),
                Decision::Hold => {
                    held.push(*name);
                    true
                }
            };
        }
    }
    (applied, held)
}

/// What the sequential reader applies and holds, reading in `records`' order.
fn sequential(records: &[Record], ends: &BTreeMap<i32, i64>) -> (BTreeSet<&'static str>, usize) {
    let mut commits = Commits::default();
    let mut out = Vec::new();
    for (partition, offset, tag, name) in records {
        commits.push(*partition, *offset, tag.clone(), *name, &mut out);
    }
    for (partition, end) in ends {
        commits.reached(*partition, *end, &mut out);
    }
    (out.into_iter().collect(), commits.held())
}

fn agree(records: &[Record], ends: &[(i32, i64)]) -> (BTreeSet<&'static str>, Vec<&'static str>) {
    let ends: BTreeMap<i32, i64> = ends.iter().copied().collect();
    let (applied, held) = joined(records, &ends);
    let (expected, expected_held) = sequential(records, &ends);
    assert_eq!(applied, expected, "applied");
    assert_eq!(held.len(), expected_held, "held");
    (applied, held)
}

#[test]
fn a_held_upload_spanning_two_workers_partitions_is_applied_whole_or_not_at_all() {
    // Worker A reads partition 0, worker B partitions 1 and 2; the upload
    // of L version 1 changed one key on 0 and one on 1, its commit on 2.
    let records = [
        (0, 5, change("L", 1), "k0"),
        (1, 3, change("L", 1), "k1"),
        (2, 0, commit("L", 1, &[(0, 5), (1, 3)]), "meta"),
    ];
    let (applied, held) = agree(&records, &[(0, 6), (1, 4), (2, 1)]);
    assert_eq!(applied, BTreeSet::from(["k0", "k1", "meta"]));
    assert!(held.is_empty());
    // Partition 1 ended (an open transaction's start) before the change:
    // worker A, which read its own change whole, holds it all the same.
    let records = [
        (0, 5, change("L", 1), "k0"),
        (2, 0, commit("L", 1, &[(0, 5), (1, 3)]), "meta"),
    ];
    let (applied, held) = agree(&records, &[(0, 6), (1, 3), (2, 1)]);
    assert!(applied.is_empty());
    assert_eq!(held, ["k0", "meta"]);
}

#[test]
fn the_sequential_reader_s_scenarios_end_alike() {
    // From commit_tests.rs, each read to its end.
    agree(
        &[
            (0, 10, change("L", 1), "p0"),
            (2, 5, commit("L", 1, &[(0, 10), (1, 7)]), "meta"),
            (1, 7, change("L", 1), "p1"),
        ],
        &[(0, 11), (1, 8), (2, 6)],
    );
    agree(
        &[
            (0, 1, change("L", 1), "v1"),
            (0, 2, change("L", 2), "v2"),
            (1, 0, commit("L", 1, &[(0, 1)]), "meta1"),
            (1, 1, commit("L", 2, &[(0, 2)]), "meta2"),
        ],
        &[(0, 3), (1, 2)],
    );
    let (applied, held) = agree(
        &[
            (0, 0, change("L", 3), "old"),
            (1, 0, change("M", 1), "other list"),
            (2, 9, commit("L", 5, &[]), "meta5"),
            (0, 1, change("L", 4), "straggler"),
        ],
        &[(0, 2), (1, 1), (2, 10)],
    );
    assert_eq!(held, ["other list"]);
    assert!(applied.contains("straggler"));
    agree(
        &[(1, 3, commit("L", 1, &[(0, 40)])), (0, 12, change("L", 1))].map(|(p, o, t)| (p, o, t, "x")),
        &[(0, 41), (1, 4)],
    );
}

#[test]
fn a_plain_record_after_a_held_upload_on_its_partition_is_held_after_it() {
    let records = [
        (0, 0, change("L", 2), "upload"),
        (0, 1, after("L"), "tombstone"),
        (1, 0, after("L"), "list tombstone, before the commit"),
        (2, 0, after("L"), "elsewhere"),
        (1, 1, commit("L", 2, &[(0, 0), (3, 0)]), "commit"),
    ];
    // Partition 3 ended before the upload's change there: nothing of it applies.
    let (applied, held) = agree(&records, &[(0, 2), (1, 2), (2, 1), (3, 0)]);
    assert_eq!(
        applied,
        BTreeSet::from(["list tombstone, before the commit", "elsewhere"])
    );
    assert_eq!(held, ["upload", "tombstone", "commit"]);
    // Read further, everything applies.
    let (applied, held) = agree(&records, &[(0, 2), (1, 2), (2, 1), (3, 1)]);
    assert_eq!(applied.len(), 5);
    assert!(held.is_empty());
}

#[test]
fn held_records_handed_to_the_follower_are_released_at_their_commit_point() {
    let records = [
        (0, 0, change("L", 1), "done"),
        (1, 0, commit("L", 1, &[(0, 0)]), "meta1"),
        (0, 1, change("L", 2), "k0"),
        (0, 2, after("L"), "removal after it"),
        (1, 1, commit("L", 2, &[(0, 1), (2, 0)]), "meta2"),
    ];
    let ends = BTreeMap::from([(0, 3), (1, 2), (2, 0)]);
    let joined_ = Joined::new(records.iter().map(|(p, o, t, _)| (*p, *o, t)), &ends);
    let mut follower = Commits::default();
    for (list, version) in joined_.versions() {
        follower.released(list, *version);
    }
    for (partition, end) in &ends {
        follower.reached(*partition, *end, &mut Vec::new());
    }
    let mut out = Vec::new();
    for partition in [0, 1] {
        let mut replay = joined_.replay();
        for (p, offset, tag, name) in records.iter().filter(|r| r.0 == partition) {
            if replay.decide(*p, *offset, tag) == Decision::Hold {
                follower.push(*p, *offset, tag.clone(), *name, &mut out);
            }
        }
    }
    assert!(out.is_empty(), "nothing held is released by the hand-over");
    assert_eq!(follower.held(), 3);
    assert_eq!(follower.version("L"), 1);
    // The follower reads partition 2's change: the upload applies whole,
    // the removal after it.
    follower.push(2, 0, change("L", 2), "k2", &mut out);
    assert_eq!(out, ["k0", "k2", "meta2", "removal after it"]);
    assert_eq!(follower.held(), 0);
}
