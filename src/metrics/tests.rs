//! Unit tests of the metrics: labels by code only, the tally, the camera
//! cap, the scrape hooks. Beside `metrics.rs` to keep that file short.

use super::*;
use crate::hotlist::Tier;

#[test]
fn dlq_reasons_are_labelled_by_code_only() {
    let m = Metrics::new();
    m.dlq.with_label_values(&["malformed_json"]).inc();
    m.dlq.with_label_values(&["invalid_plate"]).inc_by(2);
    assert_eq!(m.dlq_total(), 3);
    let text = m.render();
    assert!(text.contains("hotlist_dlq_total{reason=\"invalid_plate\"} 2"), "{text}");
    assert!(text.contains("hotlist_dlq_total{reason=\"too_large\"} 0"), "{text}");
}

#[test]
fn a_tally_moves_nothing_until_flushed_then_everything_once() {
    let m = Metrics::new();
    let mut tally = m.tally();
    for outcome in [ReadOutcome::Hit, ReadOutcome::NoHit, ReadOutcome::Rejected] {
        let started = tally.start();
        tally.read(outcome, started);
    }
    tally.matched(MatchKind::Fuzzy, Category::Amber, Tier::Hit);
    tally.matched(MatchKind::Fuzzy, Category::Amber, Tier::PossibleMatch);
    tally.camera("cam-1", 1_700_000_000_500);
    tally.camera("cam-1", 1_700_000_000_000);
    tally.camera("cam 2 with spaces", 1_700_000_000_000);
    assert_eq!(tally.reads(), 3);
    assert_eq!(m.read_outcomes.iter().map(IntCounter::get).sum::<u64>(), 0);
    m.flush(&mut tally);
    m.flush(&mut tally);
    assert_eq!(tally.reads(), 0);
    let text = m.render();
    for line in [
        "hotlist_reads_by_outcome_total{outcome=\"hit\"} 1",
        "hotlist_reads_by_outcome_total{outcome=\"rejected\"} 1",
        "hotlist_matches_total{category=\"amber\",match_kind=\"fuzzy\"} 2",
        "hotlist_possible_matches_total{category=\"amber\"} 1",
        "hotlist_possible_matches_total{category=\"bolo\"} 0",
        "hotlist_matches_total{category=\"bolo\",match_kind=\"exact\"} 0",
        "hotlist_camera_reads_total{camera=\"cam-1\"} 2",
        "hotlist_camera_reads_total{camera=\"other\"} 1",
        "hotlist_camera_last_read_timestamp_seconds{camera=\"cam-1\"} 1700000000.5",
        "hotlist_match_duration_seconds_count 1",
        "hotlist_logins_total{outcome=\"locked_out\"} 0",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    assert!(!text.contains("spaces"), "{text}");
}

#[test]
fn cameras_past_the_cap_are_other_and_a_future_capture_is_now() {
    let m = Metrics::new();
    let mut tally = m.tally();
    for i in 0..MAX_CAMERAS + 10 {
        tally.camera(&format!("cam-{i}"), 0);
    }
    m.flush(&mut tally);
    let text = m.render();
    let labelled = text
        .lines()
        .filter(|l| l.starts_with("hotlist_camera_reads_total{"))
        .count();
    assert_eq!(labelled, MAX_CAMERAS + 1, "the cap and `other`");
    assert!(
        text.contains("hotlist_camera_reads_total{camera=\"other\"} 10"),
        "{text}"
    );
    assert_eq!(m.camera_label("cam-0"), "cam-0");
    assert_eq!(m.camera_label("a-new-one"), OTHER_CAMERA);
    let m = Metrics::new();
    let mut tally = m.tally();
    tally.camera("cam-future", i64::MAX / 2);
    m.flush(&mut tally);
    let seen = m.camera_last_read.with_label_values(&["cam-future"]).get();
    assert!((seen - unix_now()).abs() < 60.0, "{seen}");
}

#[test]
fn every_family_is_listed_with_its_prefix() {
    let families = Metrics::new().families();
    for name in [
        "hotlist_reads_total",
        "hotlist_alert_state_changes_total",
        "hotlist_read_to_alert_seconds",
    ] {
        assert!(families.iter().any(|f| f == name), "{name} in {families:?}");
    }
    assert_eq!(
        families.len(),
        families.iter().collect::<std::collections::BTreeSet<_>>().len()
    );
}

#[test]
fn lists_and_retention_checks_are_kept_current() {
    let m = Metrics::new();
    let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    m.on_scrape(move |m| m.set_lists(7, 1, [("rso", 5, at), ("doj", 2, at)].into_iter()));
    m.retention_checked(Some(2));
    m.retention_checked(None);
    let text = m.render();
    for line in [
        "hotlist_list_entries{list=\"rso\"} 5",
        "hotlist_list_refreshed_timestamp_seconds{list=\"doj\"} 1700000000",
        "hotlist_hotlist_entries 7",
        "hotlist_stale_lists 1",
        "hotlist_topic_policy_violations 2",
        "hotlist_retention_checks_total{result=\"violation\"} 1",
        "hotlist_retention_checks_total{result=\"error\"} 1",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    m.retention_checked(Some(0));
    assert_eq!(m.topic_policy_violations.get(), 0);
}
