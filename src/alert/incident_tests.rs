use std::time::Duration as StdDuration;

use chrono::{DateTime, FixedOffset};
use uuid::Uuid;

use super::*;
use crate::alert::lifecycle::{Action, TRANSITION_SCHEMA};
use crate::alert::{AlertEntry, AlertMatch, AlertRead};
use crate::hotlist::{Category, MatchKind};

const FIVE_MINUTES: StdDuration = StdDuration::from_secs(300);

fn at(minute: u32, second: u32) -> DateTime<FixedOffset> {
    format!("2026-11-28T03:{minute:02}:{second:02}-08:00").parse().unwrap()
}

/// An alert of `entry` from the read `read` by `camera` at `when`.
pub(crate) fn alert(read: u128, entry: &str, camera: &str, when: DateTime<FixedOffset>) -> Alert {
    let read_id = Uuid::from_u128(read);
    Alert {
        schema: crate::alert::SCHEMA_VERSION,
        alert_id: crate::alert::alert_id(&read_id, "rso", entry),
        read: AlertRead {
            read_id,
            camera_id: camera.into(),
            captured_at: when,
            plate_raw: "8ABC1Z3".into(),
            plate: "8ABC1Z3".into(),
            region: Some("CA".into()),
            confidence: Some(0.9),
            location: None,
            image_ref: None,
        },
        entry: AlertEntry {
            list_id: "rso".into(),
            entry_id: entry.into(),
            plate: "8ABC123".into(),
            region: Some("CA".into()),
            category: Category::StolenVehicle,
            priority: 1,
            description: "black Civic".into(),
            details: Default::default(),
            effective_at: None,
        },
        matched: AlertMatch {
            kind: MatchKind::OcrEquivalent,
            score: 0.95,
            distance: 0.0,
            positions: vec![5],
            candidate: None,
            region_mismatch: false,
            probability: 0.9,
            tier: crate::hotlist::Tier::Hit,
        },
        historical: false,
        pass: Vec::new(),
    }
}

#[test]
fn the_same_entry_within_the_window_is_a_sighting_and_after_it_a_new_incident() {
    let mut incidents = Incidents::new(FIVE_MINUTES);
    let first = alert(1, "e1", "cam-1", at(0, 0));
    let id = first.alert_id;
    assert_eq!(incidents.add_alert(first), Added::Opened(id));
    // Same camera 4 minutes later, another camera 8 minutes in (4 after the last sighting).
    assert_eq!(
        incidents.add_alert(alert(2, "e1", "cam-1", at(4, 0))),
        Added::Sighting(id)
    );
    assert_eq!(
        incidents.add_alert(alert(3, "e1", "cam-2", at(8, 0))),
        Added::Sighting(id)
    );
    // 5 minutes and 1 second after the last sighting: a new incident.
    let late = alert(4, "e1", "cam-2", at(13, 1));
    let late_id = late.alert_id;
    assert_eq!(incidents.add_alert(late), Added::Opened(late_id));
    // Another entry never joins.
    let other = alert(5, "e2", "cam-1", at(0, 30));
    let other_id = other.alert_id;
    assert_eq!(incidents.add_alert(other), Added::Opened(other_id));
    let cameras: Vec<_> = incidents
        .get(&id)
        .unwrap()
        .sightings
        .iter()
        .map(|s| s.camera_id.as_str())
        .collect();
    assert_eq!(cameras, ["cam-1", "cam-1", "cam-2"]);
    assert_eq!(incidents.len(), 3);
}

#[test]
fn a_redelivered_alert_is_folded_in_once() {
    let mut incidents = Incidents::new(FIVE_MINUTES);
    let first = alert(1, "e1", "cam-1", at(0, 0));
    let id = first.alert_id;
    incidents.add_alert(first.clone());
    let second = alert(2, "e1", "cam-1", at(1, 0));
    incidents.add_alert(second.clone());
    assert_eq!(incidents.add_alert(first), Added::Duplicate(id));
    assert_eq!(incidents.add_alert(second), Added::Duplicate(id));
    assert_eq!(incidents.get(&id).unwrap().sightings.len(), 2);
}

#[test]
fn sightings_out_of_capture_order_are_kept_in_time_order() {
    let mut incidents = Incidents::new(FIVE_MINUTES);
    let first = alert(1, "e1", "cam-1", at(10, 0));
    let id = first.alert_id;
    incidents.add_alert(first);
    // An earlier read arrives late (another partition of the reads topic).
    assert_eq!(
        incidents.add_alert(alert(2, "e1", "cam-9", at(7, 0))),
        Added::Sighting(id)
    );
    let times: Vec<_> = incidents
        .get(&id)
        .unwrap()
        .sightings
        .iter()
        .map(|s| s.captured_at)
        .collect();
    assert_eq!(times, [at(7, 0), at(10, 0)]);
}

/// A decision on `id` by `by` (of RSO) at `at` (RFC 3339).
pub(crate) fn transition(id: Uuid, from: AlertState, action: Action, by: &str, at: &str) -> Transition {
    Transition {
        schema: TRANSITION_SCHEMA,
        transition_id: Uuid::new_v4(),
        alert_id: id,
        from,
        action,
        by: by.into(),
        organisation: "RSO".into(),
        at: at.parse().unwrap(),
    }
}

fn step(id: Uuid, from: AlertState, action: Action, second: u32) -> Transition {
    transition(id, from, action, "ann", &format!("2026-11-28T11:20:{second:02}Z"))
}

#[test]
fn a_closed_incident_leaves_the_board_until_the_vehicle_is_seen_again() {
    let mut incidents = Incidents::new(FIVE_MINUTES);
    let first = alert(1, "e1", "cam-1", at(20, 0)); // 11:20:00 UTC
    let id = first.alert_id;
    incidents.add_alert(first);
    // A decision that arrives before its alert is kept for it.
    assert_eq!(
        incidents.apply(&step(id, AlertState::New, Action::Acknowledge, 10)),
        Decision::Applied
    );
    incidents.apply(&step(id, AlertState::Acknowledged, Action::Confirm, 20));
    assert!(incidents.is_open(&id));
    incidents.apply(&step(id, AlertState::Confirmed, Action::Close, 30));
    assert_eq!(incidents.lifecycle(&id).state, AlertState::Closed);
    assert!(!incidents.is_open(&id));
    assert!(!incidents.reopened(&id));
    assert_eq!(
        incidents.add_alert(alert(2, "e1", "cam-3", at(21, 0))),
        Added::Sighting(id)
    );
    assert!(
        incidents.is_open(&id),
        "a confirmed stolen car seen again after closing shows again"
    );
    assert!(incidents.reopened(&id));
}

#[test]
fn incidents_last_seen_before_the_cutoff_are_forgotten_whole() {
    let mut incidents = Incidents::new(FIVE_MINUTES);
    let old = alert(1, "e1", "cam-1", at(0, 0));
    let old_id = old.alert_id;
    incidents.add_alert(old.clone());
    incidents.apply(&step(old_id, AlertState::New, Action::Acknowledge, 1));
    let new = alert(2, "e2", "cam-1", at(30, 0));
    incidents.add_alert(new);
    assert_eq!(incidents.purge_before(at(10, 0).with_timezone(&Utc)), 1);
    assert!(incidents.get(&old_id).is_none());
    assert_eq!(incidents.lifecycle(&old_id).state, AlertState::New);
    assert_eq!(incidents.len(), 1);
    // The purged alert is no longer known: a replay of it opens afresh.
    assert_eq!(incidents.add_alert(old), Added::Opened(old_id));
}
