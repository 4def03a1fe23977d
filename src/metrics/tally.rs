//! The per-read side of the metrics: a [`ReadTally`] the pipeline counts
//! into without a lock or a label lookup, folded into the registry once per
//! batch; and the bounded camera labels (learned up to [`MAX_CAMERAS`],
//! `other` beyond). A child of `metrics.rs` only to keep that file short.

use std::collections::HashMap;
use std::time::Instant;

use super::{unix_now, CameraSeries, Metrics, ReadOutcome, KINDS, MAX_CAMERAS, MAX_CAMERA_ID, OTHER_CAMERA};
use crate::hotlist::{Category, MatchKind};

impl Metrics {
    /// A tally for the per-read path of one pipeline, folded in by [`Metrics::flush`].
    pub fn tally(&self) -> ReadTally {
        ReadTally {
            outcomes: [0; 3],
            matches: vec![0; self.matches.len()],
            cameras: HashMap::new(),
            match_seconds: self.match_seconds.clone(),
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
    /// Reads and latest capture (ms) per camera id, since the last flush.
    cameras: HashMap<String, (u64, i64)>,
    /// The registry's histogram itself: an observation is a few atomic
    /// adds, no lock (a local histogram would make the tally not `Sync`).
    match_seconds: prometheus::Histogram,
}

impl ReadTally {
    /// When the read starts, for [`ReadTally::read`].
    pub fn start(&self) -> Instant {
        Instant::now()
    }

    /// One read's outcome and the time since `started`.
    pub fn read(&mut self, outcome: ReadOutcome, started: Instant) {
        self.outcomes[outcome as usize] += 1;
        self.match_seconds.observe(started.elapsed().as_secs_f64());
    }

    /// One hit, of `kind` on an entry of `category`.
    pub fn matched(&mut self, kind: MatchKind, category: Category) {
        let k = KINDS.iter().position(|x| *x == kind).unwrap_or(0);
        let c = Category::ALL.iter().position(|x| *x == category).unwrap_or(0);
        self.matches[k * Category::ALL.len() + c] += 1;
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
