//! Fuzzes hotlist uploads in the ncic format: arbitrary bytes as
//! NCIC field-code records such as `LIC/ABC123.LIS/CA.NIC/V123456789` (`Format::parse("ncic")`),
//! through `hotlist_matcher::hotlist::feed::parse` for list `rso-stolen`.
//! It asserts that parsing never panics, that a refusal formats, and that an
//! accepted file holds only entries of that list, with valid and unique entry
//! ids, priority 0-9, descriptions of at most 1024 bytes, canonical regions,
//! and canonical plates and patterns (normalizing or parsing their text again
//! gives the same plate or pattern).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/hotlist.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::check(data, "ncic"));
