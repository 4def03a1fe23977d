//! The per-read work, free of I/O: bytes in, alerts or a rejection out.
//!
//! The Kafka source calls [`Processor::process`] once per record and only
//! moves bytes; everything that decides what a read means happens here, so it
//! can be tested and benchmarked without a broker. It never panics on input
//! and never logs plate data.

use std::sync::Arc;

use crate::alert::Alert;
use crate::hotlist::{Hit, Matcher, Query};
use crate::normalize::{normalize, Plate};
use crate::read::{self, ReadError};

/// An alert ready for the alerts topic. Its `Debug` shows the payload's
/// length, not the JSON (which holds the plates).
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedAlert {
    /// The alert id, the record key.
    pub key: String,
    /// The JSON alert.
    pub payload: Vec<u8>,
    /// When the read was captured, in milliseconds since the Unix epoch:
    /// the record's timestamp, so retention counts from capture.
    pub captured_at_ms: i64,
    /// [`crate::alert::entry_hash`] of the entry: picks the partition, so
    /// every alert on one entry lands on one partition.
    pub entry_hash: u64,
}

impl std::fmt::Debug for EncodedAlert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodedAlert")
            .field("key", &self.key)
            .field("payload", &format_args!("<{} bytes>", self.payload.len()))
            .field("captured_at_ms", &self.captured_at_ms)
            .field("entry_hash", &self.entry_hash)
            .finish()
    }
}

/// What became of one record.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// A valid read that hit nothing.
    NoHit,
    /// A valid read with one alert per hit, best first.
    Alerts(Vec<EncodedAlert>),
    /// Not a usable read: the record goes to the dead-letter topic with this reason.
    Rejected(ReadError),
}

/// Parses, normalizes and matches reads against one matcher.
pub struct Processor {
    matcher: Arc<dyn Matcher>,
    max_record_bytes: usize,
    hits: Vec<Hit>,
    candidates: Vec<(Plate, Option<f32>)>,
    /// Alerts are marked historical: reads checked after the fact against entries new to a list.
    historical: bool,
    /// Reads captured longer ago than this (by the clock) are past the
    /// retention: rejected unprocessed.
    retention: Option<(std::time::Duration, crate::Clock)>,
    /// Per-read counts for the metrics, when counted ([`Processor::with_metrics`]).
    tally: Option<crate::metrics::ReadTally>,
}

impl Processor {
    pub fn new(matcher: Arc<dyn Matcher>, max_record_bytes: usize) -> Self {
        Processor {
            matcher,
            max_record_bytes,
            hits: Vec::new(),
            candidates: Vec::new(),
            historical: false,
            retention: None,
            tally: None,
        }
    }

    /// Rejects reads captured more than `retention` before `clock`'s now
    /// (policy section 9: a read past 30 days is not processed at all).
    pub fn with_retention(self, retention: std::time::Duration, clock: crate::Clock) -> Self {
        Processor {
            retention: Some((retention, clock)),
            ..self
        }
    }

    /// A processor for retained reads checked against entries new to a
    /// list: its alerts are marked historical.
    pub fn historical(matcher: Arc<dyn Matcher>, max_record_bytes: usize) -> Self {
        Processor {
            historical: true,
            ..Processor::new(matcher, max_record_bytes)
        }
    }

    /// Decides what one record means.
    fn decide(&mut self, payload: &[u8]) -> Outcome {
        let read = match read::parse(payload, self.max_record_bytes) {
            Ok(read) => read,
            Err(e) => return Outcome::Rejected(e),
        };
        if let Some(tally) = &mut self.tally {
            tally.camera(&read.camera_id, read.captured_at.timestamp_millis());
        }
        if let Some((retention, clock)) = &self.retention {
            let captured = std::time::SystemTime::from(read.captured_at);
            if clock().duration_since(captured).is_ok_and(|age| age > *retention) {
                let max_days = retention.as_secs() / 86_400;
                return Outcome::Rejected(ReadError::TooOld { max_days });
            }
        }
        let plate = match normalize(&read.plate) {
            Ok(plate) => plate,
            Err(e) => return Outcome::Rejected(ReadError::Plate(e)),
        };
        self.hits.clear();
        // OCR candidates are extra chances to match; one that cannot be a
        // plate is simply not used.
        self.candidates.clear();
        for candidate in &read.candidates {
            if let Ok(p) = normalize(&candidate.plate) {
                if p != plate && !self.candidates.iter().any(|(c, _)| *c == p) {
                    self.candidates.push((p, candidate.confidence));
                }
            }
        }
        let query = Query {
            plate,
            region: read.region,
            candidates: &self.candidates,
        };
        self.matcher.find(&query, &mut self.hits);
        if self.hits.is_empty() {
            return Outcome::NoHit;
        }
        let alerts = self
            .hits
            .drain(..)
            .map(|hit| {
                if let Some(tally) = &mut self.tally {
                    tally.matched(hit.kind, hit.entry.category, hit.tier);
                }
                let mut alert = Alert::new(&read, plate, &hit);
                alert.historical = self.historical;
                EncodedAlert {
                    key: alert.key(),
                    payload: alert.encode(),
                    captured_at_ms: read.captured_at.timestamp_millis(),
                    entry_hash: crate::alert::entry_hash(&hit.entry.list_id, &hit.entry.entry_id),
                }
            })
            .collect();
        Outcome::Alerts(alerts)
    }
}

