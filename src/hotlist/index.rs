//! The immutable plate index: OCR-equivalent lookups in one probe, one-edit
//! fuzzy lookups by symmetric deletion, never a scan of the list.
//!
//! Every entry is stored under its canonical key (OCR classes collapsed, see
//! [`super::confusion`]), so any number of class substitutions costs one
//! probe. Entries whose tolerance allows a fuzzy match are also stored, in a
//! second table, under each of their single-character deletions; a read then
//! probes its canonical key and each of its own deletions, which finds every
//! entry within one substitution, insertion, deletion or transposition.
//! Candidates are verified with [`compare`] and the entry's tolerance, so a
//! hash collision or a two-edit neighbour is never reported.
//!
//! Keys are canonical plates packed into a `u64` (6 bits a character); the
//! tables are bucketed arrays of `(fingerprint, entry)` slots, 8 bytes each,
//! built once and never changed. Live changes go through
//! [`super::live::LiveMatcher`]'s overlay.

use std::sync::Arc;

use super::confusion::{canonical_byte, compare, Comparison, Edit};
use super::evidence;
use super::store::{EntryKey, EntryStore, Source, StoreBuilder};
use super::tolerance::{RegionRule, Tolerance, TolerancePolicy};
use super::{regions_agree, Hit, MatchKind, Tier};
use crate::normalize::{Plate, Region, MAX_PLATE_LEN};

/// The most candidates verified for one probe set; more means a degenerate
/// list (thousands of entries one edit apart), and the rest are skipped.
const MAX_CANDIDATES: usize = 64;

/// A canonical plate (or a deletion of one) packed 6 bits a character.
#[inline]
fn pack(canon: &[u8]) -> u64 {
    canon.iter().fold(0u64, |key, &b| {
        let code = match b {
            b'0'..=b'9' => b - b'0' + 1,
            _ => b - b'A' + 11,
        };
        (key << 6) | u64::from(code)
    })
}

