//! The whole pipeline in process against the real broker.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hotlist_matcher::alert::Alert;
use hotlist_matcher::hotlist::{load_csv_file, ExactMatcher};
use hotlist_matcher::kafka::source::{
    Source, DLQ_CODE_HEADER, DLQ_REASON_HEADER, DLQ_SOURCE_HEADER,
};
use hotlist_matcher::metrics::Metrics;
use hotlist_matcher::sample::{self, Rng};
use rdkafka::message::{Headers, Message, OwnedMessage};
use tokio_util::sync::CancellationToken;

use crate::common;

/// Five more broken records on top of the library's fifteen: twenty kinds.
fn twenty_malformed(rng: &mut Rng) -> Vec<(Vec<u8>, &'static str)> {
    let mut records = sample::malformed_records(rng, 65536);
    let id = rng.uuid();
    records.extend([
        (b"\"just a string\"".to_vec(), "schema"),
        (
            format!(r#"{{"read_id":"{id}","captured_at":"2026-11-27T03:00:00Z","plate":"7ABC123"}}"#).into_bytes(),
            "schema",
        ),
        (
            format!(r#"{{"read_id":"{id}","camera_id":"c","captured_at":"2026-11-27T03:00:00Z","plate":"7ABC123","location":{{"lat":33.7,"lon":-200}}}}"#).into_bytes(),
            "invalid_field",
        ),
        (vec![0x00, 0x01, 0x02, 0xC3], "invalid_utf8"),
        (
            format!(r#"{{"read_id":"{id}","camera_id":"c","captured_at":"2026-11-27T03:00:00Z","plate":"名古屋"}}"#).into_bytes(),
            "invalid_plate",
        ),
    ]);
    assert_eq!(records.len(), 20);
    records
}

fn header<'a>(message: &'a OwnedMessage, name: &str) -> &'a str {
    let headers = message.headers().expect("dead letters carry headers");
    let found = headers
        .iter()
        .find(|h| h.key == name)
        .expect("header present");
    std::str::from_utf8(found.value.expect("header has a value")).expect("utf-8 header")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_reads_yield_exactly_the_planted_alerts_and_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("pipeline");
    let hotlist_path = dir.path().join("hotlist.csv");
    let config = common::config(&prefix, &hotlist_path, 1000);
    common::create_topics(&config).await;

    let mut rng = Rng::new(11);
    let entries = sample::hotlist(&mut rng, 1000, "it-stolen");
    common::write_hotlist(&hotlist_path, &entries);
    let malformed = twenty_malformed(&mut rng);
    let stream = common::stream(&mut rng, &entries, 10_000, 100, malformed);
    common::produce(&config, &config.topics.reads, &stream.records).await;

    let matcher = Arc::new(ExactMatcher::new(
        load_csv_file(&hotlist_path, config.hotlist.limits).unwrap(),
    ));
    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let source = Source::new(&config, matcher, metrics.clone()).unwrap();
    let running = tokio::spawn(source.run(shutdown.clone()));

    let alerts_reader = common::reader(&config, &config.topics.alerts);
    let mut alerts = Vec::new();
    let want = stream.expected_alerts.len();
    common::drain_until(&alerts_reader, &mut alerts, Duration::from_secs(120), |m| {
        m.len() >= want
    })
    .await;
    let dlq_reader = common::reader(&config, &config.topics.dlq);
    let mut dead = Vec::new();
    common::drain_until(&dlq_reader, &mut dead, Duration::from_secs(60), |m| {
        m.len() >= 20
    })
    .await;
    // Wait for the last batch to be counted, then give stray extras a chance to show.
    for _ in 0..300 {
        if metrics.reads.get() == 10_020 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    common::drain_until(
        &alerts_reader,
        &mut alerts,
        Duration::from_millis(500),
        |_| false,
    )
    .await;
    common::drain_until(&dlq_reader, &mut dead, Duration::from_millis(500), |_| {
        false
    })
    .await;
    shutdown.cancel();
    running.await.unwrap().unwrap();

    assert_eq!(common::alert_ids(&alerts), stream.expected_alerts);
    assert_eq!(alerts.len(), 100, "no duplicate alerts without a crash");
    for message in &alerts {
        let alert = Alert::decode(message.payload().unwrap()).unwrap();
        assert_eq!(
            message.key().unwrap(),
            alert.alert_id.to_string().as_bytes()
        );
        assert_eq!(
            alert.read.plate, alert.entry.plate,
            "canonical read plate equals the entry's"
        );
    }

    let expected: HashMap<&[u8], &str> = stream
        .malformed
        .iter()
        .map(|(b, c)| (b.as_slice(), *c))
        .collect();
    assert_eq!(dead.len(), 20);
    for message in &dead {
        let payload = message.payload().unwrap_or_default();
        let code = expected
            .get(payload)
            .expect("dead letter carries the original bytes unchanged");
        assert_eq!(header(message, DLQ_CODE_HEADER), *code);
        assert!(!header(message, DLQ_REASON_HEADER).is_empty());
        assert!(
            header(message, DLQ_SOURCE_HEADER).starts_with(&format!("{}/", config.topics.reads))
        );
    }

    assert_eq!(metrics.reads.get(), 10_020);
    assert_eq!(metrics.hits.get(), 100);
    assert_eq!(metrics.alerts.get(), 100);
    assert_eq!(metrics.dlq_total(), 20);
    assert_eq!(
        common::lag(&config, &config.kafka.group_id, &config.topics.reads),
        0,
        "every offset committed at shutdown"
    );
}
