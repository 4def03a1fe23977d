use super::*;
use crate::hotlist::budget::Census;
use crate::hotlist::confusion::{canonical_byte, compare};
use crate::hotlist::index::{is_end_edit, match_kind};
use crate::hotlist::{Category, MatchKind, Pattern, Tier, Tolerance};
use crate::hotlist::{EntryPlate, RegionRule};
use crate::normalize::{normalize, normalize_region, Plate};
use proptest::prelude::*;
use std::collections::BTreeSet;

const FUZZY: Tolerance = Tolerance::Fuzzy { max_cost: 1.0 };

fn entry(id: &str, list: &str, plate: &str, category: Category, region: Option<&str>) -> Arc<HotlistEntry> {
    let plate = if Pattern::is_pattern(plate) {
        EntryPlate::Pattern(Pattern::parse(plate).unwrap())
    } else {
        EntryPlate::Plate(normalize(plate).unwrap())
    };
    Arc::new(HotlistEntry {
        entry_id: id.into(),
        list_id: list.into(),
        plate,
        region: region.map(|r| normalize_region(r).unwrap()),
        category,
        priority: 1,
        description: String::new(),
        expires_at: None,
        effective_at: None,
        details: Default::default(),
    })
}

fn find(matcher: &LiveMatcher, read: &str, region: Option<&str>) -> Vec<(String, MatchKind)> {
    find_with(matcher, read, region, &[])
}

fn find_with(
    matcher: &LiveMatcher,
    read: &str,
    region: Option<&str>,
    candidates: &[(&str, f32)],
) -> Vec<(String, MatchKind)> {
    let candidates: Vec<_> = candidates
        .iter()
        .map(|(p, c)| (normalize(p).unwrap(), Some(*c)))
        .collect();
    let query = Query {
        plate: normalize(read).unwrap(),
        region: region.map(|r| normalize_region(r).unwrap()),
        candidates: &candidates,
    };
    let mut hits = Vec::new();
    matcher.find(&query, &mut hits);
    hits.iter().map(|h| (h.entry.entry_id.clone(), h.kind)).collect()
}

fn sample_matcher() -> Arc<LiveMatcher> {
    Arc::new(LiveMatcher::new(
        vec![
            entry("stolen", "ncic", "7ABC123", Category::StolenVehicle, Some("CA")),
            entry("amber", "amber", "4GET1T5", Category::Amber, None),
            entry("wild", "witness", "8KX?4?7", Category::Bolo, None),
            entry("part", "witness", "*JRZ5*", Category::Amber, None),
        ],
        TolerancePolicy::default(),
    ))
}

#[test]
fn each_kind_of_match_is_reported_as_such() {
    let m = sample_matcher();
    let hit = |id: &str, kind| vec![(id.to_string(), kind)];
    assert_eq!(find(&m, "7ABC123", Some("CA")), hit("stolen", MatchKind::Exact));
    assert_eq!(find(&m, "7A8C1Z3", Some("CA")), hit("stolen", MatchKind::OcrEquivalent));
    // A one-entry stolen-vehicle list affords an end edit within its
    // budget, but only for reads of its state.
    assert_eq!(find(&m, "7ABC12", Some("CA")), hit("stolen", MatchKind::Fuzzy));
    assert_eq!(find(&m, "7ABC12", Some("NV")), vec![]);
    // A different state is flagged by default (a possible match), not rejected.
    assert_eq!(find(&m, "7ABC123", Some("NV")), hit("stolen", MatchKind::Exact));
    // The AMBER list is fuzzy: a dropped character, a substitution, a swap.
    assert_eq!(find(&m, "4GETT5", None), hit("amber", MatchKind::Fuzzy));
    assert_eq!(find(&m, "4GEXIT5", None), hit("amber", MatchKind::Fuzzy));
    assert_eq!(find(&m, "4GTE1T5", None), hit("amber", MatchKind::Fuzzy));
    assert_eq!(find(&m, "4GXTXT5", None), vec![], "two edits are too far");
    assert_eq!(find(&m, "8KX943 7", None), hit("wild", MatchKind::Wildcard));
    assert_eq!(find(&m, "8KX94317", None), vec![], "? is exactly one character");
    assert_eq!(find(&m, "1JRZ5AB", None), hit("part", MatchKind::Partial));
    assert_eq!(
        find(&m, "IJR25", None),
        hit("part", MatchKind::Partial),
        "patterns are OCR-aware"
    );
}

