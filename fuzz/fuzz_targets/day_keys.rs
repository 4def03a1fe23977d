//! Fuzzes what encryption at rest reads from outside: records of the
//! day-key topic (`KeyBook::apply` on an arbitrary record name and value,
//! as anyone who can write the topic could send), sealed payloads
//! (`DayKey::open` on arbitrary bytes) and a master key file's contents
//! (`MasterKey::from_file_contents`). It asserts that none panics; that a
//! day key is adopted only from a value the master key wrapped for that
//! day (arbitrary bytes never are); that arbitrary bytes never open as a
//! sealed record; and that a key file is accepted only as 32 raw bytes or
//! 64 hex digits.
#![no_main]

use hotlist_matcher::retention::keybook::{Applied, KeyBook};
use hotlist_matcher::retention::seal::{parse_day_id, DayKey, MasterKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte is the record name's length; the rest is the value.
    let rest = data.get(1..).unwrap_or_default();
    let (name, value) = rest.split_at(data.first().map_or(0, |&b| usize::from(b)).min(rest.len()));
    let name = String::from_utf8_lossy(name);
    let master = MasterKey::development();
    let mut book = KeyBook::default();
    match book.apply(&master, &name, Some(value)) {
        Applied::Adopted(day) => panic!("arbitrary bytes adopted as the key of {day}"),
        Applied::Refused(_) | Applied::Ignored(_) | Applied::Destroyed(_) | Applied::Tidied(_) => {}
    }
    let _ = book.apply(&master, &name, None);
    let _ = parse_day_id(&name);
    let day = parse_day_id("2026-12-06").expect("a day");
    let key = DayKey::generate(day).unwrap();
    assert!(key.open(data).is_err(), "arbitrary bytes opened as a sealed record");
    if let Ok(_master) = MasterKey::from_file_contents(data) {
        let text = std::str::from_utf8(data).map(str::trim).unwrap_or("");
        let hex = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
        assert!(data.len() == 32 || hex, "a key file of {} bytes accepted", data.len());
    }
});
