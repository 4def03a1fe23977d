//! The probability model against cases a dispatcher can check by eye.

use super::*;
use crate::normalize::{normalize, normalize_region};

fn p(read: &str, read_state: Option<&str>, entry: &str, entry_state: Option<&str>) -> f32 {
    let region = |s: Option<&str>| s.map(|s| normalize_region(s).unwrap());
    probability(
        &normalize(read).unwrap(),
        region(read_state),
        &normalize(entry).unwrap(),
        region(entry_state),
    )
}

#[test]
fn a_clean_read_of_a_states_serial_is_that_plate() {
    let clean = p("7ABC123", Some("CA"), "7ABC123", Some("CA"));
    assert!(clean > 0.95, "{clean}");
    assert!(clean < 1.0, "other plates one error away keep it below 1: {clean}");
}

#[test]
fn a_look_alike_the_format_resolves_is_a_hit_one_it_cannot_is_not() {
    // An 8 in a letter position of a California serial is a B.
    let resolved = p("7A8C123", Some("CA"), "7ABC123", Some("CA"));
    assert!(resolved > 0.5, "{resolved}");
    // A D read where the list has an O: both are letters, and 7ABD123 is
    // itself a valid California plate, far likelier than a misread.
    let ambiguous = p("7ABD123", Some("CA"), "7ABO123", Some("CA"));
    assert!(ambiguous < 0.05, "{ambiguous}");
}

#[test]
fn an_end_cut_read_could_be_any_of_the_plates_it_extends_to() {
    // Texas ABC1234 with its last digit cut: ten plates explain it equally.
    let cut = p("ABC123", Some("TX"), "ABC1234", Some("TX"));
    assert!((0.05..0.2).contains(&cut), "{cut}");
    // A character added at the end of a Texas plate: only one plate fits.
    let added = p("ABC12345", Some("TX"), "ABC1234", Some("TX"));
    assert!(added > 0.5, "{added}");
}

#[test]
fn another_states_plate_is_likely_only_when_the_read_fits_no_format_of_its_own_state() {
    // Oklahoma issues ABC123-shaped plates: a read of one with an Oklahoma
    // estimate is most likely the Oklahoma plate, not Tennessee's listed one.
    let shared = p("ABC123", Some("OK"), "ABC123", Some("TN"));
    assert!(shared < 0.05, "{shared}");
    // Oklahoma issues no 7-character serial: a Texas-shaped read is far
    // likelier Texas's, though an Oklahoma ABC123 with a character added
    // still competes.
    let foreign = p("ABC1234", Some("OK"), "ABC1234", Some("TX"));
    assert!(foreign > 50.0 * shared && (0.1..0.5).contains(&foreign), "{foreign}");
    // No state on the read: any state issuing that shape could be it.
    let unknown = p("ABC1234", None, "ABC1234", Some("TX"));
    assert!((0.1..0.5).contains(&unknown), "{unknown}");
}

#[test]
fn reads_too_far_from_the_entry_have_no_probability() {
    assert_eq!(p("7XYZ999", Some("CA"), "7ABC123", Some("CA")), 0.0);
    assert_eq!(p("ABC12", Some("TX"), "ABC1234", Some("TX")), 0.0);
}

#[test]
fn likelihoods_follow_the_error_model() {
    let m = &ERRORS;
    let err = 1.0 - m.clean;
    assert_eq!(likelihood(m, b"ABC1234", b"ABC1234"), m.clean);
    assert_eq!(likelihood(m, b"ABC123", b"ABC1234"), err * m.end_cut / 2.0);
    assert_eq!(likelihood(m, b"ABC12345", b"ABC1234"), err * m.end_added / 2.0 / 36.0);
    assert_eq!(
        likelihood(m, b"A8C1234", b"ABC1234"),
        err * m.lookalike / (7.0 * 14.0 / 36.0)
    );
    assert_eq!(likelihood(m, b"ACB1234", b"ABC1234"), err * m.swapped / 6.0);
    assert_eq!(likelihood(m, b"AXC1234", b"ABC1234"), err * m.other / 34.0 / 7.0);
}

#[test]
fn a_clean_read_of_a_listed_vanity_plate_is_a_hit() {
    // 8WH000 is no California serial, but the list says it was issued.
    let vanity = p("8WH000", Some("CA"), "8WH000", Some("CA"));
    assert!(vanity > 0.8, "{vanity}");
}
