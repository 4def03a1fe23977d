//! Kafka really compacts the hotlist topic, and an instance that starts
//! after compaction loads exactly the live entries.

use std::collections::BTreeSet;
use std::time::Duration;

use hotlist_matcher::config::Config;
use hotlist_matcher::hotlist::Matcher;
use hotlist_matcher::kafka::hotlist::{self as kafka_hotlist, UploadOutcome};
use hotlist_matcher::sample::{self, Rng};
use rdkafka::admin::{AdminOptions, AlterConfig, ResourceSpecifier};
use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio_util::sync::CancellationToken;

use crate::common;

/// Records on the hotlist topic now, and the sum of its high watermarks.
fn records_and_written(config: &Config) -> (usize, i64) {
    let mut records = 0;
    let end = hotlist_matcher::kafka::read_to_end(config, &config.topics.hotlist, "count", |_| {
        records += 1;
        true
    })
    .unwrap();
    let consumer: BaseConsumer = hotlist_matcher::kafka::client_config(&config.kafka).create().unwrap();
    let written = end
        .elements()
        .iter()
        .map(|e| {
            consumer
                .fetch_watermarks(e.topic(), e.partition(), Duration::from_secs(10))
                .unwrap()
                .1
        })
        .sum();
    (records, written)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_replaced_twice_compacts_and_a_new_instance_loads_exactly_the_live_entries() {
    const N: usize = 5_000;
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("compact");
    let config = common::config(&prefix, &dir.path().join("h.csv"), 1000);
    common::create_topics(&config).await;
    // Small segments and an eager cleaner, so compaction happens within the
    // test (this request replaces every topic config, so it restates the policy).
    let alter = AlterConfig::new(ResourceSpecifier::Topic(&config.topics.hotlist))
        .set("cleanup.policy", "compact")
        .set("segment.ms", "500")
        .set("min.cleanable.dirty.ratio", "0.01")
        .set("delete.retention.ms", "1000")
        .set("min.compaction.lag.ms", "0");
    for result in common::admin(&config)
        .alter_configs(&[alter], &AdminOptions::new())
        .await
        .unwrap()
    {
        result.unwrap();
    }

    let first = sample::hotlist(&mut Rng::new(8), N, "state-stolen");
    let mut live = first.clone();
    for night in 0..3 {
        if night > 0 {
            live = sample::replacement(&live, night).entries;
        }
        let outcome = kafka_hotlist::upload(&config, "state-stolen", &live, "CA DOJ", true)
            .await
            .unwrap();
        assert!(matches!(outcome, UploadOutcome::Done(_)), "{outcome:?}");
        tokio::time::sleep(Duration::from_millis(600)).await; // roll a segment
    }
    // One more record rolls the last replacement's segment, so it can be cleaned.
    let tail = sample::replacement(&live, 3).entries;
    kafka_hotlist::upload(&config, "state-stolen", &tail, "CA DOJ", true)
        .await
        .unwrap();
    let live = tail;

    let mut compacted = (0, 0);
    for _ in 0..120 {
        compacted = records_and_written(&config);
        if compacted.0 + N < compacted.1 as usize {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (records, written) = compacted;
    eprintln!("hotlist topic: {written} records written, {records} left after compaction");
    assert!(
        records + N < written as usize,
        "Kafka compacted away at least one old version of the list ({records} of {written} records left)"
    );

    let shutdown = CancellationToken::new();
    let matcher = common::instance(&config, &shutdown).await;
    assert_eq!(matcher.len(), live.len());
    let loaded: BTreeSet<_> = matcher
        .entries()
        .iter()
        .map(|e| (e.entry_id.clone(), e.description.clone()))
        .collect();
    let want: BTreeSet<_> = live
        .iter()
        .map(|e| (e.entry_id.clone(), e.description.clone()))
        .collect();
    assert_eq!(loaded, want, "exactly the live entries, in their last version");
    let lists = kafka_hotlist::lists(&config).unwrap();
    assert_eq!((lists.len(), lists[0].entries), (1, live.len()));
    shutdown.cancel();
}
