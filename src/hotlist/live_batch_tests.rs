//! `find_batch` against `find`: the batched path (one view per batch, the
//! base level's lookups overlapped across queries) must give every query
//! exactly the hits, in exactly the order, that `find` gives it alone.

use super::*;
use crate::hotlist::{Category, EntryPlate, Pattern, RegionRule, Tolerance};
use crate::normalize::{normalize, normalize_region, Plate};
use proptest::prelude::*;

/// Every tolerance by list, budgets on the default lists, states, patterns
/// and entries already expired.
fn list_entry(i: usize, list: u8, plate: &Plate, region: u8, pattern: bool, expired: bool) -> Arc<HotlistEntry> {
    let lists = ["exact", "ocr", "ends", "fuzzy", "half", "stolen", "amber"];
    let list = lists[usize::from(list) % lists.len()];
    let mut text = plate.as_str().to_owned();
    text.replace_range(1..2, "?");
    // A pattern too vague to be one (a short plate) stays a plate.
    let plate = match Pattern::parse(&text) {
        Ok(p) if pattern => EntryPlate::Pattern(p),
        _ => EntryPlate::Plate(*plate),
    };
    Arc::new(HotlistEntry {
        entry_id: format!("e{i}"),
        list_id: list.into(),
        plate,
        region: [None, Some("CA"), Some("NV")][usize::from(region) % 3].map(|r| normalize_region(r).unwrap()),
        category: if list == "amber" {
            Category::Amber
        } else {
            Category::StolenVehicle
        },
        priority: (i % 3) as u8,
        description: String::new(),
        expires_at: expired.then(|| "2001-01-01T00:00:00Z".parse().unwrap()),
        effective_at: None,
        details: Default::default(),
    })
}

fn policy(reject: bool) -> TolerancePolicy {
    let by_list = [
        ("exact", Tolerance::Exact),
        ("ocr", Tolerance::OcrEquivalent),
        ("ends", Tolerance::Ends),
        ("fuzzy", Tolerance::Fuzzy { max_cost: 1.0 }),
        ("half", Tolerance::Fuzzy { max_cost: 0.5 }),
    ];
    TolerancePolicy {
        by_list: by_list.iter().map(|(l, t)| (l.to_string(), *t)).collect(),
        region: if reject {
            RegionRule::Reject
        } else {
            RegionRule::Penalize
        },
        ..TolerancePolicy::default()
    }
}

fn plate_strategy() -> impl Strategy<Value = Plate> {
    proptest::collection::vec(proptest::sample::select(b"AB08OD1IZ2SK".to_vec()), 3..=8)
        .prop_map(|bytes| normalize(std::str::from_utf8(&bytes).unwrap()).unwrap())
}

/// (index, list, plate, region, pattern, expired)
fn entry_strategy() -> impl Strategy<Value = (usize, u8, Plate, u8, bool, bool)> {
    (
        0usize..80,
        0u8..7,
        plate_strategy(),
        0u8..3,
        proptest::bool::weighted(0.1),
        proptest::bool::weighted(0.1),
    )
}

fn read_strategy() -> impl Strategy<Value = (Plate, u8, Vec<(Plate, Option<f32>)>)> {
    (
        plate_strategy(),
        0u8..3,
        proptest::collection::vec((plate_strategy(), proptest::option::of(0.0f32..1.0)), 0..3),
    )
}

