//! Hotlist uploads reach every matcher instance through the hotlist topic.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hotlist_matcher::config::Config;
use hotlist_matcher::hotlist::feed::{self, FeedOptions, Format};
use hotlist_matcher::hotlist::{Category, CsvLimits, LiveMatcher, Matcher};
use hotlist_matcher::kafka::hotlist as kafka_hotlist;
use tokio_util::sync::CancellationToken;

use crate::common;

/// Waits until `check` holds on every instance; returns how long it took.
async fn until_all(instances: &[Arc<LiveMatcher>], check: impl Fn(&LiveMatcher) -> bool) -> Duration {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if instances.iter().all(|m| check(m)) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("not every instance caught up within 30 s");
}

fn ncic(lines: &[&str]) -> Vec<Arc<hotlist_matcher::hotlist::HotlistEntry>> {
    let options = FeedOptions {
        list_id: "ca-doj".into(),
        category: Category::StolenVehicle,
        limits: CsvLimits::default(),
    };
    feed::parse(lines.join("\n").as_bytes(), &Format::NcicFields, &options).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_matches_on_every_instance_within_a_second_and_a_reupload_removes() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("feeds");
    let (config_path, config) = common::config_file(dir.path(), &prefix);
    common::create_topics(&config).await;
    let shutdown = CancellationToken::new();
    let instances = [
        common::instance(&config, &shutdown).await,
        common::instance(&config, &shutdown).await,
    ];
    assert!(instances.iter().all(|m| m.is_empty()));

    // A read from yesterday of a car listed only today.
    let read_id = uuid::Uuid::new_v4();
    let yesterday = hotlist_matcher::sample::read_json(read_id, "cam-9", &common::at(), "abc-123", Some("CA"));
    common::produce(&config, &config.topics.reads, &[yesterday]).await;

    let first = ncic(&[
        "LIC/ABC123.LIS/CA.VMA/TOYT.NIC/V100000001",
        "LIC/7XYZ999.LIS/CA.VMA/FORD.NIC/V100000002",
    ]);
    let report = done(
        kafka_hotlist::upload(&config, "ca-doj", &first, "CA DOJ", true)
            .await
            .unwrap(),
    );
    assert_eq!((report.added, report.changed, report.removed), (2, 0, 0));
    assert_eq!(report.historical_alerts, 1, "the retained read of ABC123 was checked");
    let reader = common::reader(&config, &config.topics.alerts);
    let mut alerts = Vec::new();
    common::drain_until(&reader, &mut alerts, Duration::from_secs(30), |m| !m.is_empty()).await;
    let keyring = common::keyring(&config).await;
    let alert = hotlist_matcher::alert::Alert::decode(&common::opened(&keyring, &alerts[0])).unwrap();
    assert!(alert.historical);
    assert_eq!(alert.read.read_id, read_id);
    assert_eq!(alert.entry.entry_id, "V100000001");
    let took = until_all(&instances, |m| {
        common::hits(m, "ABC123") == 1 && common::hits(m, "7XYZ999") == 1
    })
    .await;
    eprintln!("upload matchable on both instances after {took:?}");
    assert!(
        took < Duration::from_secs(5),
        "an upload is matchable on every instance within seconds (took {took:?})"
    );

    // The same list without ABC123, and with 7XYZ999 changed: a tombstone and an update.
    let second = ncic(&["LIC/7XYZ999.LIS/CA.VMA/CHEV.NIC/V100000002"]);
    let report = done(
        kafka_hotlist::upload(&config, "ca-doj", &second, "CA DOJ", true)
            .await
            .unwrap(),
    );
    assert_eq!((report.added, report.changed, report.removed), (0, 1, 1));
    let took = until_all(&instances, |m| {
        common::hits(m, "ABC123") == 0 && common::hits(m, "7XYZ999") == 1
    })
    .await;
    eprintln!("removal applied on both instances after {took:?}");
    assert!(
        took < Duration::from_secs(5),
        "a removal reaches every instance within seconds (took {took:?})"
    );
    let again = done(
        kafka_hotlist::upload(&config, "ca-doj", &second, "CA DOJ", true)
            .await
            .unwrap(),
    );
    assert_eq!(
        (again.added, again.changed, again.removed, again.unchanged),
        (0, 0, 0, 1),
        "nothing rewritten"
    );
    let other = kafka_hotlist::upload(&config, "ca-doj", &first, "Some Other PD", true)
        .await
        .unwrap();
    assert_eq!(other, kafka_hotlist::UploadOutcome::NotOwner { owner: "CA DOJ".into() });
    let lists = kafka_hotlist::lists(&config).unwrap();
    assert_eq!(lists.len(), 1);
    assert_eq!((lists[0].organisation.as_str(), lists[0].entries), ("CA DOJ", 1));

    // A file with a bad line changes nothing, and says why, line by line.
    let (_, high_before) = watermark(&config);
    let bad = dir.path().join("bad.ncic");
    std::fs::write(&bad, "LIC/NEW1234.LIS/CA.NIC/V1\nLIC/BAD#1.LIS/CA.NIC/V2\n").unwrap();
    let out = upload_cli(&config_path, &bad);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("nothing uploaded") && stdout.contains("line 2, column plate"),
        "{stdout}"
    );
    assert_eq!(watermark(&config).1, high_before, "not one record written");
    assert_eq!(common::hits(&instances[0], "NEW1234"), 0);

    // The command line upload is audited with who and why.
    let good = dir.path().join("good.ncic");
    std::fs::write(&good, "LIC/NEW1234.LIS/CA.NIC/V1\n").unwrap();
    let out = upload_cli(&config_path, &good);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "list ca-doj: 1 added, 0 changed, 1 removed, 0 unchanged; 0 historical alert(s) from retained reads"
    );
    until_all(&instances, |m| {
        common::hits(m, "NEW1234") == 1 && common::hits(m, "7XYZ999") == 0
    })
    .await;
    let audit = common::audit_log(&config);
    let upload = audit
        .iter()
        .find(|r| r.event.action == "hotlist_upload")
        .expect("audited");
    assert!(
        upload
            .event
            .query_terms
            .contains(&"reason=weekly DOJ refresh".to_string()),
        "{:?}",
        upload.event
    );
    shutdown.cancel();
}