#[inline]
fn mix(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Calls `f` with the packed key of each distinct single deletion of `canon`.
#[inline]
fn for_each_deletion(canon: &[u8], mut f: impl FnMut(u64)) {
    if canon.len() < 2 {
        return;
    }
    let mut buf = [0u8; MAX_PLATE_LEN];
    for i in 0..canon.len() {
        if i > 0 && canon[i] == canon[i - 1] {
            continue; // deleting either of two equal neighbours gives the same key
        }
        buf[..i].copy_from_slice(&canon[..i]);
        buf[i..canon.len() - 1].copy_from_slice(&canon[i + 1..]);
        f(pack(&buf[..canon.len() - 1]));
    }
}

/// The packed keys of `canon` without its first and without its last
/// character (at least two characters).
#[inline]
fn end_deletions(canon: &[u8]) -> [u64; 2] {
    [pack(&canon[1..]), pack(&canon[..canon.len() - 1])]
}

/// An open-addressing multimap from packed key to entry numbers.
///
/// One `u64` slot per stored key: a 31-bit fingerprint of the key's hash
/// with a marker bit (so no slot is 0, which means empty) above the entry
/// number. A key's slots follow its home slot (linear probing) until an empty
/// one, so a lookup reads one or two cache lines, and lookups of several keys
/// can all be started before any is read. Load factor 3/4.
#[derive(Debug, Default)]
struct KeyTable {
    slots: Vec<u64>,
}

const MARKER: u64 = 1 << 63;

impl KeyTable {
    fn build(pairs: &[(u64, u32)]) -> KeyTable {
        if pairs.is_empty() {
            return KeyTable::default();
        }
        let len = pairs.len() + pairs.len() / 3 + 1;
        let mut slots: Vec<u64> = huge_pages_vec(len);
        for &(key, entry) in pairs {
            let h = mix(key);
            let mut i = home(h, len);
            while slots[i] != 0 {
                i = if i + 1 == len { 0 } else { i + 1 };
            }
            slots[i] = tag(h) | u64::from(entry);
        }
        KeyTable { slots }
    }

    /// Calls `f` with every entry stored under one of `keys` (and, rarely,
    /// under a key with the same hash: callers verify). The table is far
    /// larger than the CPU caches, so each key costs a memory round trip;
    /// starting all of them before reading any lets them overlap.
    #[inline]
    fn probe(&self, keys: &[u64], mut f: impl FnMut(u32)) {
        let len = self.slots.len();
        if len == 0 {
            return;
        }
        let mut hashes = [0u64; MAX_PLATE_LEN + 1];
        for (h, &key) in hashes.iter_mut().zip(keys) {
            *h = mix(key);
            prefetch(&self.slots[home(*h, len)]);
        }
        for &h in &hashes[..keys.len()] {
            let wanted = tag(h);
            let mut i = home(h, len);
            loop {
                let slot = self.slots[i];
                if slot == 0 {
                    break;
                }
                if slot & 0xFFFF_FFFF_0000_0000 == wanted {
                    f(slot as u32);
                }
                i = if i + 1 == len { 0 } else { i + 1 };
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 8
    }
}

/// The home slot of hash `h` in a table of `len` slots (multiply-shift).
#[inline]
fn home(h: u64, len: usize) -> usize {
    ((u128::from(h) * len as u128) >> 64) as usize
}

/// The fingerprint and marker bits of a slot for hash `h`.
#[inline]
fn tag(h: u64) -> u64 {
    MARKER | ((h << 32) & !MARKER)
}

/// A zeroed vector whose memory the kernel is asked to back with 2 MB pages.
///
/// The tables are read at random; with 4 KB pages nearly every probe also
/// misses the TLB, which costs as much again as the cache miss and defeats
/// prefetching. Where transparent huge pages are off, this is a plain vector.
fn huge_pages_vec<T: Copy + Default>(len: usize) -> Vec<T> {
    let mut v: Vec<T> = Vec::with_capacity(len);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_ptr() as usize;
        let bytes = len * std::mem::size_of::<T>();
        let aligned = start.next_multiple_of(HUGE);
        let end = (start + bytes) / HUGE * HUGE;
        if end > aligned {
            // SAFETY: the range lies inside this vector's allocation, which
            // nothing else uses; MADV_HUGEPAGE changes only how it is backed.
            unsafe {
                libc::madvise(aligned as *mut libc::c_void, end - aligned, libc::MADV_HUGEPAGE);
            }
        }
    }
    v.resize(len, T::default());
    v
}

/// Asks the CPU to start loading `value`'s cache line; a hint with no effect
/// on results.
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults, even for a bad
    // address, and `value` is a valid reference anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// What the index keeps per entry for verification, beside its packed record.
#[derive(Debug, Clone, Copy)]
struct Compact {
    plate: Plate,
    region: Option<Region>,
    tolerance: Tolerance,
}

/// One matchable read plate: the read itself or one of its OCR candidates.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub plate: Plate,
    /// `Some(i)` for the read's `i`-th OCR candidate.
    pub candidate: Option<u8>,
    pub confidence: Option<f32>,
}

/// The immutable index over plate entries (not patterns).
#[derive(Debug, Default)]
pub struct Index {
    /// Each entry's record, by entry number; decoded only on a hit.
    store: EntryStore,
    compact: Vec<Compact>,
    /// Canonical key of every entry.
    canonical: KeyTable,
    /// Canonical key and every single deletion of each fuzzy-tolerant entry.
    fuzzy: KeyTable,
    /// The canonical key without its first and without its last character,
    /// of each entry whose tolerance is [`Tolerance::Ends`].
    ends: KeyTable,
    /// Whether any entry tolerates an end edit (reads then also probe
    /// their own end deletions).
    any_ends: bool,
}

impl Index {
    /// Builds the index over plate entries, each with its tolerance.
    /// Entries beyond `u32::MAX` are not supported.
    pub fn build<'a>(entries: impl ExactSizeIterator<Item = (Source<'a>, Plate, Tolerance)>) -> Index {
        let mut canonical = Vec::with_capacity(entries.len());
        let mut fuzzy = Vec::new();
        let mut ends = Vec::new();
        let mut store = StoreBuilder::with_capacity(entries.len());
        let mut compact = Vec::with_capacity(entries.len());
        for (source, plate, tolerance) in entries {
            let number = store.push(&source);
            let (canon, len) = super::confusion::canonical(&plate);
            let key = pack(&canon[..len]);
            canonical.push((key, number));
            match tolerance {
                Tolerance::Fuzzy { .. } => {
                    fuzzy.push((key, number));
                    for_each_deletion(&canon[..len], |k| fuzzy.push((k, number)));
                }
                Tolerance::Ends if len >= 2 => {
                    let [first, last] = end_deletions(&canon[..len]);
                    ends.push((first, number));
                    if last != first {
                        ends.push((last, number));
                    }
                }
                _ => {}
            }
            compact.push(Compact {
                plate,
                region: source.region(),
                tolerance,
            });
        }
        Index {
            canonical: KeyTable::build(&canonical),
            fuzzy: KeyTable::build(&fuzzy),
            any_ends: !ends.is_empty() || !fuzzy.is_empty(),
            ends: KeyTable::build(&ends),
            store: store.finish(),
            compact,
        }
    }

    /// Number of entries indexed.
    pub fn len(&self) -> usize {
        self.compact.len()
    }

    pub fn is_empty(&self) -> bool {
        self.compact.is_empty()
    }

    /// Bytes the index itself holds on the heap (tables and per-entry
    /// verification data; not the packed entries, see [`Index::store_heap_bytes`]).
    pub fn heap_bytes(&self) -> usize {
        self.canonical.heap_bytes()
            + self.fuzzy.heap_bytes()
            + self.ends.heap_bytes()
            + self.compact.capacity() * std::mem::size_of::<Compact>()
    }

    /// Bytes the packed entries hold on the heap.
    pub fn store_heap_bytes(&self) -> usize {
        self.store.heap_bytes()
    }

    /// Appends every entry `probe` matches under its tolerance. Edits are
    /// looked for only for the read itself, not its OCR candidates.
    pub fn find(&self, probe: &Probe, region: Option<Region>, policy: &TolerancePolicy, hits: &mut Vec<Hit>) {
        let mut candidates = Candidates::default();
        let (canon, len) = super::confusion::canonical(&probe.plate);
        let canon = &canon[..len];
        let key = pack(canon);
        if probe.candidate.is_some() || !self.any_ends || len < 2 {
            self.canonical.probe(&[key], |e| candidates.push(e));
        } else {
            // The read without an end character finds an entry it has one
            // extra for; the read's key in the end table, an entry it lacks
            // one of. The fuzzy table holds fuzzy entries' canonical keys and
            // their deletions: the read's key finds a dropped character, its
            // deletions an extra character, a substitution or a swap.
            let [first, last] = end_deletions(canon);
            self.canonical.probe(&[key, first, last], |e| candidates.push(e));
            self.ends.probe(&[key], |e| candidates.push(e));
            if !self.fuzzy.slots.is_empty() {
                let mut keys = [0u64; MAX_PLATE_LEN + 1];
                keys[0] = key;
                let mut n = 1;
                for_each_deletion(canon, |k| {
                    keys[n] = k;
                    n += 1;
                });
                self.fuzzy.probe(&keys[..n], |e| candidates.push(e));
            }
        }
        for &number in candidates.as_slice() {
            prefetch(&self.compact[number as usize]);
        }
        for &number in candidates.as_slice() {
            let compact = &self.compact[number as usize];
            if let Some(hit) = verify(probe, region, policy, compact, || {
                self.store.entry(number, compact.plate, compact.region)
            }) {
                hits.push(hit);
            }
        }
    }

    /// Every entry, packed, for rebuilding.
    pub fn sources(&self) -> impl Iterator<Item = Source<'_>> {
        self.compact.iter().enumerate().map(|(number, compact)| Source::Packed {
            store: &self.store,
            number: number as u32,
            plate: compact.plate,
            region: compact.region,
        })
    }
}