#[test]
fn hits_carry_score_distance_and_the_differing_positions() {
    let m = sample_matcher();
    let query = Query {
        plate: normalize("4GEXIT5").unwrap(),
        region: None,
        candidates: &[],
    };
    let mut hits = Vec::new();
    m.find(&query, &mut hits);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].distance, 1.0);
    assert_eq!(hits[0].positions(), vec![3, 4], "X inserted at 3, I read for 1 at 4");
    assert!((hits[0].score - 0.47).abs() < 1e-6, "{}", hits[0].score);
}

#[test]
fn several_hits_come_best_first_then_most_urgent() {
    let m = LiveMatcher::new(
        vec![
            entry("near", "bolo", "ABC1234", Category::Bolo, None),
            entry("same", "amber", "ABC1235", Category::Amber, None),
            entry("same-low", "other", "ABC1235", Category::Other, None),
        ],
        TolerancePolicy::default(),
    );
    let ids: Vec<_> = find(&m, "ABC1235", None).into_iter().map(|(id, _)| id).collect();
    // "near", one digit off, is explained away by the exact entries.
    assert_eq!(ids, ["same", "same-low"]);
}

#[test]
fn ocr_candidates_match_exactly_and_record_which_one() {
    let m = sample_matcher();
    assert_eq!(
        find_with(&m, "7AXC128", Some("CA"), &[("7ABC123", 0.4)]),
        vec![("stolen".to_string(), MatchKind::Exact)]
    );
    let query = Query {
        plate: normalize("7ABC128").unwrap(),
        region: None,
        candidates: &[(normalize("7ABC123").unwrap(), Some(0.4))],
    };
    let mut hits = Vec::new();
    m.find(&query, &mut hits);
    let candidate = hits[0].candidate.expect("the candidate matched");
    assert_eq!((candidate.index, candidate.confidence), (0, Some(0.4)));
    assert!((hits[0].score - 0.4).abs() < 1e-6);
    // Candidates never match fuzzily.
    assert_eq!(find_with(&m, "XXXXXXX", None, &[("4GETT5", 0.9)]), vec![]);
}

#[test]
fn a_region_mismatch_can_be_penalized_instead_of_rejected() {
    let policy = TolerancePolicy {
        region: RegionRule::Penalize,
        ..TolerancePolicy::default()
    };
    let m = LiveMatcher::new(
        vec![entry("stolen", "ncic", "7ABC123", Category::StolenVehicle, Some("CA"))],
        policy,
    );
    let query = Query {
        plate: normalize("7ABC123").unwrap(),
        region: Some(normalize_region("NV").unwrap()),
        candidates: &[],
    };
    let mut hits = Vec::new();
    m.find(&query, &mut hits);
    assert_eq!(hits.len(), 1);
    assert!(hits[0].region_mismatch);
    assert_eq!(hits[0].score, 0.5);
    assert_eq!(hits[0].tier, Tier::PossibleMatch, "another state is always to verify");
}

#[test]
fn live_additions_are_budgeted_as_the_whole_list_until_a_rebuild_counts_them() {
    let m = Arc::new(LiveMatcher::new(
        vec![entry("a", "ncic", "7ABC123", Category::StolenVehicle, Some("CA"))],
        TolerancePolicy::default(),
    ));
    // A new plate in a new cell (Texas): fuzzy, as a two-entry list affords.
    m.upsert(entry("b", "ncic", "ABC1234", Category::StolenVehicle, Some("TX")));
    assert_eq!(
        find(&m, "ABC1284", Some("TX")),
        vec![("b".to_string(), MatchKind::Fuzzy)]
    );
    m.fold_now();
    let fresh = LiveMatcher::new(m.entries(), TolerancePolicy::default());
    for read in ["ABC1284", "ABC123", "XABC1234", "7ABC12", "7A8C123"] {
        for state in ["TX", "CA"] {
            assert_eq!(find(&m, read, Some(state)), find(&fresh, read, Some(state)), "{state}");
        }
    }
}

