//! One immutable generation of indexed entries: the plate index and the
//! patterns beside it, plus the identities of the entries it holds.
//!
//! A [`Snapshot`] is built once and never changed, so any number of readers
//! can search it without locks. The live matcher ([`super::live`]) keeps a
//! large one as its base and small ones for the changes made since.

use std::sync::Arc;

use super::budget::Census;
use super::index::{Index, Probe};
use super::pattern::PatternSet;
use super::store::{EntryKey, Source};
use super::tolerance::{RegionRule, TolerancePolicy};
use super::{EntryPlate, Hit, HotlistEntry, Query};

/// A 64-bit hash of an entry's identity `(list_id, entry_id)`.
///
/// Identities are compared by this hash; at a few million entries the
/// chance of two colliding is below one in a million.
pub fn key_hash(list_id: &str, entry_id: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().build_hasher();
    hasher.write(list_id.as_bytes());
    hasher.write_u8(0);
    hasher.write(entry_id.as_bytes());
    hasher.finish()
}

/// [`key_hash`] of an entry.
pub fn entry_hash(entry: &HotlistEntry) -> u64 {
    key_hash(&entry.list_id, &entry.entry_id)
}

/// [`key_hash`] of an entry to build from.
pub fn source_hash(source: &Source<'_>) -> u64 {
    key_hash(source.list_id(), source.entry_id())
}

/// Plates and patterns of a set of entries, indexed.
#[derive(Debug, Default)]
pub struct Snapshot {
    index: Index,
    patterns: PatternSet,
}

impl Snapshot {
    /// Indexes `entries`, giving each the tolerance `census` has for it.
    pub fn build(entries: &[Source<'_>], policy: &TolerancePolicy, census: &Census) -> Snapshot {
        let mut plates = Vec::with_capacity(entries.len());
        let mut patterns = Vec::new();
        for source in entries {
            match source {
                Source::Entry(entry) => match &entry.plate {
                    EntryPlate::Plate(plate) => plates.push((*source, *plate)),
                    EntryPlate::Pattern(pattern) => patterns.push((Arc::clone(entry), pattern.clone())),
                },
                Source::Packed { plate, .. } => plates.push((*source, *plate)),
            }
        }
        let index = Index::build(
            plates
                .into_iter()
                .map(|(source, plate)| (source, plate, census.tolerance(policy, &source, &plate))),
        );
        Snapshot {
            index,
            patterns: PatternSet::build(patterns),
        }
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.index.len() + self.patterns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry held, plates (packed) then patterns.
    pub fn sources(&self) -> impl Iterator<Item = Source<'_>> {
        self.index.sources().chain(self.patterns.entries().map(Source::Entry))
    }

    /// Bytes the plate index holds (see [`Index::heap_bytes`]).
    pub fn index_heap_bytes(&self) -> usize {
        self.index.heap_bytes()
    }

    /// Bytes the packed plate entries hold.
    pub fn store_heap_bytes(&self) -> usize {
        self.index.store_heap_bytes()
    }

    /// Appends every hit of `query` (the read and its OCR candidates).
    pub fn find(&self, query: &Query<'_>, policy: &TolerancePolicy, hits: &mut Vec<Hit>) {
        let probe = Probe {
            plate: query.plate,
            candidate: None,
            confidence: None,
        };
        self.index.find(&probe, query.region, policy, hits);
        if !self.patterns.is_empty() {
            self.patterns
                .find(&query.plate, query.region, policy.region == RegionRule::Reject, hits);
        }
        for (i, (plate, confidence)) in query.candidates.iter().enumerate() {
            let probe = Probe {
                plate: *plate,
                candidate: Some(i as u8),
                confidence: *confidence,
            };
            self.index.find(&probe, query.region, policy, hits);
        }
    }
}
