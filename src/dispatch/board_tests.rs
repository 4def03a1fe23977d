use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::*;
use crate::alert::incident::tests::{alert, transition};
use crate::alert::lifecycle::{Action, AlertState, RejectReason};
use crate::hotlist::plan::ListMeta;

fn board(lists: Lists) -> Arc<Board> {
    Board::new(Duration::from_secs(300), lists, CancellationToken::new())
}

fn at(minute: u32) -> chrono::DateTime<chrono::FixedOffset> {
    format!("2026-11-28T03:{minute:02}:00-08:00").parse().unwrap()
}

fn step(id: Uuid, from: AlertState, action: Action, by: &str) -> Transition {
    transition(id, from, action, by, "2026-11-28T11:30:00Z")
}

/// List `rso` as a covert list of `owner`.
pub(crate) fn covert_rso(lists: &Lists, owner: &str) {
    lists.write().unwrap().insert(
        "rso".into(),
        ListMeta {
            list_id: "rso".into(),
            organisation: owner.into(),
            refreshed_at: chrono::Utc::now(),
            entries: 1,
            covert: true,
        },
    );
}

#[test]
fn boards_reading_the_same_records_show_the_same_incidents() {
    let records: Vec<Vec<u8>> = [
        alert(1, "e1", "cam-1", at(0)),
        alert(2, "e1", "cam-2", at(2)),
        alert(3, "e2", "cam-1", at(1)),
        alert(1, "e1", "cam-1", at(0)), // redelivered
    ]
    .iter()
    .map(Alert::encode)
    .collect();
    let first_id = alert(1, "e1", "cam-1", at(0)).alert_id;
    let ack = step(first_id, AlertState::New, Action::Acknowledge, "ann");
    let (one, two) = (board(Lists::default()), board(Lists::default()));
    for b in [&one, &two] {
        let batch: Vec<Record<'_>> = records
            .iter()
            .enumerate()
            .map(|(n, r)| (0, n as i64, r.as_slice()))
            .collect();
        b.add_alerts(&batch);
        b.add_transitions(&[(2, 40, &ack.encode())]);
    }
    let (a, b) = (one.open("RSO"), two.open("RSO"));
    assert_eq!(a, b);
    assert_eq!(a.len(), 2);
    let e1 = a.iter().find(|v| v.id == first_id).unwrap();
    assert_eq!(e1.sightings.len(), 2);
    assert_eq!(e1.state, AlertState::Acknowledged);
    assert_eq!(
        one.incident_of(&alert(2, "e1", "cam-2", at(2)).alert_id),
        Some(first_id)
    );
    assert!(one.is_first_copy(&first_id, 0, 0));
    assert!(!one.is_first_copy(&first_id, 0, 3), "the redelivered copy");
    // Positions read so far, per topic and partition.
    let now = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    now.block_on(async {
        assert!(one.wait_read(Stream::Alerts, 0, 3, Duration::ZERO).await);
        assert!(!one.wait_read(Stream::Alerts, 0, 4, Duration::ZERO).await);
        assert!(one.wait_read(Stream::States, 2, 40, Duration::ZERO).await);
        assert!(!one.wait_read(Stream::States, 1, 0, Duration::ZERO).await);
    });
}

#[test]
fn the_board_orders_by_priority_then_newest_first() {
    let b = board(Lists::default());
    let mut urgent = alert(1, "e1", "cam-1", at(0));
    urgent.entry.priority = 0;
    let older = alert(2, "e2", "cam-1", at(1));
    let newer = alert(3, "e3", "cam-1", at(9));
    let payloads = [urgent.encode(), older.encode(), newer.encode()];
    let batch: Vec<Record<'_>> = payloads
        .iter()
        .enumerate()
        .map(|(n, p)| (0, n as i64, p.as_slice()))
        .collect();
    b.add_alerts(&batch);
    let order: Vec<Uuid> = b.open("RSO").iter().map(|v| v.id).collect();
    assert_eq!(order, [urgent.alert_id, newer.alert_id, older.alert_id]);
}