#[test]
fn a_read_of_one_listed_plate_explains_away_its_listed_neighbours() {
    let m = LiveMatcher::new(
        vec![
            entry("e0", "rso", "8WH000", Category::StolenVehicle, Some("CA")),
            entry("e1", "rso", "8WH100", Category::StolenVehicle, Some("CA")),
        ],
        TolerancePolicy::default(),
    );
    assert_eq!(
        find(&m, "8WH000", Some("CA")),
        vec![("e0".to_string(), MatchKind::Exact)]
    );
    let ids = |read: &str| -> BTreeSet<String> { find(&m, read, Some("CA")).into_iter().map(|(id, _)| id).collect() };
    assert_eq!(
        ids("8WH0O0"),
        BTreeSet::from(["e0".into()]),
        "O is a look-alike of 0, not of 1"
    );
    // A read both explain about as well (8WH000 cut at its end, 8WH100
    // with its 1 dropped) leaves both.
    assert_eq!(ids("8WH00"), BTreeSet::from(["e0".into(), "e1".into()]));
}

#[test]
fn hits_carry_a_probability_and_a_tier() {
    let m = LiveMatcher::new(
        vec![entry("tx", "ncic", "ABC1234", Category::StolenVehicle, Some("TX"))],
        TolerancePolicy::default(),
    );
    let hits = |read: &str| {
        let query = Query {
            plate: normalize(read).unwrap(),
            region: Some(normalize_region("TX").unwrap()),
            candidates: &[],
        };
        let mut hits = Vec::new();
        m.find(&query, &mut hits);
        hits.iter().map(|h| (h.tier, h.probability)).collect::<Vec<_>>()
    };
    let clean = hits("ABC1234");
    assert_eq!(clean.len(), 1);
    assert_eq!(clean[0].0, Tier::Hit);
    assert!(clean[0].1 > 0.95, "{}", clean[0].1);
    // The last digit cut: ten plates explain the read, so it is only possible.
    let cut = hits("ABC123");
    assert_eq!(cut.len(), 1);
    assert_eq!(cut[0].0, Tier::PossibleMatch);
    assert!(cut[0].1 < 0.5, "{}", cut[0].1);
    // A B read as 8 in a letter position: the format says it is a B.
    let resolved = hits("A8C1234");
    assert_eq!(resolved[0].0, Tier::Hit, "{}", resolved[0].1);
}

#[test]
fn live_changes_are_visible_to_the_next_read_and_survive_a_rebuild() {
    let m = sample_matcher();
    m.upsert(entry("new", "amber", "9XYZ321", Category::Amber, None));
    assert_eq!(find(&m, "9XYZ321", None), vec![("new".to_string(), MatchKind::Exact)]);
    assert_eq!(find(&m, "9XYZ32", None), vec![("new".to_string(), MatchKind::Fuzzy)]);
    m.remove("ncic", "stolen");
    assert_eq!(find(&m, "7ABC123", Some("CA")), vec![]);
    // Replacing an entry moves it to its new plate.
    m.upsert(entry("amber", "amber", "5LOW123", Category::Amber, None));
    assert_eq!(find(&m, "4GET1T5", None), vec![]);
    assert_eq!(find(&m, "5LOW123", None), vec![("amber".to_string(), MatchKind::Exact)]);
    assert_eq!(m.len(), 4);
    m.fold_now();
    assert_eq!(m.levels(), 1, "everything folded into the base");
    assert_eq!(find(&m, "9XYZ321", None), vec![("new".to_string(), MatchKind::Exact)]);
    assert_eq!(find(&m, "7ABC123", Some("CA")), vec![]);
    assert_eq!(m.len(), 4);
}

