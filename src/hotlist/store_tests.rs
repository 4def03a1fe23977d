use super::*;
use crate::normalize::{normalize, normalize_region};

fn full_entry(id: &str) -> HotlistEntry {
    HotlistEntry {
        entry_id: id.to_owned(),
        list_id: "ncic-stolen".to_owned(),
        plate: normalize("7ABC123").expect("valid").into(),
        region: normalize_region("CA").ok(),
        category: Category::WantedPerson,
        priority: 3,
        description: "2014 Honda Civic, silver — dent on the left door; «armed»".to_owned(),
        expires_at: Some(chrono::DateTime::from_timestamp(4_102_444_800, 123_456_789).expect("valid")),
        effective_at: Some(chrono::DateTime::from_timestamp(1_764_547_200, 0).expect("valid")),
        details: EntryDetails {
            nic: Some("V123456789".to_owned()),
            ori: Some("CA0330000".to_owned()),
            oca: Some("24-000123".to_owned()),
            plate_type: Some("PC".to_owned()),
            vehicle_year: Some("2014".to_owned()),
            vehicle_make: Some("HOND".to_owned()),
            vehicle_model: Some("CIV".to_owned()),
            vehicle_colour: Some("SIL".to_owned()),
        },
    }
}

fn bare_entry(id: &str) -> HotlistEntry {
    HotlistEntry {
        entry_id: id.to_owned(),
        list_id: "other-list".to_owned(),
        plate: normalize("ABC1").expect("valid").into(),
        region: None,
        category: Category::Other,
        priority: 0,
        description: String::new(),
        expires_at: None,
        effective_at: None,
        details: EntryDetails::default(),
    }
}

fn rebuilt(store: &EntryStore, number: u32, like: &HotlistEntry) -> HotlistEntry {
    store.entry(number, like.plate.plate().expect("plate"), like.region)
}

#[test]
fn every_field_comes_back_exactly_from_entries_and_from_packed_copies() {
    let entries = [
        Arc::new(full_entry("e1")),
        Arc::new(bare_entry("e2")),
        Arc::new(HotlistEntry {
            description: "x".repeat(300), // a length over one varint byte
            entry_id: "é".repeat(70),
            ..full_entry("e3")
        }),
    ];
    let mut builder = StoreBuilder::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(builder.push(&Source::Entry(entry)), i as u32);
    }
    let store = builder.finish();
    assert_eq!(store.len(), 3);
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(&rebuilt(&store, i as u32, entry), &**entry);
        assert_eq!(store.list_id(i as u32), entry.list_id);
        assert_eq!(store.entry_id(i as u32), entry.entry_id);
        assert_eq!(store.category(i as u32), entry.category);
    }
    // A rebuild copies records store to store, in any order.
    let mut copy = StoreBuilder::default();
    for (i, entry) in entries.iter().enumerate().rev() {
        let source = Source::Packed {
            store: &store,
            number: i as u32,
            plate: entry.plate.plate().expect("plate"),
            region: entry.region,
        };
        assert_eq!(source.list_id(), entry.list_id);
        assert_eq!(source.entry_id(), entry.entry_id);
        assert_eq!(*source.to_entry(), **entry);
        copy.push(&source);
    }
    let copy = copy.finish();
    for (i, entry) in entries.iter().rev().enumerate() {
        assert_eq!(&rebuilt(&copy, i as u32, entry), &**entry);
    }
}

#[test]
fn every_category_round_trips() {
    let mut builder = StoreBuilder::default();
    for category in Category::ALL {
        builder.push(&Source::Entry(&Arc::new(HotlistEntry {
            category,
            ..bare_entry("e")
        })));
    }
    let store = builder.finish();
    for (i, category) in Category::ALL.into_iter().enumerate() {
        assert_eq!(store.category(i as u32), category);
    }
}

#[test]
fn repeated_strings_are_stored_once_and_per_entry_text_inline() {
    let mut builder = StoreBuilder::default();
    let entry = Arc::new(full_entry("e1"));
    builder.push(&Source::Entry(&entry));
    let one = builder.store.bytes.len();
    builder.push(&Source::Entry(&entry));
    let store = builder.finish();
    // List, ORI, plate type, year, make, model, colour: 7 distinct strings.
    assert_eq!(store.strings.len(), 7);
    assert_eq!(store.bytes.len(), 2 * one);
    // 3 header bytes, list number, id (1+2), description (1+n),
    // two times (12 each), the detail mask, NIC (1+10), ORI, OCA (1+9),
    // five interned details: one byte each.
    let description = entry.description.len();
    assert_eq!(one, 3 + 1 + 3 + (1 + description) + 24 + 1 + 11 + 1 + 10 + 5);
}

#[test]
fn a_hit_carries_every_field_of_its_entry_through_levels_merges_and_folds() {
    use crate::hotlist::{LiveMatcher, Matcher, Query, TolerancePolicy};
    let first = Arc::new(full_entry("e1"));
    let matcher = Arc::new(LiveMatcher::new(vec![Arc::clone(&first)], TolerancePolicy::default()));
    let second = Arc::new(HotlistEntry {
        plate: normalize("8XYZ987").expect("valid").into(),
        description: "added live".to_owned(),
        ..full_entry("e2")
    });
    matcher.upsert(Arc::clone(&second));
    let hit = |plate: &str| {
        let mut hits = Vec::new();
        let query = Query {
            plate: normalize(plate).expect("valid"),
            region: normalize_region("CA").ok(),
            candidates: &[],
        };
        matcher.find(&query, &mut hits);
        assert_eq!(hits.len(), 1, "one hit on {plate}");
        hits.remove(0).entry
    };
    assert_eq!(*hit("7ABC123"), *first);
    assert_eq!(*hit("8XYZ987"), *second, "from a level above the base");
    matcher.fold_now();
    assert_eq!(matcher.levels(), 1);
    assert_eq!(*hit("7ABC123"), *first, "copied record to record by the fold");
    assert_eq!(*hit("8XYZ987"), *second);
    let mut all = matcher.entries();
    all.sort_by(|a, b| a.entry_id.cmp(&b.entry_id));
    assert_eq!(all, vec![first, second]);
}