/// Everything a hit says, comparable.
fn seen(hit: &Hit) -> String {
    format!(
        "{}/{} {:?} {} {} {} {:?} {} {} {:?}",
        hit.entry.list_id,
        hit.entry.entry_id,
        hit.kind,
        hit.score.to_bits(),
        hit.distance.to_bits(),
        hit.differing,
        hit.candidate,
        hit.region_mismatch,
        hit.probability.to_bits(),
        hit.tier
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn find_batch_gives_each_query_exactly_what_find_gives_it(
        base in proptest::collection::vec(entry_strategy(), 0..60),
        batches in proptest::collection::vec(
            proptest::collection::vec((entry_strategy(), proptest::bool::weighted(0.2)), 1..12),
            0..4,
        ),
        reads in proptest::collection::vec(read_strategy(), 1..40),
        reject in proptest::bool::ANY,
    ) {
        let make = |&(i, list, plate, region, pattern, expired): &(usize, u8, Plate, u8, bool, bool)| {
            list_entry(i, list, &plate, region, pattern, expired)
        };
        let mut unique = std::collections::BTreeMap::new();
        for e in &base {
            unique.insert((e.0, e.1 % 7), make(e));
        }
        let matcher = Arc::new(LiveMatcher::new(unique.into_values().collect(), policy(reject)));
        for batch in &batches {
            let changes = batch
                .iter()
                .map(|(e, remove)| {
                    let entry = make(e);
                    if *remove {
                        Change::Remove { list_id: entry.list_id.clone(), entry_id: entry.entry_id.clone() }
                    } else {
                        Change::Upsert(entry)
                    }
                })
                .collect();
            matcher.apply(changes);
        }
        prop_assert_eq!(matcher.levels() > 1, !batches.is_empty(), "levels above the base");
        let mut queries = QueryBatch::default();
        for (plate, region, candidates) in &reads {
            queries.push(*plate, [None, Some("CA"), Some("NV")][usize::from(*region)].map(|r| normalize_region(r).unwrap()));
            for (candidate, confidence) in candidates {
                queries.push_candidate(*candidate, *confidence);
            }
        }
        let mut hits = Vec::new();
        let mut ends = Vec::new();
        matcher.find_batch(&queries, &mut hits, &mut ends);
        prop_assert_eq!(ends.len(), queries.len());
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            let mut alone = Vec::new();
            matcher.find(&queries.get(i), &mut alone);
            let batched: Vec<String> = hits[start..end].iter().map(seen).collect();
            let want: Vec<String> = alone.iter().map(seen).collect();
            prop_assert_eq!(batched, want, "query {}", i);
            start = end;
        }
        prop_assert_eq!(start, hits.len());
    }
}

/// The batch keeps each read's candidates apart, without the read's own
/// plate or repeats, as the pipeline gave them before batching.
#[test]
fn a_query_batch_keeps_each_reads_distinct_candidates() {
    let p = |s: &str| normalize(s).unwrap();
    let mut queries = QueryBatch::default();
    queries.push(p("7ABC123"), None);
    queries.push_candidate(p("7ABC123"), Some(0.9));
    queries.push_candidate(p("7A8C123"), Some(0.6));
    queries.push_candidate(p("7A8C123"), Some(0.5));
    queries.push(p("4GET1T5"), None);
    queries.push(p("8KXA4B7"), None);
    queries.push_candidate(p("7A8C123"), None);
    let got: Vec<Vec<(String, Option<f32>)>> = (0..queries.len())
        .map(|i| {
            queries
                .get(i)
                .candidates
                .iter()
                .map(|(c, f)| (c.to_string(), *f))
                .collect()
        })
        .collect();
    assert_eq!(
        got,
        vec![
            vec![("7A8C123".to_string(), Some(0.6))],
            vec![],
            vec![("7A8C123".to_string(), None)]
        ]
    );
    queries.clear();
    assert!(queries.is_empty());
}

/// Two reads of one batch that hold the same witness fragment each get
/// their hit on it (the demo lost the second when a pattern's "already
/// hit" check looked at the whole batch's hits, not the read's own).
#[test]
fn every_read_of_a_batch_hits_a_pattern_an_earlier_read_of_it_hit() {
    let p = |s: &str| normalize(s).unwrap();
    let witness = Arc::new(HotlistEntry {
        entry_id: "WIT-00002".into(),
        list_id: "rso-witness".into(),
        plate: EntryPlate::Pattern(Pattern::parse("*JRZ5*").unwrap()),
        region: None,
        category: Category::Amber,
        priority: 0,
        description: String::new(),
        expires_at: None,
        effective_at: None,
        details: Default::default(),
    });
    let plate = Arc::new(HotlistEntry {
        entry_id: "e1".into(),
        list_id: "stolen".into(),
        plate: EntryPlate::Plate(p("7ABC123")),
        ..(*witness).clone()
    });
    let matcher = LiveMatcher::new(vec![witness, plate], TolerancePolicy::default());
    let mut queries = QueryBatch::default();
    for read in ["BKJRZ5ZV", "7ABC123", "HXJRZ5PJ", "MRJRZ5B"] {
        queries.push(p(read), None);
    }
    let (mut hits, mut ends) = (Vec::new(), Vec::new());
    matcher.find_batch(&queries, &mut hits, &mut ends);
    assert_eq!(ends, vec![1, 2, 3, 4]);
    let ids: Vec<&str> = hits.iter().map(|h| h.entry.entry_id.as_str()).collect();
    assert_eq!(ids, vec!["WIT-00002", "e1", "WIT-00002", "WIT-00002"]);
    assert_eq!(hits[2].kind, crate::hotlist::MatchKind::Partial);
}
