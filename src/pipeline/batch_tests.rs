//! `process_batch` against `process`: every outcome the same, in order,
//! over hits, misses, OCR candidates, rejections and passes.

use std::sync::Arc;

use super::*;
use crate::alert::pass::PassSettings;
use crate::hotlist::{LiveMatcher, TolerancePolicy};
use crate::sample::{self, Rng};

/// A 3,000-entry list and a 200-entry fuzzy one; 500 records of one
/// camera a few hundred milliseconds apart (so passes form): a tenth listed
/// plates disguised, some with OCR candidates, some malformed, some with
/// plates that are not plates, some past the retention.
fn fixture() -> (Arc<LiveMatcher>, Vec<Vec<u8>>) {
    let mut rng = Rng::new(5);
    let mut entries = sample::hotlist(&mut rng, 3_000, "big");
    entries.extend(sample::hotlist(&mut rng, 200, "urgent"));
    let mut records = Vec::new();
    for i in 0..500usize {
        let plate = if i % 10 == 0 {
            let listed = entries[rng.below(entries.len())].plate.to_string();
            sample::disguise(&mut rng, &listed)
        } else {
            sample::random_plate(&mut rng).to_string()
        };
        let at = chrono::DateTime::from_timestamp_millis(
            1_795_000_000_000 + 400 * i as i64 - 5_000_000 * (i % 23 == 0) as i64 * 1_000,
        )
        .unwrap()
        .to_rfc3339();
        let record = match i {
            _ if i % 17 == 0 => b"{\"read_id\":".to_vec(),
            _ if i % 19 == 0 => sample::read_json(rng.uuid(), "cam-1", &at, "7A#C", Some("CA")),
            _ if i % 7 == 0 => {
                let listed = entries[rng.below(entries.len())].plate.to_string();
                format!(
                    r#"{{"read_id":"{}","camera_id":"cam-1","captured_at":"{at}","plate":"{plate}","candidates":[{{"plate":"{listed}","confidence":0.4}},{{"plate":"{plate}"}},{{"plate":"??"}}]}}"#,
                    rng.uuid()
                )
                .into_bytes()
            }
            _ => sample::read_json(rng.uuid(), "cam-1", &at, &plate, (i % 3 != 0).then_some("CA")),
        };
        records.push(record);
    }
    (Arc::new(LiveMatcher::new(entries, TolerancePolicy::default())), records)
}

fn processors(matcher: &Arc<LiveMatcher>, metrics: &crate::metrics::Metrics) -> [Processor; 2] {
    let now: std::time::SystemTime = chrono::DateTime::from_timestamp_millis(1_795_000_400_000)
        .unwrap()
        .into();
    let clock: crate::Clock = Arc::new(move || now);
    std::array::from_fn(|_| {
        Processor::new(matcher.clone(), 4096)
            .with_passes(PassSettings::default())
            .with_metrics(metrics)
            .with_retention(std::time::Duration::from_secs(30 * 86_400), clock.clone())
    })
}

#[test]
fn a_batch_decides_every_record_as_one_by_one_does() {
    let (matcher, records) = fixture();
    let metrics = crate::metrics::Metrics::new();
    let [mut one, mut many] = processors(&matcher, &metrics);
    let want: Vec<Outcome> = records.iter().map(|r| one.process(r)).collect();
    let mut got = Vec::new();
    // Batches of uneven sizes, across chunk boundaries.
    let mut rest = &records[..];
    for size in [1, 63, 64, 65, 130, 7].iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (batch, after) = rest.split_at((*size).min(rest.len()));
        many.process_batch(batch, &mut got);
        rest = after;
    }
    assert_eq!(got.len(), want.len());
    for (i, (got, want)) in got.iter().zip(&want).enumerate() {
        assert_eq!(got, want, "record {i}");
    }
    let count = |code: &str| {
        want.iter()
            .filter(|o| matches!(o, Outcome::Rejected(e) if e.code() == code))
            .count()
    };
    let alerts = want.iter().filter(|o| matches!(o, Outcome::Alerts(_))).count();
    assert_eq!(
        (
            count("malformed_json"),
            count("invalid_plate"),
            count("too_old"),
            alerts
        ),
        (30, 24, 20, 97),
        "the fixture has every kind of record"
    );
}