#[test]
fn an_entry_stops_matching_at_its_expiry() {
    use std::sync::atomic::AtomicU64;
    let expires = chrono::DateTime::parse_from_rfc3339("2026-11-27T18:00:00Z")
        .unwrap()
        .to_utc();
    let mut officer = (*entry("oe1", "officer", "9TEMP12", Category::OfficerEntered, None)).clone();
    officer.expires_at = Some(expires);
    let now = Arc::new(AtomicU64::new(expires.timestamp() as u64 - 60));
    let clock: crate::Clock = {
        let now = Arc::clone(&now);
        Arc::new(move || std::time::UNIX_EPOCH + std::time::Duration::from_secs(now.load(Ordering::Relaxed)))
    };
    let m = LiveMatcher::new(vec![Arc::new(officer)], TolerancePolicy::default()).with_clock(clock);
    assert_eq!(find(&m, "9TEMP12", None), vec![("oe1".to_string(), MatchKind::Exact)]);
    now.store(expires.timestamp() as u64 - 1, Ordering::Relaxed);
    assert_eq!(find(&m, "9TEMP12", None).len(), 1, "one second before");
    now.store(expires.timestamp() as u64, Ordering::Relaxed);
    assert_eq!(find(&m, "9TEMP12", None), vec![], "at its expiry, without a new upload");
}

#[test]
fn readers_keep_matching_while_a_writer_changes_the_list() {
    let m = sample_matcher();
    let reader = {
        let m = Arc::clone(&m);
        std::thread::spawn(move || {
            (0..20_000)
                .filter(|_| find(&m, "7ABC123", Some("CA")) == vec![("stolen".to_string(), MatchKind::Exact)])
                .count()
        })
    };
    for i in 0..200 {
        m.upsert(entry(
            &format!("e{i}"),
            "ncic",
            &format!("ZZ{i:04}"),
            Category::StolenVehicle,
            None,
        ));
    }
    assert_eq!(
        reader.join().unwrap(),
        20_000,
        "the untouched entry matched on every read"
    );
    // 200 plates one edit apart: the list's budget allows no edit there.
    assert_eq!(find(&m, "ZZ0199", None), vec![("e199".to_string(), MatchKind::Exact)]);
}