#[test]
fn hits_on_a_covert_list_are_shown_only_to_its_organisation() {
    let lists = Lists::default();
    covert_rso(&lists, "RSO Narcotics");
    let b = board(lists);
    let hit = alert(1, "e1", "cam-1", at(0));
    b.add_alerts(&[(0, 0, &hit.encode())]);
    assert_eq!(b.open("RSO Narcotics").len(), 1);
    assert!(b.view(&hit.alert_id, Some("RSO Narcotics")).is_some());
    assert!(b.open("Riverside County Sheriff").is_empty());
    assert!(b.view(&hit.alert_id, Some("City of Coachella")).is_none());
    assert!(b.view(&hit.alert_id, None).is_none(), "never to webhooks");
}

#[tokio::test]
async fn a_decision_is_known_once_read_back_and_the_loser_learns_who_won() {
    let b = board(Lists::default());
    let hit = alert(1, "e1", "cam-1", at(0));
    b.add_alerts(&[(0, 0, &hit.encode())]);
    let mut changes = b.subscribe();
    let ann = step(hit.alert_id, AlertState::New, Action::Acknowledge, "ann");
    let bob = step(hit.alert_id, AlertState::New, Action::Acknowledge, "bob");
    assert_eq!(b.decided(&ann.transition_id), None);
    let reader = Arc::clone(&b);
    let (ann_bytes, bob_bytes) = (ann.encode(), bob.encode());
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        reader.add_transitions(&[(0, 0, &ann_bytes), (0, 1, &bob_bytes)]);
    });
    let won = b
        .wait_decision(&ann.transition_id, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(won.decision, Decision::Applied);
    let lost = b
        .wait_decision(&bob.transition_id, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        lost.decision,
        Decision::Conflict {
            state: AlertState::Acknowledged,
            by: Some("ann".into())
        }
    );
    assert_eq!(changes.recv().await.unwrap(), hit.alert_id);
    assert!(changes.try_recv().is_err(), "the losing decision changed nothing");
    let reject = step(
        hit.alert_id,
        AlertState::Acknowledged,
        Action::Reject {
            reason: RejectReason::Misread,
            text: None,
        },
        "ann",
    );
    assert_eq!(
        b.wait_decision(&reject.transition_id, Duration::from_millis(20)).await,
        None
    );
}

#[test]
fn incidents_past_retention_are_forgotten_with_their_decisions() {
    let b = board(Lists::default());
    let old = alert(1, "e1", "cam-1", at(0));
    let new = alert(2, "e2", "cam-1", at(40));
    b.add_alerts(&[(0, 0, &old.encode()), (0, 1, &new.encode())]);
    let ack = step(old.alert_id, AlertState::New, Action::Acknowledge, "ann");
    b.add_transitions(&[(0, 0, &ack.encode())]);
    // 11:30Z is 03:30 in the alerts' zone: after the old alert, before the new.
    assert_eq!(b.purge_before("2026-11-28T11:30:00Z".parse().unwrap()), 1);
    assert_eq!(b.len(), 1);
    assert!(b.view(&old.alert_id, Some("RSO")).is_none());
    assert!(!b.is_first_copy(&old.alert_id, 0, 0));
    assert!(b.is_first_copy(&new.alert_id, 0, 1));
    assert_eq!(b.decided(&ack.transition_id), None, "it went with its incident");
}

#[test]
fn records_that_cannot_be_read_are_skipped_and_still_count_as_read() {
    let b = board(Lists::default());
    b.add_alerts(&[(0, 0, b"not json"), (0, 1, &alert(1, "e1", "cam-1", at(0)).encode())]);
    b.add_transitions(&[(0, 0, b"{\"schema\":1}")]);
    assert_eq!(b.len(), 1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        assert!(b.wait_read(Stream::Alerts, 0, 1, Duration::ZERO).await);
        assert!(b.wait_read(Stream::States, 0, 0, Duration::ZERO).await);
    });
}
