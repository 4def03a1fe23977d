//! The matcher the pipeline uses: an immutable snapshot swapped atomically on
//! rebuild, plus a small overlay for the changes made since.
//!
//! Readers load the current snapshot and overlay with one atomic pointer read
//! each (arc-swap) and never wait for a writer. A writer adding or removing an
//! entry records it in a concurrent map (dashmap) and publishes a new overlay
//! built from that map, so the change is visible to the next read. A rebuild
//! folds everything into a new snapshot and empties the overlay. Writers are
//! serialized among themselves; they are rare (list uploads), reads are not.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use dashmap::DashMap;

use super::index::{Index, Probe};
use super::pattern::PatternSet;
use super::tolerance::{RegionRule, TolerancePolicy};
use super::{EntryPlate, Hit, HotlistEntry, Matcher, Query};

/// `(list_id, entry_id)`: an entry's identity.
pub type EntryKey = (String, String);

fn key_of(entry: &HotlistEntry) -> EntryKey {
    (entry.list_id.clone(), entry.entry_id.clone())
}

/// A 64-bit hash of an entry's identity, for membership checks.
fn key_hash(list_id: &str, entry_id: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().build_hasher();
    hasher.write(list_id.as_bytes());
    hasher.write_u8(0);
    hasher.write(entry_id.as_bytes());
    hasher.finish()
}

/// One immutable generation of the hotlist: plates and patterns.
#[derive(Debug, Default)]
pub struct Snapshot {
    index: Index,
    patterns: PatternSet,
    list_sizes: HashMap<String, usize>,
    /// Sorted identity hashes of every entry, to tell a replacement from an addition.
    key_hashes: Vec<u64>,
}

impl Snapshot {
    /// Indexes `entries`, giving each the tolerance `policy` resolves for it.
    pub fn build(
        entries: &[Arc<HotlistEntry>],
        policy: &TolerancePolicy,
        list_sizes: HashMap<String, usize>,
    ) -> Snapshot {
        let mut plates = Vec::with_capacity(entries.len());
        let mut patterns = Vec::new();
        for entry in entries {
            match &entry.plate {
                EntryPlate::Plate(plate) => {
                    let size = list_sizes.get(&entry.list_id).copied().unwrap_or(1);
                    let tolerance = policy.resolve(&entry.list_id, entry.category, size, plate.len());
                    plates.push((Arc::clone(entry), tolerance));
                }
                EntryPlate::Pattern(pattern) => patterns.push((Arc::clone(entry), pattern.clone())),
            }
        }
        let mut key_hashes: Vec<u64> = entries.iter().map(|e| key_hash(&e.list_id, &e.entry_id)).collect();
        key_hashes.sort_unstable();
        Snapshot {
            index: Index::build(plates, |e| e.plate.plate()),
            patterns: PatternSet::build(patterns),
            list_sizes,
            key_hashes,
        }
    }

    fn contains(&self, key: &EntryKey) -> bool {
        self.key_hashes.binary_search(&key_hash(&key.0, &key.1)).is_ok()
    }

    fn len(&self) -> usize {
        self.index.len() + self.patterns.len()
    }

    /// Bytes the plate index holds (see [`Index::heap_bytes`]).
    pub fn index_heap_bytes(&self) -> usize {
        self.index.heap_bytes()
    }

    fn find(&self, query: &Query<'_>, rule: RegionRule, hits: &mut Vec<Hit>) {
        let probe = Probe {
            plate: query.plate,
            candidate: None,
            confidence: None,
        };
        self.index.find(&probe, query.region, rule, hits);
        self.patterns
            .find(&query.plate, query.region, rule == RegionRule::Reject, hits);
        for (i, (plate, confidence)) in query.candidates.iter().enumerate() {
            let probe = Probe {
                plate: *plate,
                candidate: Some(i as u8),
                confidence: *confidence,
            };
            self.index.find(&probe, query.region, rule, hits);
        }
    }
}

/// Counts entries per list, for the list-size cap on fuzzy tolerance.
fn count_lists<'a>(entries: impl IntoIterator<Item = &'a Arc<HotlistEntry>>) -> HashMap<String, usize> {
    let mut sizes = HashMap::new();
    for entry in entries {
        *sizes.entry(entry.list_id.clone()).or_insert(0) += 1;
    }
    sizes
}

