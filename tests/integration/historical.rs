//! Historical hits are raised once per (read, entry), never again by a
//! nightly re-upload, and never beside a real-time alert.

use std::sync::Arc;
use std::time::Duration;

use hotlist_matcher::alert::Alert;
use hotlist_matcher::hotlist::{HotlistEntry, Matcher};
use hotlist_matcher::kafka::hotlist::{self as kafka_hotlist, UploadOutcome, UploadReport};
use hotlist_matcher::sample::{self, Rng};
use rdkafka::message::OwnedMessage;
use rdkafka::Message;
use tokio_util::sync::CancellationToken;

use crate::common;
use hotlist_matcher::kafka::day_keys::Keyring;

async fn upload(config: &hotlist_matcher::config::Config, entries: &[Arc<HotlistEntry>]) -> UploadReport {
    match kafka_hotlist::upload(config, "rso-stolen", entries, "RSO", true)
        .await
        .unwrap()
    {
        UploadOutcome::Done(report) => report,
        other => panic!("{other:?}"),
    }
}

/// The same entries with a new description, as a nightly extract sends them.
fn redescribed(entries: &[Arc<HotlistEntry>], night: u32) -> Vec<Arc<HotlistEntry>> {
    entries
        .iter()
        .map(|e| {
            let mut e = (**e).clone();
            e.description = format!("night {night}");
            Arc::new(e)
        })
        .collect()
}

/// Every record on the alerts topic, read again from the start.
async fn alert_records(config: &hotlist_matcher::config::Config, at_least: usize) -> Vec<OwnedMessage> {
    let reader = common::reader(config, &config.topics.alerts);
    let mut records = Vec::new();
    common::drain_until(&reader, &mut records, Duration::from_secs(30), |m| m.len() >= at_least).await;
    // Anything more would show up within this time.
    common::drain_until(&reader, &mut records, Duration::from_secs(2), |_| false).await;
    records
}

fn historical(keyring: &Keyring, records: &[OwnedMessage]) -> Vec<Alert> {
    records
        .iter()
        .map(|m| Alert::decode(&common::opened(keyring, m)).unwrap())
        .filter(|a| a.historical)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_uploads_never_re_alert_and_a_new_plate_alerts_once_from_retained_reads() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("historical");
    let config = common::config(&prefix, &dir.path().join("h.csv"), 100);
    common::create_topics(&config).await;
    // The whole service, in process, as `serve` runs it.
    common::write_hotlist(
        config.hotlist.path.as_ref().expect("the test config names a file"),
        &sample::hotlist(&mut Rng::new(1), 1, "local-file"),
    );
    let shutdown = CancellationToken::new();
    let running = hotlist_matcher::app::run(config.clone(), shutdown.clone())
        .await
        .unwrap();
    let (matcher, metrics) = (running.matcher.clone(), running.metrics.clone());

    let list = sample::hotlist(&mut Rng::new(19), 100, "rso-stolen");
    let first = upload(&config, &list).await;
    assert_eq!((first.added, first.historical_alerts), (100, 0));
    while matcher.len() < 101 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Ten listed plates seen an hour ago, and one plate nobody lists yet.
    let captured = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let mut reads: Vec<Vec<u8>> = list[..10]
        .iter()
        .map(|e| sample::read_json(uuid::Uuid::new_v4(), "cam-3", &captured, &e.plate.to_string(), None))
        .collect();
    let unlisted_read = uuid::Uuid::new_v4();
    reads.push(sample::read_json(unlisted_read, "cam-4", &captured, "NEW00019", None));
    common::produce(&config, &config.topics.reads, &reads).await;
    assert_eq!(alert_records(&config, 10).await.len(), 10, "ten alerts in real time");
    while metrics.reads.get() < 11 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Two nightly re-uploads that only change descriptions check nothing.
    for night in 1..=2 {
        let report = upload(&config, &redescribed(&list, night)).await;
        assert_eq!(
            (report.changed, report.added, report.historical_alerts),
            (100, 0, 0),
            "night {night}"
        );
    }
    let records = alert_records(&config, 10).await;
    assert_eq!(records.len(), 10, "exactly the real-time alert records");
    assert!(
        historical(&running.keyring, &records).is_empty(),
        "none republished as historical"
    );

    // The list gains the plate read an hour ago: one historical alert.
    let mut grown = redescribed(&list, 3);
    let new_entry = sample::replacement(&list, 19).added;
    assert_eq!(new_entry.plate.to_string(), "NEW00019");
    grown.push(new_entry);
    let report = upload(&config, &grown).await;
    assert_eq!((report.added, report.changed, report.historical_alerts), (1, 100, 1));
    let records = alert_records(&config, 11).await;
    assert_eq!(records.len(), 11);
    let found = historical(&running.keyring, &records);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].read.read_id, unlisted_read);
    assert_eq!(found[0].entry.entry_id, "new-19");
    let record = records
        .iter()
        .find(|m| Alert::decode(&common::opened(&running.keyring, m)).unwrap().historical)
        .unwrap();
    let captured_ms = chrono::DateTime::parse_from_rfc3339(&captured)
        .unwrap()
        .timestamp_millis();
    assert_eq!(
        record.timestamp().to_millis(),
        Some(captured_ms),
        "a historical alert carries the read's capture time"
    );

    // Further re-uploads, with or without new descriptions, add none.
    let again = upload(&config, &grown).await;
    assert_eq!((again.unchanged, again.historical_alerts), (101, 0));
    let report = upload(&config, &redescribed(&grown, 4)).await;
    assert_eq!((report.changed, report.historical_alerts), (101, 0));
    assert_eq!(
        alert_records(&config, 11).await.len(),
        11,
        "still one alert per (read, entry)"
    );
    shutdown.cancel();
    running.wait().await.unwrap();
}
