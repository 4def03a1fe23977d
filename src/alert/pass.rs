//! Passes: a vehicle read in several frames is one piece of evidence.
//!
//! A camera reads a passing vehicle in several frames, and the OCR engine
//! may get one frame wrong and the next right. Deciding per frame turns a
//! misread followed by a clean read into a possible match plus a separate
//! hit, or loses the misread's evidence altogether. [`Passes`] remembers,
//! per camera, the reads of the last `window` of capture time with their
//! hits; a read of the same camera within the window of a remembered read,
//! whose text is within one edit of it after OCR canonicalisation
//! ([`crate::hotlist::confusion::compare`]), belongs to that read's pass.
//!
//! Every hit of a read is decided on the pass's combined evidence for its
//! entry ([`combine`]), and the alert's id is derived from the pass's first
//! read that hit the entry or hit nothing ([`super::alert_id`]), so a later
//! frame republishes the same alert id, upgraded, listing those reads
//! ([`Alert::pass`]): the compacted alerts topic and the board's fold by
//! alert id keep one alert. A read that hit only other entries is another
//! vehicle's evidence: it is neither listed nor counted.
//! Nothing is held back: each read's alert goes out at once (zero delay).
//!
//! The memory is per process. One camera's reads must reach one instance
//! for its passes to be whole (reads keyed by camera id, as
//! `docs/SCHEMAS.md` recommends); a pass cut in two, by a restart, a
//! rebalance or the bounds below, gives two alerts at worst, never a lost
//! one. Time is the reads' capture time, never a wall clock, so a replay
//! decides exactly as the first run did. Memory is bounded per camera
//! (`max_reads_per_camera`, oldest forgotten first) and overall
//! (`max_cameras`); forgetting only cuts passes. Pure: no I/O, no logging.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{alert_id, Alert, AlertRead};
use crate::hotlist::confusion::compare;
use crate::hotlist::{Hit, Tier};
use crate::normalize::Plate;
use crate::read::PlateRead;

/// Most hits remembered per read (best first); alerts are still made for all.
pub const MAX_REMEMBERED_HITS: usize = 32;

/// Each piece of evidence is clamped to odds of 999 to 1 either way, so no
/// single read is infinitely sure.
const MAX_ODDS: f64 = 999.0;

/// How reads are grouped into passes (`[pipeline]` `pass_*` keys).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PassSettings {
    /// Reads of one camera this close in capture time, with similar text,
    /// are one pass. Zero turns grouping off: every read decides alone.
    pub window: Duration,
    /// Most reads remembered per camera; a flooding camera forgets its oldest.
    pub max_reads_per_camera: usize,
    /// Most cameras remembered at once; past it the idle are forgotten,
    /// then, if still too many, all.
    pub max_cameras: usize,
    /// Combined probability at which a pass of several distinct readings,
    /// none a hit alone, becomes a hit.
    pub hit_probability: f32,
}

impl Default for PassSettings {
    fn default() -> Self {
        PassSettings {
            window: Duration::from_secs(3),
            max_reads_per_camera: 32,
            max_cameras: 10_000,
            hit_probability: 0.9,
        }
    }
}

/// One read of a pass, as an alert lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassRead {
    pub read: AlertRead,
    /// This read's evidence that it came from the alert's entry; `None`
    /// when it did not match the entry (grouped by camera, time and text).
    pub probability: Option<f32>,
}

/// The evidence one hit gives: its probability, weighted by the OCR
/// candidate's confidence when a candidate (not the read itself) matched:
/// a candidate at confidence `c` moves the odds `c` of the way from even.
pub fn evidence(hit: &Hit) -> f32 {
    let p = hit.probability.clamp(0.0, 1.0);
    match hit.candidate.and_then(|c| c.confidence) {
        Some(c) if c.is_finite() => {
            let c = c.clamp(0.0, 1.0);
            c * p + (1.0 - c) * 0.5
        }
        _ => p,
    }
}

/// Naive Bayes on the odds: each piece of evidence is a probability from
/// an even prior, and independent pieces multiply their odds. The caller
/// passes one piece per distinct reading: frames that repeat the same text
/// repeat the same OCR error and are not independent.
pub fn combine(evidence: impl IntoIterator<Item = f32>) -> f32 {
    let log_odds: f64 = evidence
        .into_iter()
        .map(|p| {
            let p = f64::from(p);
            let limit = MAX_ODDS.ln();
            if p.is_nan() {
                0.0
            } else {
                (p / (1.0 - p)).ln().clamp(-limit, limit)
            }
        })
        .sum();
    (1.0 / (1.0 + (-log_odds).exp())) as f32
}

