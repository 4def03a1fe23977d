//! The per-read work, free of I/O: bytes in, alerts or a rejection out.
//!
//! The Kafka source calls [`Processor::process_batch`] on the records it
//! takes (or [`Processor::process`] on one) and only moves bytes; everything that decides what a read means happens here, so it
//! can be tested and benchmarked without a broker. It never panics on input
//! and never logs plate data.

pub mod replay_filter;

use std::sync::Arc;

use crate::alert::pass::{PassSettings, Passes};
use crate::alert::Alert;
use crate::hotlist::{Hit, Matcher, Query, QueryBatch};
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
    /// The reads of a batch being matched together, and where each one's
    /// hits end in `hits` ([`Processor::process_batch`]).
    queries: QueryBatch,
    ends: Vec<usize>,
    /// Alerts are marked historical: reads checked after the fact against entries new to a list.
    historical: bool,
    /// Reads captured longer ago than this (by the clock) are past the
    /// retention: rejected unprocessed.
    retention: Option<(std::time::Duration, crate::Clock)>,
    /// Per-read counts for the metrics, when counted ([`Processor::with_metrics`]).
    tally: Option<crate::metrics::ReadTally>,
    /// The reads of the last few seconds per camera, when hits are decided
    /// per pass ([`Processor::with_passes`]).
    passes: Option<Passes>,
}

impl Processor {
    pub fn new(matcher: Arc<dyn Matcher>, max_record_bytes: usize) -> Self {
        Processor {
            matcher,
            max_record_bytes,
            hits: Vec::new(),
            candidates: Vec::new(),
            queries: QueryBatch::default(),
            ends: Vec::new(),
            historical: false,
            retention: None,
            tally: None,
            passes: None,
        }
    }

    /// Decides hits on the evidence of every read of a vehicle's pass
    /// ([`crate::alert::pass`]): a later frame republishes the pass's alert,
    /// upgraded, under the same alert id.
    pub fn with_passes(self, settings: PassSettings) -> Self {
        Processor {
            passes: Some(Passes::new(settings)),
            ..self
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
        let (read, plate) = match self.prepare(payload) {
            Ok(prepared) => prepared,
            Err(e) => return Outcome::Rejected(e),
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
        let outcome = conclude(
            (&mut self.tally, &mut self.passes, self.historical),
            &read,
            plate,
            &self.hits,
        );
        self.hits.clear();
        outcome
    }

    /// Parses, checks and normalizes one record, before matching.
    fn prepare<'p>(&mut self, payload: &'p [u8]) -> Result<(read::PlateRead<'p>, Plate), ReadError> {
        let read = read::parse(payload, self.max_record_bytes)?;
        if let Some(tally) = &mut self.tally {
            tally.camera(&read.camera_id, read.captured_at.timestamp_millis());
        }
        if let Some((retention, clock)) = &self.retention {
            let captured = std::time::SystemTime::from(read.captured_at);
            if clock().duration_since(captured).is_ok_and(|age| age > *retention) {
                let max_days = retention.as_secs() / 86_400;
                return Err(ReadError::TooOld { max_days });
            }
        }
        let plate = normalize(&read.plate).map_err(ReadError::Plate)?;
        Ok((read, plate))
    }
}

/// What a matched read comes to, given its `hits`: counted, remembered for
/// its pass, and its alerts encoded (only when there are any).
fn conclude(
    (tally, passes, historical): (&mut Option<crate::metrics::ReadTally>, &mut Option<Passes>, bool),
    read: &read::PlateRead<'_>,
    plate: Plate,
    hits: &[Hit],
) -> Outcome {
    if let Some(tally) = tally {
        for hit in hits {
            tally.matched(hit.kind, hit.entry.category, hit.tier);
        }
    }
    let alerts = match passes {
        // A read without hits is remembered too: the next frame may hit.
        Some(passes) => passes.alerts(read, plate, hits),
        None if hits.is_empty() => Vec::new(),
        None => hits.iter().map(|hit| Alert::new(read, plate, hit)).collect(),
    };
    if alerts.is_empty() {
        return Outcome::NoHit;
    }
    let alerts = alerts
        .into_iter()
        .map(|mut alert| {
            alert.historical = historical;
            EncodedAlert {
                key: alert.key(),
                payload: alert.encode(),
                captured_at_ms: alert.earliest_capture_ms(),
                entry_hash: crate::alert::entry_hash(&alert.entry.list_id, &alert.entry.entry_id),
            }
        })
        .collect();
    Outcome::Alerts(alerts)
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

mod batch;
pub use batch::CHUNK as BATCH_CHUNK;

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

    /// A matcher that knows the answer: each plate's probability and tier.
    struct Stub(
        Vec<(&'static str, f32, crate::hotlist::Tier)>,
        Arc<crate::hotlist::HotlistEntry>,
    );

    impl Matcher for Stub {
        fn find(&self, query: &Query<'_>, hits: &mut Vec<Hit>) {
            for &(plate, probability, tier) in &self.0 {
                if query.plate.as_str() == plate {
                    hits.push(crate::alert::pass::tests::hit(&self.1, probability, tier));
                }
            }
        }
        fn len(&self) -> usize {
            1
        }
    }

    fn pass_processor() -> Processor {
        use crate::hotlist::Tier;
        let entry = crate::alert::pass::tests::entry("e1", "7ABC123");
        let stub = Stub(
            vec![("7ABC123", 0.97, Tier::Hit), ("7A8C12", 0.4, Tier::PossibleMatch)],
            entry,
        );
        Processor::new(Arc::new(stub), 4096).with_passes(crate::alert::pass::PassSettings::default())
    }

    fn alerts_of(outcome: Outcome) -> Vec<(EncodedAlert, Alert)> {
        let Outcome::Alerts(alerts) = outcome else {
            panic!("expected alerts, got {outcome:?}");
        };
        alerts
            .into_iter()
            .map(|a| {
                let decoded = Alert::decode(&a.payload).unwrap();
                (a, decoded)
            })
            .collect()
    }

    /// Issue 15's Done-when: a misread (alone a possible match) and a clean
    /// read 1.2 s later by the same camera are one pass: the clean read
    /// republishes the misread's alert id, upgraded to a hit, with both
    /// reads; folded like the board folds the topic, one incident with two
    /// sightings. Capture times drive the window, not a clock.
    #[test]
    fn a_misread_then_a_clean_read_within_the_window_is_one_alert_with_both_sightings() {
        use crate::alert::incident::{Added, Incidents};
        use crate::alert::pass::tests::record;
        use crate::hotlist::Tier;
        let mut p = pass_processor();
        let first = alerts_of(p.process(&record(1, "cam-1", 0, "7A8C12")));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].1.matched.tier, Tier::PossibleMatch);
        let second = alerts_of(p.process(&record(2, "cam-1", 1_200, "7ABC123")));
        assert_eq!(second.len(), 1);
        let (encoded, alert) = &second[0];
        assert_eq!(encoded.key, first[0].0.key, "one alert id for the pass");
        assert_eq!(alert.matched.tier, Tier::Hit);
        assert_eq!(alert.read.read_id, uuid::Uuid::from_u128(2), "the clean read is shown");
        let reads: Vec<_> = alert
            .pass
            .iter()
            .map(|r| (r.read.read_id.as_u128(), r.probability))
            .collect();
        assert_eq!(reads, [(1, Some(0.4)), (2, Some(0.97))]);
        assert_eq!(
            encoded.captured_at_ms, first[0].0.captured_at_ms,
            "timestamped by the first read"
        );
        let mut incidents = Incidents::new(std::time::Duration::from_secs(300));
        let id = first[0].1.alert_id;
        assert_eq!(incidents.add_alert(first[0].1.clone()), Added::Opened(id));
        assert_eq!(incidents.add_alert(alert.clone()), Added::Upgraded(id));
        assert_eq!(
            incidents.add_alert(alert.clone()),
            Added::Duplicate(id),
            "a redelivered copy"
        );
        assert_eq!(incidents.len(), 1);
        let incident = incidents.get(&id).unwrap();
        assert_eq!(incident.alert.matched.tier, Tier::Hit);
        let sightings: Vec<_> = incident.sightings.iter().map(|s| s.read_id.as_u128()).collect();
        assert_eq!(sightings, [1, 2]);
    }

