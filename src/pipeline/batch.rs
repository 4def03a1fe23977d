//! Deciding many records at once (issue 16): the same outcomes as
//! [`Processor::process`] record by record, with the reads matched together
//! ([`crate::hotlist::Matcher::find_batch`]), so that the matcher overlaps
//! the memory round trips of several reads instead of waiting on each.
//!
//! Records are taken in chunks: every record of a chunk is parsed,
//! checked and normalized, then the chunk's reads are matched in one call,
//! then each read's hits are counted, remembered for its pass and encoded,
//! in order. The parsed reads of a chunk borrow their records and live on
//! the stack, and the query and hit buffers are the processor's, reused:
//! a read that hits nothing allocates nothing here either.

use std::time::Instant;

use super::{conclude, Outcome, Processor};
use crate::normalize::{normalize, Plate};
use crate::read::{PlateRead, ReadError};

/// Records decided together: enough for the matcher to keep several
/// reads' lookups in flight, few enough for their parsed reads to sit on
/// the stack.
pub const CHUNK: usize = 64;

impl Processor {
    /// Decides what each record of `payloads` means, appending one outcome
    /// per record to `outcomes`, in order: exactly what
    /// [`Processor::process`] would say of each in turn (and counted the
    /// same, when counted), with the reads matched in batches.
    pub fn process_batch<P: AsRef<[u8]>>(&mut self, payloads: &[P], outcomes: &mut Vec<Outcome>) {
        for chunk in payloads.chunks(CHUNK) {
            self.process_chunk(chunk, outcomes);
        }
    }

    fn process_chunk<P: AsRef<[u8]>>(&mut self, payloads: &[P], outcomes: &mut Vec<Outcome>) {
        let started = self.tally.is_some().then(Instant::now);
        let mut timed = [false; CHUNK];
        let mut prepared: [Option<Result<(PlateRead<'_>, Plate), ReadError>>; CHUNK] = std::array::from_fn(|_| None);
        self.queries.clear();
        for (i, payload) in payloads.iter().enumerate() {
            if let Some(tally) = &mut self.tally {
                timed[i] = tally.start().is_some();
            }
            let result = self.prepare(payload.as_ref());
            if let Ok((read, plate)) = &result {
                self.queries.push(*plate, read.region);
                // OCR candidates are extra chances to match; one that
                // cannot be a plate is simply not used.
                for candidate in &read.candidates {
                    if let Ok(p) = normalize(&candidate.plate) {
                        self.queries.push_candidate(p, candidate.confidence);
                    }
                }
            }
            prepared[i] = Some(result);
        }
        self.hits.clear();
        self.ends.clear();
        self.matcher.find_batch(&self.queries, &mut self.hits, &mut self.ends);
        // A timed read is given its share of the chunk's time.
        let share = started.map(|at| at.elapsed() / payloads.len() as u32);
        let mut query = 0;
        for (i, result) in prepared.iter_mut().take(payloads.len()).enumerate() {
            let outcome = match result.take() {
                Some(Ok((read, plate))) => {
                    let start = if query == 0 { 0 } else { self.ends[query - 1] };
                    let hits = &self.hits[start..self.ends[query]];
                    query += 1;
                    conclude((&mut self.tally, &mut self.passes, self.historical), &read, plate, hits)
                }
                Some(Err(e)) => Outcome::Rejected(e),
                None => unreachable!("every record of the chunk was prepared"),
            };
            if let Some(tally) = &mut self.tally {
                let counted = match &outcome {
                    Outcome::NoHit => crate::metrics::ReadOutcome::NoHit,
                    Outcome::Alerts(_) => crate::metrics::ReadOutcome::Hit,
                    Outcome::Rejected(_) => crate::metrics::ReadOutcome::Rejected,
                };
                let as_if_started = share.filter(|_| timed[i]).and_then(|d| Instant::now().checked_sub(d));
                tally.read(counted, as_if_started);
            }
            outcomes.push(outcome);
        }
        self.hits.clear();
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