/// A read remembered for the window.
struct Remembered {
    /// The read, its camera id left out (the camera's own) and its plates
    /// kept unformatted: made into an [`AlertRead`] only when listed.
    read: Compact,
    /// `read.captured_at` in ms since the epoch.
    at: i64,
    plate: Plate,
    /// The first read id of its pass.
    pass: Uuid,
    hits: Vec<Hit>,
}

/// What an [`AlertRead`] holds, cheap to keep for every read of the window.
struct Compact {
    read_id: Uuid,
    captured_at: chrono::DateTime<chrono::FixedOffset>,
    plate_raw: Box<str>,
    region: Option<crate::normalize::Region>,
    confidence: Option<f32>,
    location: Option<crate::read::Location>,
    image_ref: Option<Box<str>>,
}

impl Compact {
    fn of(read: &PlateRead<'_>) -> Compact {
        Compact {
            read_id: read.read_id,
            captured_at: read.captured_at,
            plate_raw: read.plate.as_ref().into(),
            region: read.region,
            confidence: read.confidence,
            location: read.location,
            image_ref: read.image_ref.as_deref().map(Into::into),
        }
    }
}

impl Remembered {
    fn alert_read(&self, camera_id: &str) -> AlertRead {
        let r = &self.read;
        AlertRead {
            read_id: r.read_id,
            camera_id: camera_id.to_owned(),
            captured_at: r.captured_at,
            plate_raw: r.plate_raw.to_string(),
            plate: self.plate.to_string(),
            region: r.region.map(|region| region.to_string()),
            confidence: r.confidence,
            location: r.location,
            image_ref: r.image_ref.as_deref().map(str::to_owned),
        }
    }

    fn hit_on(&self, list_id: &str, entry_id: &str) -> Option<&Hit> {
        self.hits
            .iter()
            .find(|h| h.entry.list_id == list_id && h.entry.entry_id == entry_id)
    }
}

#[derive(Default)]
struct Camera {
    /// By arrival; those outside the window of each new read are forgotten.
    reads: VecDeque<Remembered>,
    /// The capture time of the last read, in ms since the epoch.
    last: Option<i64>,
}

/// The reads of the last window, per camera, and the decisions on them.
pub struct Passes {
    settings: PassSettings,
    /// The window in milliseconds: times are compared as integers, a
    /// `DateTime` difference per remembered read costing more than the match.
    window_ms: u64,
    cameras: HashMap<String, Camera>,
}

impl Passes {
    pub fn new(settings: PassSettings) -> Passes {
        Passes {
            window_ms: u64::try_from(settings.window.as_millis()).unwrap_or(u64::MAX),
            settings,
            cameras: HashMap::new(),
        }
    }

    /// Reads remembered, over every camera.
    pub fn remembered(&self) -> usize {
        self.cameras.values().map(|c| c.reads.len()).sum()
    }

    /// Cameras remembered.
    pub fn cameras(&self) -> usize {
        self.cameras.len()
    }

    /// The alerts of one read whose canonical plate is `plate` and whose
    /// hits are `hits` (best first): one per hit, decided on its pass.
    pub fn alerts(&mut self, read: &PlateRead<'_>, plate: Plate, hits: &[Hit]) -> Vec<Alert> {
        if self.settings.window.is_zero() {
            return hits.iter().map(|hit| Alert::new(read, plate, hit)).collect();
        }
        let (settings, window) = (self.settings, self.window_ms);
        let at = read.captured_at.timestamp_millis();
        let camera = self.camera(&read.camera_id, at);
        camera.last = Some(at);
        // Within the window of this read, either way: a read with a hostile
        // capture time forgets the camera's passes once, no more.
        camera.reads.retain(|r| r.at.abs_diff(at) <= window);
        let pass = match camera.reads.iter().find(|r| r.read.read_id == read.read_id) {
            Some(again) => again.pass, // a redelivered read: already remembered
            None => {
                let pass = camera
                    .reads
                    .iter()
                    .rev()
                    .find(|r| compare(&plate, &r.plate).is_some())
                    .map_or(read.read_id, |r| r.pass);
                camera.reads.push_back(Remembered {
                    read: Compact::of(read),
                    at,
                    plate,
                    pass,
                    hits: hits.iter().take(MAX_REMEMBERED_HITS).cloned().collect(),
                });
                while camera.reads.len() > settings.max_reads_per_camera.max(1) {
                    camera.reads.pop_front();
                }
                pass
            }
        };
        if hits.is_empty() {
            return Vec::new(); // remembered for the next frames; nothing to decide
        }
        let reads: Vec<&Remembered> = camera.reads.iter().filter(|r| r.pass == pass).collect();
        hits.iter()
            .map(|hit| decide(&settings, &reads, read, plate, hit))
            .collect()
    }

