//! Instances share the reads topic through Kafka's consumer group: one that
//! stops hands its partitions to the others without losing a read, and one
//! left without partitions says so.

use std::sync::Arc;
use std::time::Duration;

use hotlist_matcher::config::Config;
use hotlist_matcher::hotlist::LiveMatcher;
use hotlist_matcher::kafka::source::Source;
use hotlist_matcher::metrics::Metrics;
use hotlist_matcher::sample::{self, Rng};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::common;

struct Instance {
    metrics: Metrics,
    shutdown: CancellationToken,
    running: JoinHandle<Result<(), hotlist_matcher::kafka::KafkaError>>,
}

async fn start(config: &Config, matcher: &Arc<LiveMatcher>) -> Instance {
    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let keyring = common::keyring(config).await;
    let source = Source::new(config, matcher.clone(), metrics.clone(), keyring).unwrap();
    let running = tokio::spawn(source.run(shutdown.clone()));
    Instance {
        metrics,
        shutdown,
        running,
    }
}

/// Waits until `check` holds, at most 60 s.
async fn until(what: &str, check: impl Fn() -> bool) {
    for _ in 0..600 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_instance_hands_its_partitions_over_without_losing_a_read() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("group");
    let config = common::config(&prefix, &dir.path().join("h.csv"), 50);
    common::create_topics(&config).await;
    let mut rng = Rng::new(31);
    let entries = sample::hotlist(&mut rng, 500, "it-group");
    let matcher = Arc::new(LiveMatcher::new(entries.clone(), config.matching.clone()));
    let stream = common::stream(&mut rng, &entries, matcher.as_ref(), 3_000, 60);

    let a = start(&config, &matcher).await;
    let b = start(&config, &matcher).await;
    let held = |i: &Instance| i.metrics.assigned_partitions.get();
    until("a share for each instance", || {
        held(&a) > 0 && held(&b) > 0 && held(&a) + held(&b) == 3
    })
    .await;
    let (first, rest) = stream.records.split_at(stream.records.len() / 2);
    common::produce(&config, &config.topics.reads, first).await;
    until("the first half read", || {
        a.metrics.reads.get() + b.metrics.reads.get() >= first.len() as u64
    })
    .await;

    a.shutdown.cancel();
    a.running.await.unwrap().unwrap();
    until("the stopped instance's partitions handed over", || held(&b) == 3).await;
    common::produce(&config, &config.topics.reads, rest).await;

    let reader = common::reader(&config, &config.topics.alerts);
    let mut alerts = Vec::new();
    let complete = common::drain_until(&reader, &mut alerts, Duration::from_secs(60), |m| {
        stream.expected_alerts.is_subset(&common::alert_ids(m))
    })
    .await;
    // The last planted hit may come before the last innocent reads: wait for
    // those too (a read taken twice would show as more than produced).
    let total = stream.records.len() as u64;
    until("every read taken", || {
        a.metrics.reads.get() + b.metrics.reads.get() >= total
    })
    .await;
    b.shutdown.cancel();
    b.running.await.unwrap().unwrap();
    assert!(complete, "every planted hit alerted across the hand-over");
    assert_eq!(common::alert_ids(&alerts), stream.expected_alerts);
    assert_eq!(
        a.metrics.reads.get() + b.metrics.reads.get(),
        stream.records.len() as u64,
        "every read taken once: a graceful hand-over commits first"
    );
    assert_eq!(common::lag(&config, &config.kafka.group_id, &config.topics.reads), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_without_partitions_counts_the_time_it_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("idle");
    let text = common::config_text(&prefix, &dir.path().join("h.csv"), 50).replace("partitions = 3", "partitions = 1");
    let config = Config::from_toml(&text, []).unwrap();
    common::create_topics(&config).await;
    let matcher = Arc::new(LiveMatcher::new(Vec::new(), config.matching.clone()));
    let a = start(&config, &matcher).await;
    let b = start(&config, &matcher).await;
    let held = |i: &Instance| i.metrics.assigned_partitions.get();
    // Which one ends up idle is only known once the rebalances settle (the
    // first may be given the partition, lose it, and get it back, and a
    // member waiting for its first assignment counts idle time too): wait
    // for the whole settled state at once.
    let idle_seconds = |i: &Instance| i.metrics.unassigned_seconds.get();
    let settled = |busy: &Instance, idle: &Instance| {
        held(busy) == 1 && held(idle) == 0 && idle_seconds(idle) >= 3 && idle_seconds(busy) == 0
    };
    until("one holds the partition, the other counted three idle seconds", || {
        settled(&a, &b) || settled(&b, &a)
    })
    .await;
    let idle = if settled(&a, &b) { &b } else { &a };
    assert!(
        idle.metrics.render().contains("hotlist_source_unassigned_seconds"),
        "exported as a metric"
    );
    for instance in [a, b] {
        instance.shutdown.cancel();
        instance.running.await.unwrap().unwrap();
    }
}
