//! Unit tests of pass grouping: the combination rule, grouping by camera,
//! time and text, and the memory bounds under a flooding camera.

use std::slice::from_ref;
use std::sync::Arc;

use super::*;
use crate::hotlist::{CandidateHit, Category, HotlistEntry, MatchKind};
use crate::normalize::normalize;
use crate::read::parse;

pub(crate) fn entry(id: &str, plate: &str) -> Arc<HotlistEntry> {
    Arc::new(HotlistEntry {
        entry_id: id.into(),
        list_id: "rso".into(),
        plate: normalize(plate).unwrap().into(),
        region: None,
        category: Category::StolenVehicle,
        priority: 1,
        description: "black Civic".into(),
        expires_at: None,
        effective_at: None,
        details: Default::default(),
    })
}

pub(crate) fn hit(entry: &Arc<HotlistEntry>, probability: f32, tier: Tier) -> Hit {
    Hit {
        entry: entry.clone(),
        kind: if tier == Tier::Hit {
            MatchKind::Exact
        } else {
            MatchKind::Fuzzy
        },
        score: probability,
        distance: 0.0,
        differing: 0,
        candidate: None,
        region_mismatch: false,
        probability,
        tier,
    }
}

/// A read record: read `id` by `camera`, `ms` milliseconds into the minute.
pub(crate) fn record(id: u128, camera: &str, ms: u32, plate: &str) -> Vec<u8> {
    let read_id = Uuid::from_u128(id);
    let (s, m) = (ms / 1000, ms % 1000);
    format!(
        r#"{{"read_id":"{read_id}","camera_id":"{camera}","captured_at":"2026-11-27T11:12:{s:02}.{m:03}Z","plate":"{plate}"}}"#
    )
    .into_bytes()
}

fn observe(passes: &mut Passes, bytes: &[u8], hits: &[Hit]) -> Vec<Alert> {
    let read = parse(bytes, 4096).unwrap();
    let plate = normalize(&read.plate).unwrap();
    passes.alerts(&read, plate, hits)
}

#[test]
fn odds_multiply_from_an_even_prior() {
    assert_eq!(combine([]), 0.5);
    assert!((combine([0.8]) - 0.8).abs() < 1e-6);
    // 4 * 4 = 16 to 1.
    assert!((combine([0.8, 0.8]) - 16.0 / 17.0).abs() < 1e-6);
    // Evidence against cancels evidence for.
    assert!((combine([0.8, 0.2]) - 0.5).abs() < 1e-6);
    // No single read is certain: a certain read is clamped to 0.999.
    assert!((combine([1.0]) - 0.999).abs() < 1e-6);
    assert!((combine([0.0, 1.0]) - 0.5).abs() < 1e-6);
}

#[test]
fn a_candidate_counts_as_far_as_its_confidence() {
    let e = entry("e1", "7ABC123");
    let mut h = hit(&e, 0.9, Tier::Hit);
    assert_eq!(evidence(&h), 0.9);
    h.candidate = Some(CandidateHit {
        index: 0,
        confidence: Some(0.5),
    });
    assert!((evidence(&h) - 0.7).abs() < 1e-6, "halfway from even to 0.9");
    h.candidate = Some(CandidateHit {
        index: 0,
        confidence: Some(0.0),
    });
    assert_eq!(evidence(&h), 0.5, "a candidate at zero confidence is no evidence");
    h.candidate = Some(CandidateHit {
        index: 0,
        confidence: Some(f32::NAN),
    });
    assert_eq!(evidence(&h), 0.9, "a hostile confidence is ignored");
}

#[test]
fn two_different_possible_readings_make_a_hit_and_a_repeated_one_does_not() {
    let e = entry("e1", "7ABC123");
    let weak = hit(&e, 0.8, Tier::PossibleMatch);
    let mut passes = Passes::new(PassSettings::default());
    let first = observe(&mut passes, &record(1, "cam-1", 0, "7ABC12"), from_ref(&weak));
    assert_eq!(first[0].matched.tier, Tier::PossibleMatch);
    // The same text again: the same OCR error, no new evidence.
    let again = observe(&mut passes, &record(2, "cam-1", 200, "7ABC12"), from_ref(&weak));
    assert_eq!(again[0].alert_id, first[0].alert_id);
    assert_eq!(again[0].matched.tier, Tier::PossibleMatch);
    assert!((again[0].matched.probability - 0.8).abs() < 1e-6);
    // A different reading: 16 to 1, over the 0.9 threshold.
    let other = observe(&mut passes, &record(3, "cam-1", 400, "7ABC1Z"), &[weak]);
    assert_eq!(other[0].alert_id, first[0].alert_id);
    assert_eq!(other[0].matched.tier, Tier::Hit);
    assert!((other[0].matched.probability - 16.0 / 17.0).abs() < 1e-6);
    assert_eq!(other[0].pass.len(), 3);
}

