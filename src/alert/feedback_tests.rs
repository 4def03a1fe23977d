//! Unit tests of the confusion kinds and the rejections report's fold.

use super::*;
use crate::alert::incident::tests::{alert, transition};
use crate::alert::lifecycle::Action;

#[test]
fn each_confusion_is_named_from_the_plates() {
    use MatchKind::*;
    let kind = |read: &str, entry: &str, kind| confusion_kind(read, entry, kind, false);
    assert_eq!(kind("7ABC123", "7ABC123", Exact), "exact");
    assert_eq!(kind("7A8C1Z3", "7ABC123", OcrEquivalent), "ocr_lookalike");
    assert_eq!(kind("7AHC123", "7ABC123", Fuzzy), "plausible_confusion", "H/B");
    assert_eq!(kind("7AXC123", "7ABC123", Fuzzy), "substitution");
    assert_eq!(kind("ABC123", "7ABC123", Fuzzy), "end_truncation");
    assert_eq!(kind("7ABC12", "7ABC123", Fuzzy), "end_truncation");
    assert_eq!(kind("7ABC1234", "7ABC123", Fuzzy), "end_extension");
    assert_eq!(kind("17ABC123", "7ABC123", Fuzzy), "end_extension");
    assert_eq!(kind("7AC123", "7ABC123", Fuzzy), "inner_deletion");
    assert_eq!(kind("7ABXC123", "7ABC123", Fuzzy), "inner_insertion");
    assert_eq!(kind("7BAC123", "7ABC123", Fuzzy), "transposition");
    assert_eq!(kind("7AB*", "7AB*", Wildcard), "wildcard");
    assert_eq!(kind("7ABC123", "ABC", Partial), "partial");
    assert_eq!(confusion_kind("7ABC123", "9XYZ999", Fuzzy, true), "ocr_candidate");
    // Far apart, or not a plate at all (hostile text): `other`, never the text.
    assert_eq!(kind("9XYZ999", "7ABC123", Fuzzy), "other");
    assert_eq!(kind("7A#C\u{0}", "7ABC123", Fuzzy), "other");
    for name in ["exact", "ocr_lookalike", "other", "end_truncation"] {
        assert!(CONFUSIONS.contains(&name));
    }
}

/// Three incidents on list `rso` (one confirmed, one rejected as a misread,
/// one rejected as wrong state) and one undecided on `amber`, from two
/// cameras: counted once per incident, a later sighting included.
#[test]
fn decisions_are_counted_per_list_confusion_and_camera() {
    use AlertState::*;
    let at = |minute: u32| format!("2026-11-28T03:{minute:02}:00-08:00").parse().unwrap();
    let confirmed = alert(1, "e1", "cam-1", at(0));
    let sighting = alert(2, "e1", "cam-2", at(1)); // the same incident
    let mut misread = alert(3, "e2", "cam-1", at(2));
    misread.read.plate = "8ABC12".into();
    misread.matched.kind = MatchKind::Fuzzy;
    let wrong_state = alert(4, "e3", "cam-2", at(3));
    let mut undecided = alert(5, "e4", "cam-2", at(4));
    undecided.entry.list_id = "amber".into();
    let ids = [confirmed.alert_id, misread.alert_id, wrong_state.alert_id];
    let reject = |reason| Action::Reject { reason, text: None };
    let step =
        |id, from, action, minute: u32| transition(id, from, action, "ann", &format!("2026-11-28T11:{minute:02}:00Z"));
    let transitions = [
        step(ids[0], New, Action::Acknowledge, 10),
        step(ids[0], Acknowledged, Action::Confirm, 11),
        step(ids[0], Confirmed, Action::Close, 12),
        step(ids[1], New, Action::Acknowledge, 13),
        step(ids[1], Acknowledged, reject(RejectReason::Misread), 14),
        step(ids[2], New, Action::Acknowledge, 15),
        step(ids[2], Acknowledged, reject(RejectReason::WrongState), 16),
    ];
    let report = FeedbackReport::fold(
        std::time::Duration::from_secs(300),
        [confirmed, sighting, misread, wrong_state, undecided],
        transitions,
    );
    let tally = |incidents, confirmed, misread, rejected_other| Tally {
        incidents,
        confirmed,
        misread,
        rejected_other,
    };
    assert_eq!(report.by_list["rso"], tally(3, 1, 1, 1));
    assert_eq!(report.by_list["amber"], tally(1, 0, 0, 0));
    assert_eq!(report.by_list["rso"].false_alarm_share(), Some(0.5));
    assert_eq!(report.by_list["amber"].false_alarm_share(), None);
    assert_eq!(report.by_confusion["ocr_lookalike"], tally(3, 1, 0, 1));
    assert_eq!(report.by_confusion["end_truncation"], tally(1, 0, 1, 0));
    assert_eq!(
        report.by_list_confusion[&("rso".to_string(), "end_truncation")],
        tally(1, 0, 1, 0)
    );
    assert_eq!(report.by_camera["cam-1"], tally(2, 1, 1, 0));
    assert_eq!(report.by_camera["cam-2"], tally(2, 0, 0, 1));
    let text = report.render();
    assert!(text.contains("by list and confusion"), "{text}");
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("rso / end_truncation"))
        .unwrap();
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>()[3..],
        ["1", "0", "1", "0", "100.0%"]
    );
    assert!(!text.contains("8ABC"), "no plate in the report");
}
