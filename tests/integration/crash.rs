//! SIGKILL mid-stream loses no alert: the restarted process redoes the
//! unacknowledged batch and yields the same alert ids.

use std::process::{Child, Command};
use std::time::Duration;

use hotlist_matcher::hotlist::LiveMatcher;
use hotlist_matcher::sample::{self, Rng};

use crate::common;

fn start(config_path: &std::path::Path, log: &std::path::Path) -> Child {
    common::serve_process(config_path, log, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_matcher_restarts_and_every_planted_hit_still_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("crash");
    let hotlist_path = dir.path().join("hotlist.csv");
    let config_path = dir.path().join("config.toml");
    // Small batches: many commits before the kill, and a batch in flight at it.
    std::fs::write(&config_path, common::config_text(&prefix, &hotlist_path, 50)).unwrap();
    let config = common::config(&prefix, &hotlist_path, 50);
    common::create_topics(&config).await;

    let mut rng = Rng::new(23);
    let entries = sample::hotlist(&mut rng, 500, "it-crash");
    common::write_hotlist(&hotlist_path, &entries);
    let matcher = LiveMatcher::new(entries.clone(), config.matching.clone());
    let stream = common::stream(&mut rng, &entries, &matcher, 10_000, 100);
    common::produce(&config, &config.topics.reads, &stream.records).await;

    let reader = common::reader(&config, &config.topics.alerts);
    let mut alerts = Vec::new();
    let mut first = start(&config_path, &dir.path().join("first.log"));
    let started = common::drain_until(&reader, &mut alerts, Duration::from_secs(60), |m| m.len() >= 10).await;
    first.kill().expect("SIGKILL sent");
    first.wait().unwrap();
    assert!(started, "the first process produced alerts before the kill");
    let at_kill = common::alert_ids(&alerts).len();
    assert!(at_kill < 100, "killed mid-stream, with {at_kill} of 100 alerts out");

    let mut second = start(&config_path, &dir.path().join("second.log"));
    let complete = common::drain_until(&reader, &mut alerts, Duration::from_secs(120), |m| {
        stream.expected_alerts.is_subset(&common::alert_ids(m))
    })
    .await;
    let status = Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = second.wait().unwrap();
    let log = std::fs::read_to_string(dir.path().join("second.log")).unwrap();

    assert!(complete, "all alerts after restart; second log:\n{log}");
    assert_eq!(common::alert_ids(&alerts), stream.expected_alerts);
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}\n{log}");
    assert!(log.contains("final offsets committed"), "{log}");
    assert_eq!(common::lag(&config, &config.kafka.group_id, &config.topics.reads), 0);
}

/// Produces `records` one by one, `every` apart, until done or `stop`.
async fn trickle(config: hotlist_matcher::config::Config, records: Vec<Vec<u8>>, every: Duration) {
    for chunk in records.chunks(20) {
        common::produce(&config, &config.topics.reads, chunk).await;
        tokio::time::sleep(every).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matcher_killed_after_committing_takes_its_partitions_back_at_restart() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("static");
    let hotlist_path = dir.path().join("hotlist.csv");
    let config_path = dir.path().join("config.toml");
    let text =
        common::config_text(&prefix, &hotlist_path, 50).replace("instance_id = \"\"", "instance_id = \"matcher-0\"");
    std::fs::write(&config_path, &text).unwrap();
    let config = hotlist_matcher::config::Config::from_toml(&text, []).unwrap();
    assert_eq!(config.kafka.instance_id.as_deref(), Some("matcher-0"));
    common::create_topics(&config).await;

    let mut rng = Rng::new(29);
    let entries = sample::hotlist(&mut rng, 500, "it-static");
    common::write_hotlist(&hotlist_path, &entries);
    let matcher = LiveMatcher::new(entries.clone(), config.matching.clone());
    let stream = common::stream(&mut rng, &entries, &matcher, 4_000, 100);
    // About 20 s of reads: the kill lands after several auto-commits.
    let producing = tokio::spawn(trickle(
        config.clone(),
        stream.records.clone(),
        Duration::from_millis(100),
    ));

    let reader = common::reader(&config, &config.topics.alerts);
    let mut alerts = Vec::new();
    let mut first = start(&config_path, &dir.path().join("first.log"));
    assert!(common::drain_until(&reader, &mut alerts, Duration::from_secs(60), |m| m.len() >= 25).await);
    tokio::time::sleep(Duration::from_millis(1500)).await; // past an auto-commit
    let committed_before = common::lag(&config, &config.kafka.group_id, &config.topics.reads);
    first.kill().expect("SIGKILL sent");
    let killed = std::time::Instant::now();
    first.wait().unwrap();
    common::drain_until(&reader, &mut alerts, Duration::from_millis(300), |_| false).await;
    let before = common::alert_ids(&alerts);
    assert!(
        before.len() < 100,
        "killed mid-stream, {} of 100 alerts out",
        before.len()
    );

    let mut second = start(&config_path, &dir.path().join("second.log"));
    assert!(
        common::drain_until(&reader, &mut alerts, Duration::from_secs(120), |m| {
            common::alert_ids(m).len() > before.len()
        })
        .await
    );
    let gap = killed.elapsed();
    eprintln!("kill to first alert of the restarted instance: {gap:?} (lag at kill: {committed_before})");
    producing.await.unwrap();
    let complete = common::drain_until(&reader, &mut alerts, Duration::from_secs(60), |m| {
        stream.expected_alerts.is_subset(&common::alert_ids(m))
    })
    .await;
    Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    let exit = second.wait().unwrap();
    let log = std::fs::read_to_string(dir.path().join("second.log")).unwrap();
    assert!(complete, "every planted hit alerted; second log:\n{log}");
    assert_eq!(common::alert_ids(&alerts), stream.expected_alerts);
    assert!(exit.success(), "{log}");
    assert!(
        gap < config.kafka.session_timeout / 2,
        "static membership: the restarted instance took its partitions back in {gap:?}; \
         without it the group waits out the {:?} session timeout",
        config.kafka.session_timeout
    );
}