    /// The memory of `camera_id`, making room for it within `max_cameras`:
    /// first by forgetting cameras not heard from within the window of `at`.
    fn camera(&mut self, camera_id: &str, at: i64) -> &mut Camera {
        if self.cameras.contains_key(camera_id) {
            return self.cameras.get_mut(camera_id).expect("just found");
        }
        let most = self.settings.max_cameras.max(1);
        if self.cameras.len() >= most {
            let window = self.window_ms;
            self.cameras
                .retain(|_, c| c.last.is_some_and(|last| last.abs_diff(at) <= window));
            if self.cameras.len() >= most {
                self.cameras.clear(); // a flood of cameras: passes are cut, nothing lost
            }
        }
        self.cameras.entry(camera_id.to_owned()).or_default() // allocated once per camera
    }
}

/// The alert on `hit`'s entry from the evidence of every read of the pass.
///
/// The reads listed for an entry are those of the pass that hit it or hit
/// nothing (a misread of it, likely); a read that hit only other entries
/// is evidence of another vehicle and is left out. The alert id is that
/// of the first listed read.
fn decide(settings: &PassSettings, pass: &[&Remembered], read: &PlateRead<'_>, plate: Plate, hit: &Hit) -> Alert {
    let (list_id, entry_id) = (&hit.entry.list_id, &hit.entry.entry_id);
    let reads: Vec<&Remembered> = pass
        .iter()
        .copied()
        .filter(|r| r.hits.is_empty() || r.hit_on(list_id, entry_id).is_some())
        .collect();
    let mut alert = Alert::new(read, plate, hit);
    let first = reads.first().map_or(read.read_id, |r| r.read.read_id);
    alert.alert_id = alert_id(&first, list_id, entry_id);
    if reads.len() < 2 {
        return alert;
    }
    // One piece of evidence per distinct reading, its strongest.
    let mut best: Vec<(Plate, f32, &Remembered, &Hit)> = Vec::new();
    for r in &reads {
        let Some(h) = r.hit_on(list_id, entry_id) else {
            continue;
        };
        let e = evidence(h);
        match best.iter_mut().find(|(p, ..)| *p == r.plate) {
            Some(slot) if slot.1 >= e => {}
            Some(slot) => *slot = (r.plate, e, r, h),
            None => best.push((r.plate, e, r, h)),
        }
    }
    if let Some(&(_, _, strongest, strongest_hit)) = best.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        alert = Alert::of(strongest.alert_read(&read.camera_id), strongest_hit);
        alert.alert_id = alert_id(&first, list_id, entry_id);
    }
    if best.len() >= 2 {
        // Several readings: their combined evidence; never below a hit
        // that one of them is alone.
        let combined = combine(best.iter().map(|b| b.1));
        let any_hit = best.iter().any(|b| b.3.tier == Tier::Hit);
        alert.matched.probability = combined;
        alert.matched.tier = if any_hit || combined >= settings.hit_probability {
            Tier::Hit
        } else {
            Tier::PossibleMatch
        };
    }
    let mut listed: Vec<PassRead> = reads
        .iter()
        .map(|r| PassRead {
            read: r.alert_read(&read.camera_id),
            probability: r.hit_on(list_id, entry_id).map(evidence),
        })
        .collect();
    listed.sort_by_key(|p| p.read.captured_at);
    alert.pass = listed;
    alert
}

#[cfg(test)]
#[path = "pass_tests.rs"]
pub(crate) mod tests;
