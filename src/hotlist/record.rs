//! The hotlist topic's entry record turned into an entry without copying
//! it twice: why an instance with a million entries starts in seconds.
//!
//! [`EntryRecord`] is the record as written and diffed by uploads; going
//! from its JSON to an entry through it allocated every string, then
//! formatted the priority and dates back to text for the upload rules to
//! parse again (issue 16's profile of start-up). [`entry_of`] borrows the
//! strings from the record's bytes (copying only those with escapes) and
//! hands the dates' own text to the same rules. Whatever the fast path
//! refuses is decoded again the old way, so a record is accepted, refused,
//! and explained exactly as before: the fast path only ever saves time.
//! Pure: no I/O, and it never logs (the record holds a plate).

use std::borrow::Cow;

use serde::Deserialize;

use super::csv::{build_entry, RawEntry};
use super::plan::EntryRecord;
use super::{EntryDetails, HotlistEntry, RowError};

/// Why a stored entry record gives no entry.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Not an entry record at all: skipped, whatever the key held before stays.
    #[error("not an entry record: {0}")]
    Json(#[from] serde_json::Error),
    /// An entry record the upload rules refuse: the key holds no entry.
    #[error("{0}")]
    Row(RowError),
}

/// The entry record with its strings borrowed where they have no escapes.
#[derive(Deserialize)]
struct Borrowed<'a> {
    #[serde(borrow)]
    entry_id: Cow<'a, str>,
    #[serde(borrow)]
    list_id: Cow<'a, str>,
    #[serde(borrow)]
    plate: Cow<'a, str>,
    #[serde(borrow)]
    region: Option<Cow<'a, str>>,
    #[serde(borrow)]
    category: Cow<'a, str>,
    priority: u8,
    #[serde(borrow)]
    description: Cow<'a, str>,
    #[serde(default, borrow)]
    expires_at: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    effective_at: Option<Cow<'a, str>>,
    #[serde(default)]
    details: EntryDetails,
}

/// The entry a stored record holds, validated by the upload rules.
pub fn entry_of(bytes: &[u8]) -> Result<HotlistEntry, RecordError> {
    if let Ok(record) = serde_json::from_slice::<Borrowed<'_>>(bytes) {
        let mut digits = [0u8; 3];
        let raw = RawEntry {
            entry_id: &record.entry_id,
            list_id: &record.list_id,
            plate: &record.plate,
            category: &record.category,
            region: record.region.as_deref(),
            priority: Some(decimal(record.priority, &mut digits)),
            description: Some(record.description),
            expires_at: record.expires_at.as_deref(),
            effective_at: record.effective_at.as_deref(),
            details: record.details,
        };
        if let Ok(entry) = build_entry(&raw, 0) {
            return Ok(entry);
        }
    }
    // The old way, for its verdict and its words.
    let record: EntryRecord = serde_json::from_slice(bytes)?;
    record.to_entry().map_err(RecordError::Row)
}

/// `n` in decimal, written into `buffer`.
fn decimal(n: u8, buffer: &mut [u8; 3]) -> &str {
    let mut start = buffer.len();
    let mut n = n;
    loop {
        start -= 1;
        buffer[start] = b'0' + n % 10;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buffer[start..]).expect("ASCII digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(priority: u8, expires: Option<&str>) -> EntryRecord {
        let text = format!(
            "entry_id,list_id,plate,category,region,priority,description,expires_at,nic\n\
             e-1,stolen,7ABC123,stolen_vehicle,CA,{priority},\"blue \\\"sedan\\\"\",{},N123\n",
            expires.unwrap_or("")
        );
        let file = crate::hotlist::load_csv(text.as_bytes(), Default::default()).expect("valid file");
        EntryRecord::of(&file[0])
    }

    #[test]
    fn the_fast_path_gives_the_entry_the_old_one_gives() {
        for (priority, expires) in [
            (0, None),
            (9, Some("2027-01-02T03:04:05Z")),
            (5, Some("2027-01-02T03:04:05.25+02:00")),
        ] {
            let record = record(priority, expires);
            let bytes = serde_json::to_vec(&record).unwrap();
            let fast = entry_of(&bytes).expect("decodes");
            assert_eq!(fast, record.to_entry().unwrap());
        }
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let mut record = record(3, None);
        record.description = "line\nbreak \u{e9} \"quoted\"".into();
        let bytes = serde_json::to_vec(&record).unwrap();
        assert_eq!(entry_of(&bytes).unwrap().description, "line\nbreak \u{e9} \"quoted\"");
    }

    #[test]
    fn refusals_are_the_old_path_s_exactly() {
        let mut bad = record(3, None);
        bad.priority = 12;
        let bytes = serde_json::to_vec(&bad).unwrap();
        match entry_of(&bytes) {
            Err(RecordError::Row(e)) => assert_eq!(Err(e), bad.to_entry()),
            other => panic!("expected a row error, got {:?}", other.map(|_| ())),
        }
        for junk in [&b"{"[..], b"[]", b"{\"entry_id\":1}", b"\xff"] {
            assert!(matches!(entry_of(junk), Err(RecordError::Json(_))), "{junk:?}");
        }
    }

    #[test]
    fn dates_the_old_path_accepts_are_accepted() {
        // chrono's own form, as written by serde, with and without fractions.
        let mut record = record(1, None);
        record.expires_at = Some(chrono::DateTime::from_timestamp(1_900_000_000, 123_000_000).unwrap());
        let bytes = serde_json::to_vec(&record).unwrap();
        assert_eq!(entry_of(&bytes).unwrap(), record.to_entry().unwrap());
    }

    #[test]
    fn decimals_are_written_exactly() {
        let mut buffer = [0u8; 3];
        for n in [0u8, 7, 10, 99, 100, 255] {
            assert_eq!(decimal(n, &mut buffer), n.to_string());
        }
    }
}