#[test]
fn other_cameras_other_plates_and_late_reads_are_other_passes() {
    let e = entry("e1", "7ABC123");
    let h = hit(&e, 0.97, Tier::Hit);
    let mut passes = Passes::new(PassSettings::default());
    let first = observe(&mut passes, &record(1, "cam-1", 0, "7ABC123"), from_ref(&h));
    let id = |n: u128| crate::alert::alert_id(&Uuid::from_u128(n), "rso", "e1");
    assert_eq!(first[0].alert_id, id(1));
    assert!(first[0].pass.is_empty(), "one read: the alert of old");
    let elsewhere = observe(&mut passes, &record(2, "cam-2", 100, "7ABC123"), from_ref(&h));
    assert_eq!(elsewhere[0].alert_id, id(2));
    // Two edits away from every read of the pass: another vehicle.
    assert!(observe(&mut passes, &record(3, "cam-1", 200, "9XYZ123"), &[]).is_empty());
    let late = observe(&mut passes, &record(4, "cam-1", 3_001, "7ABC123"), &[h]);
    assert_eq!(late[0].alert_id, id(4), "3.001 s after: outside the 3 s window");
    assert!(late[0].pass.is_empty());
}

#[test]
fn a_redelivered_read_is_remembered_once() {
    let e = entry("e1", "7ABC123");
    let h = hit(&e, 0.97, Tier::Hit);
    let mut passes = Passes::new(PassSettings::default());
    let first = observe(&mut passes, &record(1, "cam-1", 0, "7ABC123"), from_ref(&h));
    let again = observe(&mut passes, &record(1, "cam-1", 0, "7ABC123"), &[h]);
    assert_eq!(first, again);
    assert_eq!(passes.remembered(), 1);
}

#[test]
fn without_a_window_every_read_decides_alone() {
    let e = entry("e1", "7ABC123");
    let settings = PassSettings {
        window: Duration::ZERO,
        ..PassSettings::default()
    };
    let mut passes = Passes::new(settings);
    let weak = hit(&e, 0.8, Tier::PossibleMatch);
    observe(&mut passes, &record(1, "cam-1", 0, "7ABC12"), from_ref(&weak));
    let second = observe(&mut passes, &record(2, "cam-1", 100, "7ABC1Z"), &[weak]);
    assert_eq!(
        second[0].alert_id,
        crate::alert::alert_id(&Uuid::from_u128(2), "rso", "e1")
    );
    assert_eq!(second[0].matched.tier, Tier::PossibleMatch);
    assert_eq!(passes.remembered(), 0);
}

/// A camera flooding reads (10,000 in one second) is remembered up to its
/// bound, and a flood of camera ids up to theirs; the decisions go on.
#[test]
fn a_flooding_camera_and_a_flood_of_cameras_stay_within_bounds() {
    let settings = PassSettings {
        max_reads_per_camera: 8,
        max_cameras: 50,
        ..PassSettings::default()
    };
    let mut passes = Passes::new(settings);
    let e = entry("e1", "7ABC123");
    let h = hit(&e, 0.97, Tier::Hit);
    for n in 0..10_000u32 {
        let alerts = observe(
            &mut passes,
            &record(u128::from(n) + 1, "cam-1", n / 10, "7ABC123"),
            from_ref(&h),
        );
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].pass.len() <= 8);
    }
    assert_eq!(passes.remembered(), 8);
    for n in 0..1_000u32 {
        let camera = format!("cam-{n}");
        observe(
            &mut passes,
            &record(20_000 + u128::from(n), &camera, 500, "7ABC123"),
            &[],
        );
        assert!(passes.cameras() <= 50);
    }
    assert!(passes.remembered() <= 50 * 8);
}

/// Two listed vehicles one edit apart, read by one camera at once: each
/// read hit only its own entry, so neither is listed in the other's alert,
/// and each alert keeps its own read's id.
#[test]
fn a_read_that_hit_only_another_entry_is_another_vehicle() {
    let (e0, e1) = (entry("e0", "8WH000"), entry("e1", "8WH100"));
    let mut passes = Passes::new(PassSettings::default());
    observe(
        &mut passes,
        &record(1, "cam-1", 0, "8WH000"),
        &[hit(&e0, 0.97, Tier::Hit)],
    );
    let second = observe(
        &mut passes,
        &record(2, "cam-1", 0, "8WH100"),
        &[hit(&e1, 0.97, Tier::Hit)],
    );
    assert_eq!(
        second[0].alert_id,
        crate::alert::alert_id(&Uuid::from_u128(2), "rso", "e1")
    );
    assert!(second[0].pass.is_empty());
}

/// A read with a hostile capture time (year 9999, then year 0) forgets the
/// camera's passes once; the next frames of a vehicle still group.
#[test]
fn a_hostile_capture_time_forgets_once_and_passes_go_on() {
    let e = entry("e1", "7ABC123");
    let weak = hit(&e, 0.8, Tier::PossibleMatch);
    let mut passes = Passes::new(PassSettings::default());
    for (id, when) in [(90, "9999-12-31T23:59:59Z"), (91, "0000-01-01T00:00:00Z")] {
        let hostile = format!(
            r#"{{"read_id":"{}","camera_id":"cam-1","captured_at":"{when}","plate":"7ABC12"}}"#,
            Uuid::from_u128(id)
        );
        assert_eq!(observe(&mut passes, hostile.as_bytes(), from_ref(&weak)).len(), 1);
    }
    let first = observe(&mut passes, &record(1, "cam-1", 0, "7ABC12"), from_ref(&weak));
    let second = observe(&mut passes, &record(2, "cam-1", 500, "7ABC1Z"), &[weak]);
    assert_eq!(second[0].alert_id, first[0].alert_id);
    assert_eq!(second[0].pass.len(), 2);
}
