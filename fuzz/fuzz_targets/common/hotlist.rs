// Shared by the hotlist_* fuzz targets: one upload through
// `hotlist_matcher::hotlist::feed::parse` in one format, and the checks on
// what comes out.

use std::collections::HashSet;

use hotlist_matcher::hotlist::feed::{self, FeedOptions, Format};
use hotlist_matcher::hotlist::pattern::Pattern;
use hotlist_matcher::hotlist::{Category, CsvLimits, EntryPlate, HotlistError};
use hotlist_matcher::normalize::normalize;

/// The list every upload replaces (the seeds use it).
pub const LIST_ID: &str = "rso-stolen";

/// Parses `data` as an upload in the format named `name` (`Format::parse`)
/// and checks the result. Panics on any broken promise.
pub fn check(data: &[u8], name: &str) {
    let format = Format::parse(name).expect("a known format name");
    let options = FeedOptions {
        list_id: LIST_ID.to_owned(),
        category: Category::StolenVehicle,
        limits: CsvLimits {
            max_bytes: 1 << 20,
            // Small enough that the row limit is reachable within -max_len.
            max_rows: 2_000,
        },
    };
    match feed::parse(data, &format, &options) {
        Err(HotlistError::Rows(rows)) => {
            assert!(!rows.is_empty(), "a Rows error with no rows");
            for row in &rows {
                // Shown to the clerk: formatting must not panic.
                let _ = row.to_string();
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
        Ok(entries) => {
            assert!(!entries.is_empty() || data.iter().all(u8::is_ascii_whitespace) || name == "csv");
            let mut seen = HashSet::new();
            for entry in &entries {
                assert_eq!(entry.list_id, LIST_ID, "an entry for another list was accepted");
                assert!(
                    hotlist_matcher::text::check_id(&entry.entry_id).is_ok(),
                    "bad entry id {:?}",
                    entry.entry_id
                );
                assert!(
                    seen.insert((entry.list_id.clone(), entry.entry_id.clone())),
                    "duplicate entry id {:?}",
                    entry.entry_id
                );
                assert!(entry.priority <= 9, "priority {}", entry.priority);
                assert!(entry.description.len() <= 1024, "description too long");
                if let Some(region) = entry.region {
                    let code = region.as_str();
                    assert!((2..=3).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_uppercase()));
                }
                match &entry.plate {
                    EntryPlate::Plate(plate) => {
                        assert_eq!(normalize(plate.as_str()), Ok(*plate), "plate not canonical");
                    }
                    EntryPlate::Pattern(pattern) => {
                        let text = pattern.to_string();
                        assert_eq!(
                            Pattern::parse(&text).as_ref(),
                            Ok(pattern),
                            "pattern {text:?} not canonical"
                        );
                    }
                }
                let _ = serde_json::to_string(&entry.details).expect("details serialize");
            }
        }
    }
}