/// Distinct candidate entry numbers, on the stack.
struct Candidates {
    items: [u32; MAX_CANDIDATES],
    len: usize,
}

impl Default for Candidates {
    fn default() -> Self {
        Candidates {
            items: [0; MAX_CANDIDATES],
            len: 0,
        }
    }
}

impl Candidates {
    #[inline]
    fn push(&mut self, number: u32) {
        if self.len < MAX_CANDIDATES && !self.items[..self.len].contains(&number) {
            self.items[self.len] = number;
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[u32] {
        &self.items[..self.len]
    }
}

/// Decides whether `probe` matches an entry, and how well (`entry` builds
/// the entry, for a hit only). Beyond OCR
/// equivalence, an entry of a state matches only reads whose state
/// estimate names that state: its budget was spent on that state's traffic.
fn verify(
    probe: &Probe,
    region: Option<Region>,
    policy: &TolerancePolicy,
    compact: &Compact,
    entry: impl FnOnce() -> super::HotlistEntry,
) -> Option<Hit> {
    let comparison = compare(&probe.plate, &compact.plate)?;
    let same_state = compact.region.is_none() || compact.region == region;
    let tolerance = if same_state {
        compact.tolerance
    } else {
        compact.tolerance.at_most(Tolerance::OcrEquivalent)
    };
    let end_edit = is_end_edit(&comparison, &probe.plate, &compact.plate);
    let kind = match_kind(&comparison, tolerance, probe.candidate.is_some(), end_edit)?;
    let region_agrees = regions_agree(compact.region, region);
    if !region_agrees && policy.region == RegionRule::Reject {
        return None;
    }
    let mut score = base_score(kind, &comparison);
    let mut probability = evidence::probability(&probe.plate, region, &compact.plate, compact.region);
    if !region_agrees {
        score *= 0.5;
    }
    if probe.candidate.is_some() {
        let confidence = probe.confidence.unwrap_or(0.5).clamp(0.0, 1.0);
        score *= confidence;
        probability *= confidence;
    }
    let hit = region_agrees && probability >= policy.hit_probability;
    Some(Hit {
        entry: Arc::new(entry()),
        kind,
        score,
        distance: comparison.edit.cost(),
        differing: comparison.differing,
        candidate: probe.candidate.map(|index| super::CandidateHit {
            index,
            confidence: probe.confidence,
        }),
        region_mismatch: !region_agrees,
        probability,
        tier: if hit { Tier::Hit } else { Tier::PossibleMatch },
    })
}

/// Whether the one edit is a character cut off or added at an end.
pub(crate) fn is_end_edit(comparison: &Comparison, read: &Plate, entry: &Plate) -> bool {
    let (r, e) = (read.as_bytes(), entry.as_bytes());
    let same = |a: &[u8], b: &[u8]| a.iter().zip(b).all(|(x, y)| canonical_byte(*x) == canonical_byte(*y));
    match comparison.edit {
        Edit::Insertion { .. } => same(&r[1..], e) || same(&r[..r.len() - 1], e),
        Edit::Deletion { .. } => same(r, &e[1..]) || same(r, &e[..e.len() - 1]),
        _ => false,
    }
}

/// The kind of match `comparison` is, if the tolerance allows it
/// (`end_edit`: its edit is at an end of the plate). OCR candidates match
/// only exactly or OCR-equivalently.
pub(crate) fn match_kind(
    comparison: &Comparison,
    tolerance: Tolerance,
    from_candidate: bool,
    end_edit: bool,
) -> Option<MatchKind> {
    if comparison.identical {
        return Some(MatchKind::Exact);
    }
    let allowed = match (comparison.edit, tolerance) {
        (_, Tolerance::Exact) => false,
        (Edit::None, _) => return Some(MatchKind::OcrEquivalent),
        (_, Tolerance::OcrEquivalent) => false,
        (_, Tolerance::Ends) => end_edit,
        (edit, Tolerance::Fuzzy { max_cost }) => end_edit || edit.cost() <= max_cost,
    };
    (allowed && !from_candidate).then_some(MatchKind::Fuzzy)
}

/// 1 for exact; a little less for each OCR-class substitution; a fuzzy
/// match loses 0.4 per unit of edit cost.
fn base_score(kind: MatchKind, comparison: &Comparison) -> f32 {
    let class_subs = comparison.differences() as f32;
    let score = match kind {
        MatchKind::Exact => 1.0,
        MatchKind::OcrEquivalent => 0.95 - 0.03 * (class_subs - 1.0).max(0.0),
        _ => 0.9 - 0.4 * comparison.edit.cost() - 0.03 * (class_subs - 1.0).max(0.0),
    };
    score.clamp(0.05, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hotlist::confusion::canonical_byte;

    fn canon_key(text: &str) -> u64 {
        let bytes: Vec<u8> = text.bytes().map(canonical_byte).collect();
        pack(&bytes)
    }

    #[test]
    fn packed_keys_are_distinct_per_canonical_plate() {
        assert_eq!(canon_key("7ABC123"), canon_key("7A8C1Z3"));
        assert_ne!(canon_key("7ABC123"), canon_key("7ABC12"));
        assert_ne!(canon_key("A"), canon_key("0A"), "a leading zero still counts");
        assert_ne!(canon_key("ZZZZZZZZZZ"), canon_key("ZZZZZZZZZ"));
    }

    #[test]
    fn deletions_skip_repeats() {
        let mut keys = Vec::new();
        for_each_deletion(b"AAB", |k| keys.push(k));
        assert_eq!(keys, vec![pack(b"AB"), pack(b"AA")]);
    }
}
