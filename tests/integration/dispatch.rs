//! Dispatch through the real broker with two instances: suppression of one
//! vehicle read on two partitions by two instances, the same incidents and
//! decisions on every instance's board, and after a restart.
//!
//! The suppression window runs on the reads' capture times, which the test
//! sets: that is the clock the window is measured on.

use std::time::Duration;

use hotlist_matcher::alert::lifecycle::AlertState;
use hotlist_matcher::app::Running;
use hotlist_matcher::config::Config;
use hotlist_matcher::dispatch::board::{self, Board};
use hotlist_matcher::kafka::client_config;
use hotlist_matcher::sample;
use rdkafka::producer::{FutureProducer, FutureRecord};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common;

async fn produce_to(config: &Config, partition: i32, record: &[u8]) {
    let producer: FutureProducer = client_config(&config.kafka).create().unwrap();
    let record = FutureRecord::<str, [u8]>::to(&config.topics.reads)
        .key("k")
        .payload(record)
        .partition(partition);
    producer
        .send(record, Duration::from_secs(10))
        .await
        .map_err(|(e, _)| e)
        .unwrap();
}

/// Sightings per incident on a board, sorted.
fn shape(board: &Board) -> Vec<Vec<String>> {
    let mut incidents: Vec<Vec<String>> = board
        .open("Test Org")
        .iter()
        .map(|v| {
            v.sightings
                .iter()
                .map(|s| format!("{}@{}", s.camera_id, s.captured_at.format("%H:%M:%S")))
                .collect()
        })
        .collect();
    incidents.sort();
    incidents
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_vehicle_read_on_two_partitions_by_two_instances_is_one_alert_with_sightings() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("suppress");
    let hotlist = dir.path().join("h.csv");
    std::fs::write(
        &hotlist,
        "entry_id,list_id,plate,region,category,priority,description\ne1,rso,7SUP123,CA,stolen_vehicle,1,grey Camry\n",
    )
    .unwrap();
    let config = common::config(&prefix, &hotlist, 10);
    common::create_topics(&config).await;
    let shutdown = CancellationToken::new();
    let a: Running = hotlist_matcher::app::run(config.clone(), shutdown.clone())
        .await
        .unwrap();
    let b: Running = hotlist_matcher::app::run(config.clone(), shutdown.clone())
        .await
        .unwrap();
    let both = common::wait_for(Duration::from_secs(60), || {
        a.metrics.assigned_partitions.get() > 0 && b.metrics.assigned_partitions.get() > 0
    })
    .await;
    assert!(both, "the two instances share the reads partitions");

    // Same camera 4 minutes on, another camera 2 minutes later, then 5.5
    // minutes of silence: one partition of the reads topic each.
    let reads = [
        (0, "cam-1", "03:00:00"),
        (1, "cam-1", "03:04:00"),
        (2, "cam-2", "03:06:00"),
        (0, "cam-2", "03:11:30"),
    ];
    for (n, (partition, camera, at)) in reads.iter().enumerate() {
        let read = sample::read_json(Uuid::new_v4(), camera, &sample::yesterday_at(at), "7SUP123", Some("CA"));
        produce_to(&config, *partition, &read).await;
        let sightings = |board: &Board| shape(board).iter().map(Vec::len).sum::<usize>();
        let seen = common::wait_for(Duration::from_secs(30), || {
            sightings(&a.board) == n + 1 && sightings(&b.board) == n + 1
        })
        .await;
        assert!(
            seen,
            "read {n} folded in on both boards: {:?} / {:?}",
            shape(&a.board),
            shape(&b.board)
        );
    }
    let expected = vec![
        vec![
            "cam-1@03:00:00".to_string(),
            "cam-1@03:04:00".into(),
            "cam-2@03:06:00".into(),
        ],
        vec!["cam-2@03:11:30".to_string()],
    ];
    assert_eq!(shape(&a.board), expected);
    assert_eq!(shape(&b.board), expected);
    assert!(
        a.metrics.alerts.get() >= 1 && b.metrics.alerts.get() >= 1,
        "both instances matched reads"
    );
    let moved: Vec<bool> = a
        .board
        .open("Test Org")
        .iter()
        .find(|v| v.sightings.len() == 3)
        .unwrap()
        .sightings
        .iter()
        .map(|s| s.moved)
        .collect();
    assert_eq!(moved, [false, false, true]);

    // A decision on one instance shows on the other.
    let incident = a
        .board
        .open("Test Org")
        .iter()
        .find(|v| v.sightings.len() == 3)
        .unwrap()
        .id;
    let ack = common::acknowledge(&config, incident, "dana").await;
    let decided = b.board.wait_decision(&ack.transition_id, Duration::from_secs(30)).await;
    assert_eq!(
        decided.map(|d| d.decision),
        Some(hotlist_matcher::alert::lifecycle::Decision::Applied)
    );
    assert_eq!(
        b.board.view(&incident, Some("Test Org")).unwrap().state,
        AlertState::Acknowledged
    );

    // A restarted instance reads the same incidents and states back.
    let restarted = Board::new(config.dispatch.suppression_window, Default::default(), shutdown.clone());
    board::follow(&config, &restarted, &common::keyring(&config).await).unwrap();
    let same = common::wait_for(Duration::from_secs(30), || shape(&restarted) == expected).await;
    assert!(same, "{:?}", shape(&restarted));
    assert!(restarted
        .wait_decision(&ack.transition_id, Duration::from_secs(30))
        .await
        .is_some());
    assert_eq!(
        restarted.view(&incident, Some("Test Org")).unwrap().state,
        AlertState::Acknowledged
    );
    shutdown.cancel();
    a.wait().await.unwrap();
    b.wait().await.unwrap();
}