/// The live, swappable matcher.
pub struct LiveMatcher {
    policy: TolerancePolicy,
    base: ArcSwap<Snapshot>,
    overlay: ArcSwap<Snapshot>,
    /// Changes since the base was built: `Some` added or replaced, `None` removed.
    changes: DashMap<EntryKey, Option<Arc<HotlistEntry>>>,
    has_changes: AtomicBool,
    /// Current number of entries, kept by the writers.
    len: AtomicUsize,
    writer: Mutex<()>,
    /// Decides which entries have expired.
    clock: crate::Clock,
}

impl LiveMatcher {
    pub fn new(entries: Vec<Arc<HotlistEntry>>, policy: TolerancePolicy) -> LiveMatcher {
        let base = Snapshot::build(&entries, &policy, count_lists(&entries));
        LiveMatcher {
            len: AtomicUsize::new(base.len()),
            policy,
            base: ArcSwap::from_pointee(base),
            overlay: ArcSwap::from_pointee(Snapshot::default()),
            changes: DashMap::new(),
            has_changes: AtomicBool::new(false),
            writer: Mutex::new(()),
            clock: crate::system_clock(),
        }
    }

    /// The same matcher, judging expiry by `clock`.
    pub fn with_clock(mut self, clock: crate::Clock) -> LiveMatcher {
        self.clock = clock;
        self
    }

    /// Adds an entry, or replaces the one with the same list and entry id.
    pub fn upsert(&self, entry: Arc<HotlistEntry>) {
        let _writing = self.writer.lock().expect("writer lock");
        self.changes.insert(key_of(&entry), Some(entry));
        self.publish_overlay();
    }

    /// Removes an entry; unknown ids are ignored.
    pub fn remove(&self, list_id: &str, entry_id: &str) {
        let _writing = self.writer.lock().expect("writer lock");
        self.changes.insert((list_id.to_owned(), entry_id.to_owned()), None);
        self.publish_overlay();
    }

    /// Replaces everything with `entries` in a new snapshot; clears the overlay.
    pub fn rebuild(&self, entries: Vec<Arc<HotlistEntry>>) {
        let _writing = self.writer.lock().expect("writer lock");
        let snapshot = Snapshot::build(&entries, &self.policy, count_lists(&entries));
        self.len.store(snapshot.len(), Ordering::Release);
        self.base.store(Arc::new(snapshot));
        self.has_changes.store(false, Ordering::Release);
        self.changes.clear();
        self.overlay.store(Arc::new(Snapshot::default()));
    }

    /// Every current entry (base less removals, plus the overlay).
    pub fn entries(&self) -> Vec<Arc<HotlistEntry>> {
        let _writing = self.writer.lock().expect("writer lock");
        let base = self.base.load();
        let mut all: Vec<_> = base
            .index
            .entries()
            .iter()
            .chain(base.patterns.entries())
            .filter(|e| !self.changes.contains_key(&key_of(e)))
            .cloned()
            .collect();
        all.extend(self.changes.iter().filter_map(|c| c.value().clone()));
        all
    }

    /// The current base snapshot (for measuring).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.base.load_full()
    }

    fn publish_overlay(&self) {
        let added: Vec<_> = self.changes.iter().filter_map(|c| c.value().clone()).collect();
        let mut sizes = self.base.load().list_sizes.clone();
        for entry in &added {
            *sizes.entry(entry.list_id.clone()).or_insert(0) += 1;
        }
        let overlay = Snapshot::build(&added, &self.policy, sizes);
        let base = self.base.load();
        let mut len = base.len();
        for change in self.changes.iter() {
            match (change.value().is_some(), base.contains(change.key())) {
                (true, false) => len += 1,
                (false, true) => len -= 1,
                _ => {}
            }
        }
        self.len.store(len, Ordering::Release);
        self.overlay.store(Arc::new(overlay));
        self.has_changes.store(true, Ordering::Release);
    }
}