    /// Outside the window (3.5 s later), the two reads are decided apart.
    #[test]
    fn a_misread_and_a_clean_read_outside_the_window_are_two_decisions() {
        use crate::alert::pass::tests::record;
        use crate::hotlist::Tier;
        let mut p = pass_processor();
        let first = alerts_of(p.process(&record(1, "cam-1", 0, "7A8C12")));
        let second = alerts_of(p.process(&record(2, "cam-1", 3_500, "7ABC123")));
        assert_ne!(second[0].0.key, first[0].0.key);
        assert_eq!(first[0].1.matched.tier, Tier::PossibleMatch);
        assert_eq!(second[0].1.matched.tier, Tier::Hit);
        assert!(first[0].1.pass.is_empty() && second[0].1.pass.is_empty());
    }

    /// A misread that hits nothing still belongs to the pass: the clean
    /// read's alert lists it, without evidence for the entry.
    #[test]
    fn a_misread_that_hit_nothing_is_listed_in_the_clean_reads_alert() {
        use crate::alert::pass::tests::record;
        let mut p = pass_processor();
        assert_eq!(p.process(&record(1, "cam-1", 0, "7A8C1Z3")), Outcome::NoHit);
        let alerts = alerts_of(p.process(&record(2, "cam-1", 700, "7ABC123")));
        let (encoded, alert) = &alerts[0];
        assert_eq!(
            alert.alert_id,
            crate::alert::alert_id(&uuid::Uuid::from_u128(1), "rso", "e1")
        );
        assert_eq!(encoded.key, alert.key());
        let reads: Vec<_> = alert
            .pass
            .iter()
            .map(|r| (r.read.read_id.as_u128(), r.probability))
            .collect();
        assert_eq!(reads, [(1, None), (2, Some(0.97))]);
        assert!(
            (alert.matched.probability - 0.97).abs() < 1e-6,
            "no evidence is no change"
        );
    }

    impl Processor {
        fn process_owned(mut self, payload: &[u8]) -> Outcome {
            self.process(payload)
        }
    }
}
