//! Passes and field feedback through the real service and broker: two
//! frames of one vehicle's pass (an OCR look-alike misread, then a clean
//! read, keyed by camera) become one incident under the first frame's alert
//! id with both frames as sightings; then dispatch's decisions, written to
//! the alert-state topic, come back out of the rejections report counted
//! per list and camera.

use std::time::Duration;

use hotlist_matcher::alert::feedback::Tally;
use hotlist_matcher::alert::lifecycle::{Action, AlertState, RejectReason, Transition, TRANSITION_SCHEMA};
use hotlist_matcher::config::Config;
use hotlist_matcher::sample;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common;

/// Writes one decision on `alert_id` to the alert-state topic, as the board's route does.
async fn decide(config: &Config, alert_id: Uuid, from: AlertState, action: Action) {
    let step = Transition {
        schema: TRANSITION_SCHEMA,
        transition_id: Uuid::new_v4(),
        alert_id,
        from,
        action,
        by: "dana".into(),
        organisation: "Test Org".into(),
        at: chrono::Utc::now(),
    };
    let writer = hotlist_matcher::kafka::alert_state::Writer::new(config, common::keyring(config).await).unwrap();
    writer.write(&step, step.at.timestamp_millis()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_frames_of_one_pass_are_one_incident_and_decisions_come_back_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = common::unique("passes");
    let hotlist = dir.path().join("h.csv");
    std::fs::write(
        &hotlist,
        "entry_id,list_id,plate,region,category,priority,description\n\
         e1,rso,7PAS123,CA,stolen_vehicle,1,grey Camry\n\
         e2,rso,8FBK456,CA,stolen_vehicle,1,red Civic\n",
    )
    .unwrap();
    let config = common::config(&prefix, &hotlist, 10);
    common::create_topics(&config).await;
    let shutdown = CancellationToken::new();
    let running = hotlist_matcher::app::run(config.clone(), shutdown.clone())
        .await
        .unwrap();
    let (misread, clean, other) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let reads = [
        sample::read_json(
            misread,
            "cam-1",
            &sample::yesterday_at("03:00:00"),
            "7PAS1Z3",
            Some("CA"),
        ),
        sample::read_json(clean, "cam-1", &sample::yesterday_at("03:00:01"), "7PAS123", Some("CA")),
        sample::read_json(other, "cam-2", &sample::yesterday_at("03:10:00"), "8FBK456", Some("CA")),
    ];
    let keys = ["cam-1".to_string(), "cam-1".into(), "cam-2".into()];
    common::produce_keyed(&config, &config.topics.reads, &keys, &reads).await;

    let pass_id = hotlist_matcher::alert::alert_id(&misread, "rso", "e1");
    let other_id = hotlist_matcher::alert::alert_id(&other, "rso", "e2");
    let folded = common::wait_for(Duration::from_secs(60), || {
        let open = running.board.open("Test Org");
        open.len() == 2 && open.iter().any(|v| v.id == pass_id && v.sightings.len() == 2)
    })
    .await;
    let shown: Vec<_> = running
        .board
        .open("Test Org")
        .iter()
        .map(|v| (v.id, v.sightings.len()))
        .collect();
    assert!(
        folded,
        "one incident of two frames under the first frame's id, and one other: {shown:?}"
    );

    decide(&config, pass_id, AlertState::New, Action::Acknowledge).await;
    let misread_step = Action::Reject {
        reason: RejectReason::Misread,
        text: None,
    };
    decide(&config, pass_id, AlertState::Acknowledged, misread_step).await;
    decide(&config, other_id, AlertState::New, Action::Acknowledge).await;
    decide(&config, other_id, AlertState::Acknowledged, Action::Confirm).await;

    let (report, alerts, decisions) = hotlist_matcher::commands::load_report(&config).await.unwrap();
    assert_eq!(
        (alerts, decisions),
        (3, 4),
        "two records of the pass's alert, one of the other"
    );
    let tally = |incidents, confirmed, misread| Tally {
        incidents,
        confirmed,
        misread,
        rejected_other: 0,
    };
    assert_eq!(report.by_list["rso"], tally(2, 1, 1));
    assert_eq!(report.by_camera["cam-1"], tally(1, 0, 1));
    assert_eq!(report.by_camera["cam-2"], tally(1, 1, 0));
    assert_eq!(report.by_confusion.values().map(|t| t.incidents).sum::<u64>(), 2);
    assert!(!report.render().contains("7PAS"), "no plate in the report");
    shutdown.cancel();
    drop(running);
}
