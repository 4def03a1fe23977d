//! Encryption at rest with crypto-shredding, against the real broker: what
//! the service writes about a read is sealed under the day key of its
//! capture; 29 days on it opens on every instance; 30 days and a minute on
//! the key is destroyed on every instance (and on the topic), so copies
//! taken off the broker earlier open nowhere, and the board has forgotten
//! the incident.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use hotlist_matcher::dispatch::board::{self, Board};
use hotlist_matcher::hotlist::LiveMatcher;
use hotlist_matcher::kafka::day_keys::{Keyring, KeyringError, SEALED_HEADER};
use hotlist_matcher::kafka::source::Source;
use hotlist_matcher::metrics::Metrics;
use hotlist_matcher::retention::seal::day_id;
use hotlist_matcher::sample::{self, Rng};
use hotlist_matcher::Clock;
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common;

const DAY: i64 = 86_400;

/// A clock `offset` seconds ahead of the real one.
fn shifted(offset: &Arc<AtomicI64>) -> Clock {
    let offset = Arc::clone(offset);
    Arc::new(move || {
        let shift = offset.load(Ordering::Relaxed);
        SystemTime::now() + Duration::from_secs(shift as u64)
    })
}

fn header<'a>(message: &'a OwnedMessage, name: &str) -> Option<&'a [u8]> {
    message.headers()?.iter().find(|h| h.key == name)?.value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroyed_day_key_leaves_every_copy_unreadable_on_every_instance() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(&common::unique("shred"), &dir.path().join("h.csv"), 10);
    common::create_topics(&config).await;
    let entries = sample::hotlist(&mut Rng::new(13), 1, "stolen");
    let plate = entries[0].plate.to_string();
    // Captured a minute before midnight UTC: the last minute of its day.
    let midnight = Utc::now().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let captured: DateTime<Utc> = midnight - chrono::Duration::minutes(1);
    let read = sample::read_json(Uuid::new_v4(), "cam-s", &captured.to_rfc3339(), &plate, None);
    // Cameras stamp their records with the capture time; a dead letter
    // keeps that stamp, and is sealed under its day.
    let producer: rdkafka::producer::FutureProducer =
        hotlist_matcher::kafka::client_config(&config.kafka).create().unwrap();
    for payload in [read, b"{ not json".to_vec()] {
        let record = rdkafka::producer::FutureRecord::<(), [u8]>::to(&config.topics.reads)
            .payload(&payload)
            .timestamp(captured.timestamp_millis());
        producer.send(record, Duration::from_secs(10)).await.unwrap();
    }

    // Two instances' day keys, on one shifted clock; A runs the source, B the board.
    let offset = Arc::new(AtomicI64::new(0));
    let shutdown = CancellationToken::new();
    let (metrics_a, metrics_b) = (Metrics::new(), Metrics::new());
    let a = Keyring::start(&config, metrics_a.clone(), shifted(&offset), shutdown.clone())
        .await
        .unwrap();
    let b = Keyring::start(&config, metrics_b.clone(), shifted(&offset), shutdown.clone())
        .await
        .unwrap();
    let matcher = Arc::new(LiveMatcher::new(entries, config.matching.clone()));
    let source = Source::new(&config, matcher, Metrics::new(), Arc::clone(&a)).unwrap();
    let running = tokio::spawn(source.run(shutdown.clone()));
    let board = Board::new(config.dispatch.suppression_window, Default::default(), shutdown.clone());
    board::follow(&config, &board, &b).unwrap();

    // Copies of the raw records, as anyone who can read the broker takes them.
    let (mut alerts, mut dead) = (Vec::new(), Vec::new());
    let alerts_reader = common::reader(&config, &config.topics.alerts);
    let dlq_reader = common::reader(&config, &config.topics.dlq);
    assert!(common::drain_until(&alerts_reader, &mut alerts, Duration::from_secs(30), |m| !m.is_empty()).await);
    assert!(common::drain_until(&dlq_reader, &mut dead, Duration::from_secs(30), |m| !m.is_empty()).await);
    let copies = [alerts[0].clone(), dead[0].clone()];
    let day = captured.date_naive();
    for copy in &copies {
        assert_eq!(header(copy, SEALED_HEADER), Some(day_id(day).as_bytes()));
        let raw = copy.payload().unwrap();
        assert!(
            !raw.windows(plate.len()).any(|w| w == plate.as_bytes()),
            "no plate text at rest"
        );
    }
    assert!(
        common::wait_for(Duration::from_secs(30), || board.len() == 1).await,
        "B's board opened A's alert"
    );

    // 29 days after capture: readable on both instances.
    offset.store(
        captured.timestamp() + 29 * DAY - Utc::now().timestamp(),
        Ordering::Relaxed,
    );
    let alert = a.open_message(&copies[0]).unwrap().into_owned();
    assert!(String::from_utf8(alert).unwrap().contains(&plate));
    assert_eq!(b.open_message(&copies[1]).unwrap().as_ref(), b"{ not json");
    assert!(a.shred_expired().await.is_empty());
    // Bound to its day: a record sealed today does not open as the capture day's.
    let (today, sealed) = a.seal(a.now().timestamp_millis(), b"today").await.unwrap().unwrap();
    assert_ne!(today, day_id(day));
    assert!(matches!(
        a.open(Some(day_id(day).as_bytes()), &sealed),
        Err(KeyringError::Open { .. })
    ));

    // 30 days and a minute after capture: destroyed on A, then on B and the topic.
    offset.store(
        captured.timestamp() + 30 * DAY + 60 - Utc::now().timestamp(),
        Ordering::Relaxed,
    );
    assert_eq!(a.shred_expired().await, vec![day]);
    assert!(common::wait_for(Duration::from_secs(10), || !b.days().contains(&day)).await);
    for copy in &copies {
        assert!(matches!(a.open_message(copy), Err(KeyringError::Destroyed(_))));
        assert!(matches!(b.open_message(copy), Err(KeyringError::Destroyed(_))));
    }
    assert_eq!(metrics_a.day_keys_destroyed.get(), 1);
    assert_eq!(board.purge_before(b.now() - chrono::Duration::days(30)), 1);
    assert!(board.is_empty(), "the board's memory and suppression state forget it");
    // A new instance, even one whose clock is behind, never holds the key again.
    let late = Keyring::start(
        &config,
        Metrics::new(),
        hotlist_matcher::system_clock(),
        shutdown.clone(),
    )
    .await
    .unwrap();
    assert!(!late.days().contains(&day), "the tombstone on the topic destroyed it");
    assert!(late.open_message(&copies[0]).is_err());
    shutdown.cancel();
    running.await.unwrap().unwrap();
}
