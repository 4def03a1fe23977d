//! Matching many probes at once, with the memory round trips of several
//! reads in flight together (issue 16).
//!
//! A lookup in a table far larger than the CPU caches is three dependent
//! steps: hash the keys, read their slots, read the candidates'
//! verification data. Each step waits on memory. [`Index::find`] overlaps
//! the round trips of one read's keys; [`Index::find_many`] overlaps those
//! of different reads too, the way hash joins and symmetric-delete engines
//! do: while read *n* is verified, read *n + d* has its slots read and its
//! candidates' data prefetched, and read *n + 2d* has its keys hashed and
//! their slots prefetched. Every probe goes through exactly the stages
//! [`Index::find`] runs, in order, so the hits and their order are the same
//! as calling it probe by probe. Nothing here allocates: the probes in
//! flight live in a small ring on the stack.

use super::{Candidates, Index, Probe, ProbeKeys};
use crate::hotlist::tolerance::TolerancePolicy;
use crate::hotlist::Hit;
use crate::normalize::Region;

/// Probes between one stage and the next: a read's slots are read this many
/// reads after they were prefetched, its candidates verified this many
/// after theirs were.
const AHEAD: usize = 4;
/// Room for every probe in flight (at most `2 * AHEAD + 1`).
const RING: usize = 16;

/// One probe in flight.
struct InFlight<T> {
    probe: Probe,
    region: Option<Region>,
    tag: T,
    keys: ProbeKeys,
    candidates: Candidates,
}

impl Index {
    /// Appends the hits of every probe to `hits`, probe after probe, exactly
    /// as [`Index::find`] would for each in turn; `done` is called after
    /// each probe's hits are appended, with the probe's `tag`, so the
    /// caller can add hits of its own between probes (patterns, levels).
    pub fn find_many<T: Copy>(
        &self,
        probes: impl Iterator<Item = (Probe, Option<Region>, T)>,
        policy: &TolerancePolicy,
        hits: &mut Vec<Hit>,
        mut done: impl FnMut(T, &Probe, &mut Vec<Hit>),
    ) {
        const { assert!(2 * AHEAD < RING) };
        let mut probes = probes.fuse();
        let mut ring: [Option<InFlight<T>>; RING] = std::array::from_fn(|_| None);
        // Probes hashed (stage 1), collected (stage 2) and verified (stage 3) so far.
        let (mut hashed, mut collected, mut verified) = (0usize, 0usize, 0usize);
        loop {
            while hashed < verified + 2 * AHEAD + 1 {
                let Some((probe, region, tag)) = probes.next() else {
                    break;
                };
                let keys = self.probe_keys(&probe);
                let slot = &mut ring[hashed % RING];
                match slot {
                    Some(flight) => {
                        flight.probe = probe;
                        flight.region = region;
                        flight.tag = tag;
                        flight.keys = keys;
                        flight.candidates.clear();
                    }
                    None => {
                        *slot = Some(InFlight {
                            probe,
                            region,
                            tag,
                            keys,
                            candidates: Candidates::default(),
                        })
                    }
                }
                hashed += 1;
            }
            while collected < hashed.min(verified + AHEAD + 1) {
                if let Some(flight) = &mut ring[collected % RING] {
                    self.collect(&flight.keys, &mut flight.candidates);
                }
                collected += 1;
            }
            if verified == hashed {
                break;
            }
            if let Some(flight) = &ring[verified % RING] {
                self.verify_all(&flight.probe, flight.region, policy, &flight.candidates, |hit| {
                    hits.push(hit)
                });
                done(flight.tag, &flight.probe, hits);
            }
            verified += 1;
        }
    }
}
