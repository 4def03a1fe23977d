//! The commit protocol's reader, checked without a broker.

use std::collections::BTreeMap;

use super::*;

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

#[test]
fn plain_records_pass_at_once() {
    let mut commits = Commits::default();
    let mut out = Vec::new();
    commits.push(0, 0, Tag::Plain, "a", &mut out);
    commits.push(1, 0, Tag::Plain, "b", &mut out);
    assert_eq!(out, ["a", "b"]);
    assert_eq!(commits.held(), 0);
}

#[test]
fn an_upload_is_released_only_once_every_partition_is_past_its_commit_point() {
    let mut commits = Commits::default();
    let mut out = Vec::new();
    commits.push(0, 10, change("L", 1), "p0", &mut out);
    // The list record is read before partition 1's change.
    commits.push(2, 5, commit("L", 1, &[(0, 10), (1, 7)]), "meta", &mut out);
    assert!(out.is_empty());
    assert_eq!(commits.held(), 2);
    commits.push(1, 7, change("L", 1), "p1", &mut out);
    assert_eq!(out, ["p0", "p1", "meta"]);
    assert_eq!(commits.version("L"), 1);
    assert_eq!(commits.held(), 0);
}

#[test]
fn a_later_upload_read_early_is_not_released_by_an_earlier_commit() {
    let mut commits = Commits::default();
    let mut out = Vec::new();
    commits.push(0, 1, change("L", 1), "v1", &mut out);
    commits.push(0, 2, change("L", 2), "v2", &mut out);
    commits.push(1, 0, commit("L", 1, &[(0, 1)]), "meta1", &mut out);
    assert_eq!(out, ["v1", "meta1"]);
    out.clear();
    commits.push(1, 1, commit("L", 2, &[(0, 2)]), "meta2", &mut out);
    assert_eq!(out, ["v2", "meta2"]);
}

#[test]
fn an_aborted_upload_is_never_released_but_a_later_commit_of_its_list_releases_stragglers() {
    // Changes whose list record was compacted away (an older version)
    // go with the next commit of the list.
    let mut commits = Commits::default();
    let mut out = Vec::new();
    commits.push(0, 0, change("L", 3), "old", &mut out);
    commits.push(1, 0, change("M", 1), "other list", &mut out);
    assert!(out.is_empty());
    commits.push(2, 9, commit("L", 5, &[]), "meta5", &mut out);
    assert_eq!(out, ["old", "meta5"]);
    assert_eq!(commits.held(), 1, "list M's change waits for its own commit");
    out.clear();
    commits.push(0, 1, change("L", 4), "straggler", &mut out);
    assert_eq!(out, ["straggler"]);
}

#[test]
fn the_reader_s_position_passes_a_commit_point_whose_record_was_compacted_away() {
    let mut commits = Commits::default();
    let mut out = Vec::new();
    commits.push(1, 3, commit("L", 1, &[(0, 40)]), "meta", &mut out);
    commits.push(0, 12, change("L", 1), "kept", &mut out);
    assert!(out.is_empty());
    commits.reached(0, 41, &mut out);
    assert_eq!(out, ["kept", "meta"]);
}

#[test]
fn headers_are_read_and_refused_exactly() {
    let through = BTreeMap::from([(0, 12), (5, 7)]);
    let text = format_through(&through);
    assert_eq!(text, "0:12,5:7");
    assert_eq!(
        Tag::of(Some("L"), true, Some(b"4"), Some(text.as_bytes())),
        Ok(Tag::Commit {
            list: "L".into(),
            version: 4,
            through
        })
    );
    assert_eq!(Tag::of(Some("L"), true, Some(b"4"), Some(b"")), Ok(commit("L", 4, &[])));
    assert_eq!(Tag::of(Some("L"), false, Some(b"2"), None), Ok(change("L", 2)));
    assert_eq!(
        Tag::of(Some("L"), false, None, None),
        Ok(Tag::After { list: "L".into() })
    );
    assert_eq!(Tag::of(None, false, Some(b"2"), None), Ok(Tag::Plain));
    assert_eq!(Tag::of(Some("L"), false, Some(b"x"), None), Err(CommitError::Version));
    assert_eq!(Tag::of(Some("L"), false, Some(b"-1"), None), Err(CommitError::Version));
    for bad in [&b"0"[..], b"0:x", b"a:1", b"0:1,,:", b"\xff"] {
        assert_eq!(
            Tag::of(Some("L"), true, Some(b"1"), Some(bad)),
            Err(CommitError::Through),
            "{bad:?}"
        );
    }
}

#[test]
fn a_plain_record_of_a_list_whose_upload_is_held_follows_the_upload() {
    let mut commits = Commits::default();
    let mut out = Vec::new();
    let change = |v| Tag::Change {
        list: "L".into(),
        version: v,
    };
    let after = || Tag::After { list: "L".into() };
    // The upload's change, then a removal's tombstone of it, on partition 0;
    // the upload's commit on partition 1, read last.
    commits.push(0, 0, change(1), "upload", &mut out);
    commits.push(0, 1, after(), "tombstone", &mut out);
    commits.push(1, 0, after(), "list tombstone, read before the commit", &mut out);
    commits.push(2, 0, after(), "elsewhere, read before: applies at once", &mut out);
    assert_eq!(
        out,
        [
            "list tombstone, read before the commit",
            "elsewhere, read before: applies at once"
        ]
    );
    out.clear();
    let through = BTreeMap::from([(0, 0)]);
    commits.push(
        1,
        1,
        Tag::Commit {
            list: "L".into(),
            version: 1,
            through,
        },
        "commit",
        &mut out,
    );
    commits.push(1, 2, after(), "list tombstone", &mut out);
    assert_eq!(out, ["upload", "commit", "tombstone", "list tombstone"]);
    assert_eq!(commits.held(), 0);
    // Nothing held: a plain record of the list applies at once.
    commits.push(0, 2, after(), "now", &mut out);
    assert_eq!(out.last(), Some(&"now"));
}