fn done(outcome: kafka_hotlist::UploadOutcome) -> kafka_hotlist::UploadReport {
    match outcome {
        kafka_hotlist::UploadOutcome::Done(report) => report,
        other => panic!("{other:?}"),
    }
}

fn upload_cli(config_path: &std::path::Path, file: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hotlist-matcher"))
        .args(["--config", config_path.to_str().unwrap(), "hotlist", "upload"])
        .arg(file)
        .args(["--list", "ca-doj", "--format", "ncic", "--reason", "weekly DOJ refresh"])
        .args(["--actor", "city.manager"])
        .output()
        .unwrap()
}

/// Total (low, high) offsets of the hotlist topic.
fn watermark(config: &Config) -> (i64, i64) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = hotlist_matcher::kafka::client_config(&config.kafka).create().unwrap();
    (0..config.topics.partitions).fold((0, 0), |(l, h), p| {
        let (low, high) = consumer
            .fetch_watermarks(&config.topics.hotlist, p, Duration::from_secs(10))
            .unwrap();
        (l + low, h + high)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_entry_stops_matching_on_every_instance_at_its_expiry() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("expiry");
    let config = common::config(&prefix, &dir.path().join("h.csv"), 1000);
    common::create_topics(&config).await;
    let expires = chrono::DateTime::parse_from_rfc3339("2026-11-28T06:00:00Z")
        .unwrap()
        .to_utc();
    let now = Arc::new(AtomicI64::new(expires.timestamp() - 3600));
    let clock: hotlist_matcher::Clock = {
        let now = Arc::clone(&now);
        Arc::new(move || std::time::UNIX_EPOCH + Duration::from_secs(now.load(Ordering::Relaxed) as u64))
    };
    let shutdown = CancellationToken::new();
    let instances = [
        common::instance_with_clock(&config, &shutdown, clock.clone()).await,
        common::instance_with_clock(&config, &shutdown, clock).await,
    ];
    let options = FeedOptions {
        list_id: "rso-officer".into(),
        category: Category::OfficerEntered,
        limits: CsvLimits::default(),
    };
    let line = r#"{"entry_id":"oe-1","plate":"9TEMP12","expires_at":"2026-11-28T06:00:00Z","description":"fled a traffic stop"}"#;
    let entries = feed::parse(line.as_bytes(), &Format::JsonLines, &options).unwrap();
    done(
        kafka_hotlist::upload(&config, "rso-officer", &entries, "RSO", true)
            .await
            .unwrap(),
    );
    until_all(&instances, |m| common::hits(m, "9TEMP12") == 1).await;
    now.store(expires.timestamp() - 1, Ordering::Relaxed);
    assert!(
        instances.iter().all(|m| common::hits(m, "9TEMP12") == 1),
        "still live a second before"
    );
    now.store(expires.timestamp(), Ordering::Relaxed);
    assert!(
        instances.iter().all(|m| common::hits(m, "9TEMP12") == 0),
        "expired on every instance, without an upload"
    );
    shutdown.cancel();
}

/// The entry a read of `plate` hits on `matcher`, if any.
fn hit_entry(matcher: &LiveMatcher, plate: &str) -> Option<Arc<hotlist_matcher::hotlist::HotlistEntry>> {
    common::hits_of(matcher, plate).into_iter().next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nightly_replacement_of_a_big_list_reaches_every_instance_within_seconds() {
    const N: usize = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("replace");
    let config = common::config(&prefix, &dir.path().join("h.csv"), 1000);
    common::create_topics(&config).await;
    let first = hotlist_matcher::sample::hotlist(&mut hotlist_matcher::sample::Rng::new(18), N, "state-stolen");
    done(
        kafka_hotlist::upload(&config, "state-stolen", &first, "CA DOJ", true)
            .await
            .unwrap(),
    );
    let shutdown = CancellationToken::new();
    let instances = [
        common::instance(&config, &shutdown).await,
        common::instance(&config, &shutdown).await,
    ];
    assert!(instances.iter().all(|m| m.len() == N));

    // Every entry changed (a new description), the first one gone, one new plate.
    let night = hotlist_matcher::sample::replacement(&first, 1);
    let report = done(
        kafka_hotlist::upload(&config, "state-stolen", &night.entries, "CA DOJ", true)
            .await
            .unwrap(),
    );
    let acked = Instant::now();
    assert_eq!(
        (report.added, report.changed, report.removed, report.unchanged),
        (1, N - 1, 1, 0)
    );
    let new_plate = night.added.plate.to_string();
    let removed_plate = night.removed.plate.to_string();
    let changed = &night.entries[N / 2];
    let applied = |m: &LiveMatcher| {
        hit_entry(m, &new_plate).is_some_and(|e| e.entry_id == night.added.entry_id)
            && hit_entry(m, &removed_plate).is_none()
            && hit_entry(m, &changed.plate.to_string()).is_some_and(|e| e.description == changed.description)
    };
    while !instances.iter().all(|m| applied(m)) {
        assert!(
            acked.elapsed() < Duration::from_secs(5),
            "the replacement did not reach both instances within 5 s of the acks"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "replacement of {N} applied on both instances {:?} after the acks",
        acked.elapsed()
    );
    for matcher in &instances {
        assert_eq!(matcher.len(), N, "one removed, one added");
        matcher.settle();
        let mut described = matcher.entries();
        described.retain(|e| e.description.starts_with("night 1:"));
        assert_eq!(described.len(), N, "every entry holds its new version");
        assert!(applied(matcher), "still so after the background rebuild");
    }
    shutdown.cancel();
}