impl Matcher for LiveMatcher {
    fn find(&self, query: &Query<'_>, hits: &mut Vec<Hit>) {
        let start = hits.len();
        self.base.load().find(query, self.policy.region, hits);
        if self.has_changes.load(Ordering::Acquire) {
            // Drop base hits on entries changed since the base was built.
            let mut i = start;
            while i < hits.len() {
                if self.changes.contains_key(&key_of(&hits[i].entry)) {
                    hits.swap_remove(i);
                } else {
                    i += 1;
                }
            }
            self.overlay.load().find(query, self.policy.region, hits);
        }
        if hits.len() > start {
            // An expired entry stops matching at its expiry, upload or not.
            let now: chrono::DateTime<chrono::Utc> = (self.clock)().into();
            let mut i = start;
            while i < hits.len() {
                if hits[i].entry.expires_at.is_some_and(|at| at <= now) {
                    hits.remove(i);
                } else {
                    i += 1;
                }
            }
        }
        rank(&mut hits[start..]);
        dedup_entries(hits, start);
    }

    fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }
}

/// Best first: higher score, then more urgent, then entry id for stability.
fn rank(hits: &mut [Hit]) {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.entry.priority.cmp(&b.entry.priority))
            .then_with(|| a.entry.list_id.cmp(&b.entry.list_id))
            .then_with(|| a.entry.entry_id.cmp(&b.entry.entry_id))
    });
}

/// Keeps the first (best) hit of each entry; a read and its OCR candidate
/// may both find the same entry.
fn dedup_entries(hits: &mut Vec<Hit>, start: usize) {
    let mut i = start + 1;
    while i < hits.len() {
        if hits[start..i].iter().any(|h| Arc::ptr_eq(&h.entry, &hits[i].entry)) {
            hits.remove(i);
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hotlist::confusion::{canonical_byte, compare};
    use crate::hotlist::index::match_kind;
    use crate::hotlist::{Category, MatchKind, Pattern, Tolerance};
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

    fn sample_matcher() -> LiveMatcher {
        LiveMatcher::new(
            vec![
                entry("stolen", "ncic", "7ABC123", Category::StolenVehicle, Some("CA")),
                entry("amber", "amber", "4GET1T5", Category::Amber, None),
                entry("wild", "witness", "8KX?4?7", Category::Bolo, None),
                entry("part", "witness", "*JRZ5*", Category::Amber, None),
            ],
            TolerancePolicy::default(),
        )
    }

    #[test]
    fn each_kind_of_match_is_reported_as_such() {
        let m = sample_matcher();
        let hit = |id: &str, kind| vec![(id.to_string(), kind)];
        assert_eq!(find(&m, "7ABC123", Some("CA")), hit("stolen", MatchKind::Exact));
        assert_eq!(find(&m, "7A8C1Z3", Some("CA")), hit("stolen", MatchKind::OcrEquivalent));
        // The stolen-vehicle list is OCR-equivalent only: one real edit is no hit.
        assert_eq!(find(&m, "7ABC12", Some("CA")), vec![]);
        // A different state is rejected by default.
        assert_eq!(find(&m, "7ABC123", Some("NV")), vec![]);
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
        assert_eq!(ids, ["same", "same-low", "near"]);
    }

    #[test]
    fn ocr_candidates_match_exactly_and_record_which_one() {
        let m = sample_matcher();
        assert_eq!(
            find_with(&m, "7ABC128", Some("CA"), &[("7ABC123", 0.4)]),
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
        m.rebuild(m.entries());
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
        let m = Arc::new(sample_matcher());
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

    /// What a scan of every entry finds: the reference the index must equal.
    fn brute_force(
        entries: &[Arc<HotlistEntry>],
        policy: &TolerancePolicy,
        read: Plate,
    ) -> BTreeSet<(String, &'static str)> {
        let sizes = count_lists(entries);
        entries
            .iter()
            .filter_map(|e| {
                let plate = e.plate.plate()?;
                let tolerance = policy.resolve(&e.list_id, e.category, sizes[&e.list_id], plate.len());
                let kind = match_kind(&compare(&read, &plate)?, tolerance, false)?;
                Some((e.entry_id.clone(), kind.name()))
            })
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
    }
}
