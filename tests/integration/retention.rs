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

/// Produces `payload` to partition 0 of `topic`, with the sealed-record
/// header naming `day` if given and the timestamp `at_ms` if given.
async fn produce(
    config: &hotlist_matcher::config::Config,
    topic: &str,
    payload: &[u8],
    (day, at_ms): (Option<&str>, Option<i64>),
) {
    let producer: rdkafka::producer::FutureProducer =
        hotlist_matcher::kafka::client_config(&config.kafka).create().unwrap();
    let headers = rdkafka::message::OwnedHeaders::new();
    let headers = match day {
        Some(day) => hotlist_matcher::kafka::day_keys::with_sealed_day(headers, day),
        None => headers,
    };
    let mut record = rdkafka::producer::FutureRecord::<str, [u8]>::to(topic)
        .key("retention-test") // compacted topics need one
        .payload(payload)
        .headers(headers)
        .partition(0);
    if let Some(at_ms) = at_ms {
        record = record.timestamp(at_ms);
    }
    producer.send(record, Duration::from_secs(10)).await.unwrap();
}

/// A camera gateway seals reads with the library; the service opens them.
/// A sealed read that does not open is dead-lettered as `unopenable`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_sealed_by_a_camera_gateway_are_matched_and_one_that_does_not_open_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::config(&common::unique("gateway"), &dir.path().join("h.csv"), 10);
    common::create_topics(&config).await;
    let entries = sample::hotlist(&mut Rng::new(17), 1, "stolen");
    let plate = entries[0].plate.to_string();
    let captured = Utc::now() - chrono::Duration::hours(1);
    let read = sample::read_json(Uuid::new_v4(), "cam-g", &captured.to_rfc3339(), &plate, None);
    let gateway = common::keyring(&config).await;
    let (day, sealed) = gateway.seal(captured.timestamp_millis(), &read).await.unwrap().unwrap();
    let mut tampered = sealed.clone();
    tampered[20] ^= 1;
    produce(&config, &config.topics.reads, &sealed, (Some(&day), None)).await;
    produce(&config, &config.topics.reads, &tampered, (Some(&day), None)).await;

    let matcher = Arc::new(LiveMatcher::new(entries, config.matching.clone()));
    let instance = common::keyring(&config).await;
    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let source = Source::new(&config, matcher, metrics.clone(), Arc::clone(&instance)).unwrap();
    let running = tokio::spawn(source.run(shutdown.clone()));
    let (mut alerts, mut dead) = (Vec::new(), Vec::new());
    let alerts_reader = common::reader(&config, &config.topics.alerts);
    let dlq_reader = common::reader(&config, &config.topics.dlq);
    assert!(common::drain_until(&alerts_reader, &mut alerts, Duration::from_secs(30), |m| !m.is_empty()).await);
    assert!(common::drain_until(&dlq_reader, &mut dead, Duration::from_secs(30), |m| !m.is_empty()).await);
    shutdown.cancel();
    running.await.unwrap().unwrap();
    let alert = hotlist_matcher::alert::Alert::decode(&common::opened(&instance, &alerts[0])).unwrap();
    assert_eq!(alert.entry.plate.to_string(), plate);
    assert_eq!(alerts.len(), 1);
    assert_eq!(dead.len(), 1);
    assert_eq!(header(&dead[0], "hm.reason_code"), Some(&b"unopenable"[..]));
    assert_eq!(
        dead[0].payload().unwrap_or_default(),
        b"",
        "bytes that do not open are not kept"
    );
    assert_eq!(metrics.dlq.with_label_values(&["unopenable"]).get(), 1);
}

/// `decrypt`: an investigator's plaintext of sealed records, the access on
/// the audit log first; nobody else, and no other topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decrypt_shows_sealed_records_to_an_investigator_after_auditing_the_access() {
    let dir = tempfile::tempdir().unwrap();
    let (config_path, config) = common::config_file(dir.path(), &common::unique("decrypt"));
    common::create_topics(&config).await;
    let binary = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"));
        command.args(["--config", config_path.to_str().unwrap()]);
        command
    };
    let mut add = binary()
        .args(["users", "add", "--password-stdin", "--username", "city.manager"])
        .args(["--organisation", "City of Coachella", "--actor", "installer"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(add.stdin.take().unwrap(), "a long enough password").unwrap();
    assert!(add.wait().unwrap().success());
    let keyring = common::keyring(&config).await;
    let (day, sealed) = keyring
        .seal(Utc::now().timestamp_millis(), br#"{"plate":"7DEC123"}"#)
        .await
        .unwrap()
        .unwrap();
    produce(&config, &config.topics.alerts, &sealed, (Some(&day), None)).await;

    let decrypt = |actor: &str, topic: &str| {
        binary()
            .args([
                "decrypt",
                "--topic",
                topic,
                "--partition",
                "0",
                "--offset",
                "0",
                "--count",
                "5",
            ])
            .args(["--actor", actor, "--case-number", "26-000123"])
            .args(["--reason", "stolen vehicle follow-up"])
            .output()
            .unwrap()
    };
    let shown = decrypt("city.manager", &config.topics.alerts);
    let stdout = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert_eq!(lines[0]["payload"], r#"{"plate":"7DEC123"}"#);
    assert_eq!(lines[0]["sealed_day"], day.as_str());
    let audit = common::audit_log(&config);
    let access: Vec<_> = audit.iter().filter(|r| r.event.action == "decrypt").collect();
    assert_eq!(access.len(), 1);
    assert_eq!(access[0].event.username, "city.manager");
    assert_eq!(
        access[0].event.query_terms[0],
        format!("topic={}", config.topics.alerts)
    );
    assert_eq!(access[0].event.purpose.as_ref().unwrap().case_number, "26-000123");

    let stranger = decrypt("nobody", &config.topics.alerts);
    assert!(!stranger.status.success());
    let stderr = String::from_utf8_lossy(&stranger.stderr);
    assert!(
        stderr.contains("--actor nobody is not an enabled user who may search alerts"),
        "{stderr}"
    );
    let principals = decrypt("city.manager", &config.topics.principals);
    assert!(!principals.status.success());
    assert!(String::from_utf8_lossy(&principals.stderr).contains("is not a topic of ALPR data"));
    assert_eq!(
        common::audit_log(&config)
            .iter()
            .filter(|r| r.event.action == "decrypt")
            .count(),
        1,
        "refused requests read nothing"
    );
}
