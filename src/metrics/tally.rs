//! The per-read side of the metrics: a [`ReadTally`] the pipeline counts
//! into without a lock or a label lookup, folded into the registry once per
//! batch; and the bounded camera labels (learned up to [`MAX_CAMERAS`],
//! `other` beyond). A child of `metrics.rs` only to keep that file short.

use std::collections::HashMap;
use std::time::Instant;

use super::{unix_now, CameraSeries, Metrics, ReadOutcome, KINDS, MAX_CAMERAS, MAX_CAMERA_ID, OTHER_CAMERA};
use crate::hotlist::{Category, MatchKind, Tier};

impl Metrics {
    /// A tally for the per-read path of one pipeline, folded in by [`Metrics::flush`].
    pub fn tally(&self) -> ReadTally {
        ReadTally {
            outcomes: [0; 3],
            matches: vec![0; self.matches.len()],
            possible: vec![0; self.possible_matches.len()],
            cameras: CameraMap::default(),
            match_seconds: self.match_seconds.clone(),
            started: 0,
        }
    }

    /// Folds a batch's tally into the registry and empties it: the one
    /// place the read counts take a lock (once per batch and camera).
    pub fn flush(&self, tally: &mut ReadTally) {
        for (counter, n) in self.read_outcomes.iter().zip(&mut tally.outcomes) {
            if *n > 0 {
                counter.inc_by(std::mem::take(n));
            }
        }
        for (counter, n) in self.matches.iter().zip(&mut tally.matches) {
            if *n > 0 {
                counter.inc_by(std::mem::take(n));
            }
        }
        for (counter, n) in self.possible_matches.iter().zip(&mut tally.possible) {
            if *n > 0 {
                counter.inc_by(std::mem::take(n));
            }
        }
        if tally.cameras.is_empty() {
            return;
        }
        let now = unix_now();
        let mut cameras = self.cameras.lock().expect("cameras lock");
        for (camera, (reads, captured_ms)) in tally.cameras.drain() {
            let series = self.camera_series(&mut cameras, &camera);
            series.reads.inc_by(reads);
            let seen = (captured_ms as f64 / 1000.0).min(now);
            if seen > series.last_read.get() {
                series.last_read.set(seen);
            }
        }
    }

    /// The camera label for `camera`: itself while fewer than
    /// [`MAX_CAMERAS`] are known and the id is a plain short name, else `other`.
    pub fn camera_label(&self, camera: &str) -> String {
        let mut cameras = self.cameras.lock().expect("cameras lock");
        self.camera_series(&mut cameras, camera);
        match cameras.contains_key(camera) {
            true => camera.to_owned(),
            false => OTHER_CAMERA.to_owned(),
        }
    }

    fn camera_series(&self, cameras: &mut HashMap<String, CameraSeries>, camera: &str) -> CameraSeries {
        if let Some(series) = cameras.get(camera) {
            return series.clone();
        }
        let plain = !camera.is_empty()
            && camera.len() <= MAX_CAMERA_ID
            && camera != OTHER_CAMERA
            && camera
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        let label = match plain && cameras.len() < MAX_CAMERAS {
            true => camera,
            false => OTHER_CAMERA,
        };
        let series = CameraSeries {
            last_read: self.camera_last_read.with_label_values(&[label]),
            reads: self.camera_reads.with_label_values(&[label]),
        };
        if label != OTHER_CAMERA {
            cameras.insert(camera.to_owned(), series.clone());
        }
        series
    }
}

/// The per-read counts of one pipeline between two flushes: no lock, no
/// label lookup, no allocation but a camera's first read in a batch.
pub struct ReadTally {
    outcomes: [u64; 3],
    matches: Vec<u64>,
    /// Possible matches by category.
    possible: Vec<u64>,
    /// Reads and latest capture (ms) per camera id, since the last flush.
    cameras: CameraMap,
    /// The registry's histogram itself: an observation is a few atomic
    /// adds, no lock (a local histogram would make the tally not `Sync`).
    match_seconds: prometheus::Histogram,
    /// Reads started, to time one in [`TIMED_EVERY`].
    started: u64,
}

/// One read in this many is timed into `match_duration_seconds`: reading
/// the clock twice and observing a histogram costs as much as 5% of a
/// read; a sample of one in 16 gives the same percentiles for a fraction.
pub const TIMED_EVERY: u64 = 16;

/// Per-batch camera map with an Fx-style word hash: SipHash costs more per
/// read than the rest of the tally. Not keyed, so ids could be made to
/// collide; the map holds at most one batch of reads
/// (`pipeline.batch_size`), which bounds what that could cost.
pub(super) type CameraMap = HashMap<String, (u64, i64), std::hash::BuildHasherDefault<WordHash>>;

/// rustc's FxHash step over 8-byte words (the last one zero-padded).
#[derive(Default)]
pub(super) struct WordHash(u64);

impl WordHash {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for WordHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }
}

impl ReadTally {
    /// A read starts: the time, for one read in [`TIMED_EVERY`] (the first included).
    pub fn start(&mut self) -> Option<Instant> {
        self.started += 1;
        (self.started % TIMED_EVERY == 1).then(Instant::now)
    }

    /// One read's outcome, and the time since `started` when it was timed.
    pub fn read(&mut self, outcome: ReadOutcome, started: Option<Instant>) {
        self.outcomes[outcome as usize] += 1;
        if let Some(started) = started {
            self.match_seconds.observe(started.elapsed().as_secs_f64());
        }
    }

    /// One hit, of `kind` on an entry of `category`, at `tier`.
    pub fn matched(&mut self, kind: MatchKind, category: Category, tier: Tier) {
        let k = KINDS.iter().position(|x| *x == kind).unwrap_or(0);
        let c = Category::ALL.iter().position(|x| *x == category).unwrap_or(0);
        self.matches[k * Category::ALL.len() + c] += 1;
        if tier == Tier::PossibleMatch {
            self.possible[c] += 1;
        }
    }

    /// A read from `camera`, captured at `captured_ms`.
    pub fn camera(&mut self, camera: &str, captured_ms: i64) {
        match self.cameras.get_mut(camera) {
            Some((reads, latest)) => {
                *reads += 1;
                *latest = (*latest).max(captured_ms);
            }
            None => {
                self.cameras.insert(camera.to_owned(), (1, captured_ms));
            }
        }
    }

    /// Reads counted since the last flush.
    pub fn reads(&self) -> u64 {
        self.outcomes.iter().sum()
    }
}
