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

use super::confusion::{compare, Comparison, Edit};
use super::tolerance::{RegionRule, Tolerance};
use super::{regions_agree, Hit, HotlistEntry, MatchKind};
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

/// A bucketed multimap from packed key to entry numbers.
#[derive(Debug, Default)]
struct KeyTable {
    shift: u32,
    /// `offsets[b]..offsets[b + 1]` are bucket `b`'s slots.
    offsets: Vec<u32>,
    /// `(fingerprint << 32) | entry`.
    slots: Vec<u64>,
}

impl KeyTable {
    fn build(pairs: &[(u64, u32)]) -> KeyTable {
        if pairs.is_empty() {
            return KeyTable::default();
        }
        let bits = (pairs.len() / 2).max(2).next_power_of_two().trailing_zeros().max(1);
        let shift = 64 - bits;
        let buckets = 1usize << bits;
        let mut offsets = vec![0u32; buckets + 1];
        for &(key, _) in pairs {
            offsets[(mix(key) >> shift) as usize + 1] += 1;
        }
        for b in 0..buckets {
            offsets[b + 1] += offsets[b];
        }
        let mut fill = offsets.clone();
        let mut slots = vec![0u64; pairs.len()];
        for &(key, entry) in pairs {
            let h = mix(key);
            let b = (h >> shift) as usize;
            slots[fill[b] as usize] = (h << 32) | u64::from(entry);
            fill[b] += 1;
        }
        KeyTable { shift, offsets, slots }
    }

    /// Calls `f` with every entry stored under `key` (and, rarely, under a
    /// key with the same hash: callers verify).
    #[inline]
    fn probe(&self, key: u64, mut f: impl FnMut(u32)) {
        if self.slots.is_empty() {
            return;
        }
        let h = mix(key);
        let b = (h >> self.shift) as usize;
        let fingerprint = h << 32;
        for &slot in &self.slots[self.offsets[b] as usize..self.offsets[b + 1] as usize] {
            if slot & 0xFFFF_FFFF_0000_0000 == fingerprint {
                f(slot as u32);
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * 4 + self.slots.capacity() * 8
    }
}

/// What the index keeps per entry for verification, next to the entry.
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
    entries: Vec<Arc<HotlistEntry>>,
    compact: Vec<Compact>,
    /// Canonical key of every entry.
    canonical: KeyTable,
    /// Canonical key and every single deletion of each fuzzy-tolerant entry.
    fuzzy: KeyTable,
}

impl Index {
    /// Builds the index; `tolerance` gives each entry's tolerance.
    /// Entries beyond `u32::MAX` are not supported.
    pub fn build(
        entries: Vec<(Arc<HotlistEntry>, Tolerance)>,
        plate_of: impl Fn(&HotlistEntry) -> Option<Plate>,
    ) -> Index {
        let mut canonical = Vec::with_capacity(entries.len());
        let mut fuzzy = Vec::new();
        let mut kept = Vec::with_capacity(entries.len());
        let mut compact = Vec::with_capacity(entries.len());
        for (entry, tolerance) in entries {
            let Some(plate) = plate_of(&entry) else { continue };
            let number = kept.len() as u32;
            let (canon, len) = super::confusion::canonical(&plate);
            let key = pack(&canon[..len]);
            canonical.push((key, number));
            if matches!(tolerance, Tolerance::Fuzzy { .. }) {
                fuzzy.push((key, number));
                for_each_deletion(&canon[..len], |k| fuzzy.push((k, number)));
            }
            compact.push(Compact {
                plate,
                region: entry.region,
                tolerance,
            });
            kept.push(entry);
        }
        Index {
            canonical: KeyTable::build(&canonical),
            fuzzy: KeyTable::build(&fuzzy),
            entries: kept,
            compact,
        }
    }

    /// Number of entries indexed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes the index itself holds on the heap (tables and per-entry
    /// verification data; not the entries, which the hotlist owns).
    pub fn heap_bytes(&self) -> usize {
        self.canonical.heap_bytes()
            + self.fuzzy.heap_bytes()
            + self.compact.capacity() * std::mem::size_of::<Compact>()
            + self.entries.capacity() * std::mem::size_of::<Arc<HotlistEntry>>()
    }

    /// Appends every entry `probe` matches under its tolerance. Fuzzy
    /// lookups are made only for the read itself, not its OCR candidates.
    pub fn find(&self, probe: &Probe, region: Option<Region>, rule: RegionRule, hits: &mut Vec<Hit>) {
        let mut candidates = Candidates::default();
        let (canon, len) = super::confusion::canonical(&probe.plate);
        let canon = &canon[..len];
        let key = pack(canon);
        self.canonical.probe(key, |e| candidates.push(e));
        if probe.candidate.is_none() && !self.fuzzy.slots.is_empty() {
            self.fuzzy.probe(key, |e| candidates.push(e));
            for_each_deletion(canon, |k| {
                self.canonical.probe(k, |e| candidates.push(e));
                self.fuzzy.probe(k, |e| candidates.push(e));
            });
        }
        for &number in candidates.as_slice() {
            let compact = &self.compact[number as usize];
            if let Some(hit) = verify(probe, region, rule, compact, &self.entries[number as usize]) {
                hits.push(hit);
            }
        }
    }

    /// Every entry, for rebuilding.
    pub fn entries(&self) -> &[Arc<HotlistEntry>] {
        &self.entries
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

/// Decides whether `probe` matches an entry, and how well.
fn verify(
    probe: &Probe,
    region: Option<Region>,
    rule: RegionRule,
    compact: &Compact,
    entry: &Arc<HotlistEntry>,
) -> Option<Hit> {
    let comparison = compare(&probe.plate, &compact.plate)?;
    let kind = match_kind(&comparison, compact.tolerance, probe.candidate.is_some())?;
    let region_agrees = regions_agree(compact.region, region);
    if !region_agrees && rule == RegionRule::Reject {
        return None;
    }
    let mut score = base_score(kind, &comparison);
    if !region_agrees {
        score *= 0.5;
    }
    if probe.candidate.is_some() {
        score *= probe.confidence.unwrap_or(0.5).clamp(0.0, 1.0);
    }
    Some(Hit {
        entry: Arc::clone(entry),
        kind,
        score,
        distance: comparison.edit.cost(),
        differing: comparison.differing,
        candidate: probe.candidate.map(|index| super::CandidateHit {
            index,
            confidence: probe.confidence,
        }),
        region_mismatch: !region_agrees,
    })
}

/// The kind of match `comparison` is, if the tolerance allows it. OCR
/// candidates match only exactly or OCR-equivalently.
pub(crate) fn match_kind(comparison: &Comparison, tolerance: Tolerance, from_candidate: bool) -> Option<MatchKind> {
    if comparison.identical {
        return Some(MatchKind::Exact);
    }
    match (comparison.edit, tolerance) {
        (_, Tolerance::Exact) => None,
        (Edit::None, _) => Some(MatchKind::OcrEquivalent),
        (_, Tolerance::OcrEquivalent) => None,
        (edit, Tolerance::Fuzzy { max_cost }) => {
            (!from_candidate && edit.cost() <= max_cost).then_some(MatchKind::Fuzzy)
        }
    }
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