/// Unit-cost optimal string alignment distance between canonical forms.
fn canonical_osa(a: &[u8], b: &[u8]) -> usize {
    let a: Vec<u8> = a.iter().map(|&c| canonical_byte(c)).collect();
    let b: Vec<u8> = b.iter().map(|&c| canonical_byte(c)).collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// Plates over a small alphabet full of OCR classes, so neighbours abound.
fn plate_strategy() -> impl Strategy<Value = Plate> {
    proptest::collection::vec(proptest::sample::select(b"AB08OD1IZ2SK".to_vec()), 3..=8)
        .prop_map(|bytes| normalize(std::str::from_utf8(&bytes).unwrap()).unwrap())
}

fn tolerance_strategy() -> impl Strategy<Value = Category> {
    proptest::sample::select(vec![
        Category::StolenVehicle,
        Category::Amber,
        Category::Bolo,
        Category::Other,
    ])
}

/// What a scan of every entry finds: the reference the index must equal
/// (entries without a state, reads without one).
fn brute_force(
    entries: &[Arc<HotlistEntry>],
    policy: &TolerancePolicy,
    read: Plate,
) -> BTreeSet<(String, &'static str)> {
    let census = Census::of(entries, policy);
    let found: Vec<_> = entries
        .iter()
        .filter_map(|e| {
            let plate = e.plate.plate()?;
            let tolerance = census.tolerance(policy, e, &plate);
            let comparison = compare(&read, &plate)?;
            let kind = match_kind(&comparison, tolerance, false, is_end_edit(&comparison, &read, &plate))?;
            let p = crate::hotlist::evidence::probability(&read, None, &plate, None);
            Some((e.entry_id.clone(), kind, p))
        })
        .collect();
    let odds = |p: f32| f64::from(p.min(0.999_999)) / (1.0 - f64::from(p.min(0.999_999)));
    let best = found.iter().map(|f| odds(f.2)).fold(0.0, f64::max);
    found
        .into_iter()
        .filter(|f| f.1 != MatchKind::Fuzzy || odds(f.2) >= best * f64::from(EXPLAINED_AWAY))
        .map(|(id, kind, _)| (id, kind.name()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn compare_finds_exactly_the_plates_one_canonical_edit_away(a in plate_strategy(), b in plate_strategy()) {
        let within_one = canonical_osa(a.as_bytes(), b.as_bytes()) <= 1;
        prop_assert_eq!(compare(&a, &b).is_some(), within_one);
    }

    #[test]
    fn the_index_finds_exactly_what_a_scan_finds(
        list in proptest::collection::vec((plate_strategy(), tolerance_strategy()), 1..60),
        reads in proptest::collection::vec(plate_strategy(), 1..30),
    ) {
        let entries: Vec<_> = list
            .iter()
            .enumerate()
            .map(|(i, (plate, category))| entry(&format!("e{i}"), "l", plate.as_str(), *category, None))
            .collect();
        let policy = TolerancePolicy::default();
        let matcher = LiveMatcher::new(entries.clone(), policy.clone());
        for read in reads {
            let got: BTreeSet<_> = find(&matcher, read.as_str(), None)
                .into_iter()
                .map(|(id, kind)| (id, kind.name()))
                .collect();
            prop_assert_eq!(got, brute_force(&entries, &policy, read));
        }
    }

    #[test]
    fn every_listed_plate_matches_itself(list in proptest::collection::vec(plate_strategy(), 1..40)) {
        let entries: Vec<_> = list
            .iter()
            .enumerate()
            .map(|(i, p)| entry(&format!("e{i}"), "l", p.as_str(), Category::StolenVehicle, None))
            .collect();
        let matcher = LiveMatcher::new(entries, TolerancePolicy::uniform(Tolerance::Exact));
        for (i, plate) in list.iter().enumerate() {
            let found = find(&matcher, plate.as_str(), None);
            let want = (format!("e{}", i), MatchKind::Exact);
            prop_assert!(found.contains(&want));
        }
    }

    #[test]
    fn every_single_confusion_insertion_and_deletion_is_found_under_fuzzy_tolerance(
        plate in plate_strategy(),
        at in 0usize..8,
        extra in proptest::sample::select(b"ABKX0518".to_vec()),
    ) {
        let matcher = LiveMatcher::new(
            vec![entry("e", "l", plate.as_str(), Category::Amber, None)],
            TolerancePolicy::uniform(FUZZY),
        );
        let text = plate.as_str().as_bytes().to_vec();
        let at = at % text.len();
        let mut edits = Vec::new();
        let swap = |c: u8| match c { b'0' => b'O', b'O' | b'D' => b'0', b'1' => b'I', b'I' => b'1', b'2' => b'Z', b'Z' => b'2', b'8' => b'B', b'B' => b'8', b'5' => b'S', b'S' => b'5', other => other };
        let mut confused = text.clone();
        confused[at] = swap(confused[at]);
        edits.push(confused);
        let mut inserted = text.clone();
        inserted.insert(at, extra);
        if inserted.len() <= 10 { edits.push(inserted); }
        let mut deleted = text.clone();
        deleted.remove(at);
        if !deleted.is_empty() { edits.push(deleted); }
        for edited in edits {
            let read = std::str::from_utf8(&edited).unwrap();
            prop_assert_eq!(find(&matcher, read, None).len(), 1, "{} vs {}", read, plate);
        }
    }

    #[test]
    fn batches_folds_and_compactions_match_exactly_what_a_fresh_build_matches(
        initial in proptest::collection::vec(plate_strategy(), 0..30),
        batches in proptest::collection::vec(
            proptest::collection::vec((0usize..40, proptest::option::of(plate_strategy())), 1..25),
            1..12,
        ),
        steps in proptest::collection::vec(0u8..4, 12),
        reads in proptest::collection::vec(plate_strategy(), 1..20),
    ) {
        let make = |i: usize, plate: &Plate| entry(&format!("e{i}"), "l", plate.as_str(), Category::Amber, None);
        let mut expected: std::collections::BTreeMap<usize, Arc<HotlistEntry>> =
            initial.iter().enumerate().map(|(i, p)| (i, make(i, p))).collect();
        // Without budgets, tolerances depend only on list sizes, which the
        // writers keep exactly; budgets are recounted at each full build
        // (see the test after this block).
        let policy = TolerancePolicy { budget_by_category: Default::default(), ..TolerancePolicy::default() };
        let matcher = Arc::new(LiveMatcher::new(expected.values().cloned().collect(), policy.clone()));
        for (batch, step) in batches.iter().zip(&steps) {
            let mut changes = Vec::new();
            for (i, plate) in batch {
                match plate {
                    Some(plate) => {
                        let e = make(*i, plate);
                        expected.insert(*i, Arc::clone(&e));
                        changes.push(Change::Upsert(e));
                    }
                    None => {
                        expected.remove(i);
                        changes.push(Change::Remove { list_id: "l".into(), entry_id: format!("e{i}") });
                    }
                }
            }
            matcher.apply(changes);
            match step {
                0 => matcher.quiet(),
                1 => matcher.fold_now(),
                _ => {}
            }
            prop_assert_eq!(matcher.len(), expected.len());
        }
        matcher.settle();
        let fresh = LiveMatcher::new(expected.values().cloned().collect(), policy);
        for read in reads {
            let got: BTreeSet<_> = find(&matcher, read.as_str(), None).into_iter().map(|(id, k)| (id, k.name())).collect();
            let want: BTreeSet<_> = find(&fresh, read.as_str(), None).into_iter().map(|(id, k)| (id, k.name())).collect();
            prop_assert_eq!(got, want);
        }
        let mut ids: Vec<_> = matcher.entries().iter().map(|e| e.entry_id.clone()).collect();
        ids.sort();
        let mut want: Vec<_> = expected.values().map(|e| e.entry_id.clone()).collect();
        want.sort();
        prop_assert_eq!(ids, want);
    }
}

#[test]
fn a_whole_list_replacement_in_batches_folds_in_the_background_and_keeps_levels_few() {
    let plate = |i: usize| format!("R{i:06}");
    let old: Vec<_> = (0..20_000)
        .map(|i| entry(&format!("e{i}"), "big", &plate(i), Category::StolenVehicle, None))
        .collect();
    let matcher = Arc::new(LiveMatcher::new(old, TolerancePolicy::default()));
    // Every entry moves to a new plate, in batches of 500, then one more entry.
    for start in (0..20_000).step_by(500) {
        let changes = (start..start + 500)
            .map(|i| {
                Change::Upsert(entry(
                    &format!("e{i}"),
                    "big",
                    &plate(i + 500_000),
                    Category::StolenVehicle,
                    None,
                ))
            })
            .collect();
        matcher.apply(changes);
        assert!(matcher.levels() <= 2 + MAX_LEVELS, "{} levels", matcher.levels());
    }
    matcher.apply(vec![Change::Upsert(entry(
        "new",
        "big",
        "NEW0001",
        Category::StolenVehicle,
        None,
    ))]);
    matcher.settle();
    assert!(matcher.folds() >= 1, "the base was rebuilt at least once");
    assert_eq!(matcher.len(), 20_001);
    assert_eq!(
        find(&matcher, "NEW0001", None),
        vec![("new".to_string(), MatchKind::Exact)]
    );
    assert_eq!(
        find(&matcher, &plate(7), None),
        vec![],
        "the old plate no longer matches"
    );
    assert_eq!(
        find(&matcher, &plate(500_007), None),
        vec![("e7".to_string(), MatchKind::Exact)]
    );
    // Whatever the last background rebuild took in, changes past 1% of the
    // base are folded into it once the topic goes quiet.
    matcher.apply(
        (0..300)
            .map(|i| {
                Change::Upsert(entry(
                    &format!("q{i}"),
                    "big",
                    &format!("Q{i:06}"),
                    Category::StolenVehicle,
                    None,
                ))
            })
            .collect(),
    );
    matcher.quiet();
    matcher.settle();
    assert_eq!(matcher.levels(), 1, "folded into the base once quiet");
    assert_eq!(matcher.len(), 20_301);
    matcher.apply(vec![Change::Remove {
        list_id: "big".into(),
        entry_id: "e1".into(),
    }]);
    matcher.apply(vec![Change::Remove {
        list_id: "big".into(),
        entry_id: "e2".into(),
    }]);
    matcher.apply(vec![Change::Remove {
        list_id: "big".into(),
        entry_id: "e3".into(),
    }]);
    matcher.quiet();
    assert_eq!(
        matcher.levels(),
        2,
        "a few changes are merged into one level, not folded"
    );
    assert_eq!(matcher.len(), 20_298);
}