impl Processor {
    /// Counts every read into a tally of `metrics` (no lock, no label
    /// lookup per read); [`Processor::flush_metrics`] folds it in.
    pub fn with_metrics(self, metrics: &crate::metrics::Metrics) -> Self {
        Processor {
            tally: Some(metrics.tally()),
            ..self
        }
    }

    /// Decides what one record means (and counts it, when counted).
    pub fn process(&mut self, payload: &[u8]) -> Outcome {
        let Some(started) = self.tally.as_mut().map(|t| t.start()) else {
            return self.decide(payload);
        };
        let outcome = self.decide(payload);
        let counted = match &outcome {
            Outcome::NoHit => crate::metrics::ReadOutcome::NoHit,
            Outcome::Alerts(_) => crate::metrics::ReadOutcome::Hit,
            Outcome::Rejected(_) => crate::metrics::ReadOutcome::Rejected,
        };
        if let Some(tally) = &mut self.tally {
            tally.read(counted, started);
        }
        outcome
    }

    /// Folds the reads counted since the last call into `metrics` (once per batch).
    pub fn flush_metrics(&mut self, metrics: &crate::metrics::Metrics) {
        if let Some(tally) = &mut self.tally {
            metrics.flush(tally);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hotlist::{load_csv, CsvLimits, LiveMatcher, TolerancePolicy};

    fn processor() -> Processor {
        let list = "entry_id,list_id,plate,region,category,priority\n\
                    e1,rso,7ABC123,CA,stolen_vehicle,1\n\
                    e2,amber,7ABC123,,amber,0\n";
        let entries = load_csv(list.as_bytes(), CsvLimits::default()).unwrap();
        Processor::new(Arc::new(LiveMatcher::new(entries, TolerancePolicy::default())), 4096)
    }

    fn read(plate: &str, region: &str) -> Vec<u8> {
        format!(
            r#"{{"read_id":"6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a","camera_id":"c1","captured_at":"2026-11-27T11:12:45Z","plate":"{plate}","region":"{region}"}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_hit_yields_one_alert_per_entry_most_urgent_first() {
        let Outcome::Alerts(alerts) = processor().process(&read("7abc-123", "ca")) else {
            panic!("expected alerts");
        };
        let entries: Vec<_> = alerts
            .iter()
            .map(|a| Alert::decode(&a.payload).unwrap().entry.entry_id)
            .collect();
        assert_eq!(entries, ["e2", "e1"]);
        for alert in &alerts {
            assert_eq!(alert.key, Alert::decode(&alert.payload).unwrap().alert_id.to_string());
        }
    }

    #[test]
    fn a_read_from_another_state_hits_region_free_entries_and_flags_the_others() {
        let Outcome::Alerts(alerts) = processor().process(&read("7ABC123", "NV")) else {
            panic!("expected alerts");
        };
        let decoded: Vec<Alert> = alerts.iter().map(|a| Alert::decode(&a.payload).unwrap()).collect();
        let got: Vec<(&str, bool)> = decoded
            .iter()
            .map(|a| (a.entry.entry_id.as_str(), a.matched.region_mismatch))
            .collect();
        assert_eq!(got, [("e2", false), ("e1", true)], "the CA entry is a possible match");
    }

    #[test]
    fn misses_and_rejections_are_told_apart() {
        let mut p = processor();
        assert_eq!(p.process(&read("9XYZ999", "CA")), Outcome::NoHit);
        match p.process(&read("7ABC#123", "CA")) {
            Outcome::Rejected(e) => assert_eq!(e.code(), "invalid_plate"),
            other => panic!("{other:?}"),
        }
        match p.process(b"{oops") {
            Outcome::Rejected(e) => assert_eq!(e.code(), "malformed_json"),
            other => panic!("{other:?}"),
        }
    }

    /// Policy section 9 with an injected clock: a read captured 29 days
    /// ago is matched; one captured 30 days and a minute ago is rejected
    /// unprocessed, its alert never made.
    #[test]
    fn a_read_past_the_retention_is_not_processed() {
        let captured: std::time::SystemTime = "2026-11-27T11:12:45Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
            .into();
        let at = |age: std::time::Duration| -> crate::Clock { Arc::new(move || captured + age) };
        let thirty_days = std::time::Duration::from_secs(30 * 86_400);
        let day = std::time::Duration::from_secs(86_400);
        let young = processor().with_retention(thirty_days, at(29 * day));
        assert!(matches!(young.process_owned(&read("7ABC123", "CA")), Outcome::Alerts(a) if a.len() == 2));
        let minute = std::time::Duration::from_secs(60);
        let old = processor().with_retention(thirty_days, at(30 * day + minute));
        assert_eq!(
            old.process_owned(&read("7ABC123", "CA")),
            Outcome::Rejected(ReadError::TooOld { max_days: 30 })
        );
        assert_eq!(ReadError::TooOld { max_days: 30 }.code(), "too_old");
    }

    impl Processor {
        fn process_owned(mut self, payload: &[u8]) -> Outcome {
            self.process(payload)
        }
    }
}
