//! Tests of the CSV hotlist reader: every row rule, broken and hostile input.

use super::*;

fn load(text: &str) -> Result<Vec<Arc<HotlistEntry>>, HotlistError> {
    load_csv(text.as_bytes(), CsvLimits::default())
}

fn row_errors(text: &[u8]) -> Vec<String> {
    match load_csv(text, CsvLimits::default()) {
        Err(HotlistError::Rows(rows)) => rows.iter().map(ToString::to_string).collect(),
        other => panic!("expected row errors, got {other:?}"),
    }
}

#[test]
fn a_clean_file_loads_every_row() {
    let text = "entry_id,list_id,plate,region,category,priority,description\n\
                e1,rso-stolen,7abc-123,ca,stolen_vehicle,1,2019 Honda Civic black\n\
                e2,rso-stolen,\"ABC 1234\",,Stolen_Plate,,\n\
                \n\
                e3,amber,4GET1T,NV,amber,0,\"Silver Toyota, child 6\"\n";
    let entries = load(text).unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].plate.to_string(), "7ABC123");
    assert_eq!(entries[0].region.unwrap().as_str(), "CA");
    assert_eq!(entries[0].priority, 1);
    assert_eq!(entries[1].category, Category::StolenPlate);
    assert_eq!(entries[1].region, None);
    assert_eq!(entries[1].priority, DEFAULT_PRIORITY);
    assert_eq!(entries[2].description, "Silver Toyota, child 6");
}

#[test]
fn semicolon_and_tab_files_and_a_byte_order_mark_are_understood() {
    let semicolon = "\u{feff}Entry_ID;LIST_ID;Plate;Category\ne1;l1;ABC123;bolo\n";
    assert_eq!(load(semicolon).unwrap()[0].plate.to_string(), "ABC123");
    let tab = "entry_id\tlist_id\tplate\tcategory\ne1\tl1\tXYZ9\tother\n";
    assert_eq!(load(tab).unwrap()[0].plate.to_string(), "XYZ9");
}

#[test]
fn every_bad_row_is_reported_with_line_and_column() {
    let text = b"entry_id,list_id,plate,region,category,priority\n\
        e1,l1,ABC123,CA,stolen_vehicle,1\n\
        e2,l1,AB#123,CA,stolen_vehicle,1\n\
        e3,l1,ABC124,California,stolen_vehicle,1\n\
        e4,l1,ABC125,CA,stolen_car,1\n\
        e5,l1,ABC126,CA,stolen_vehicle,11\n\
        e1,l1,ABC127,CA,stolen_vehicle,1\n\
        e7,l1,ABC128\n\
        ,l1,ABC129,CA,bolo,1\n\
        e9,l1,\xff\xfe,CA,bolo,1\n\
        e10,l1,7?B*,CA,bolo,1\n\
        e11,l1,*7A-B*,CA,bolo,1\n";
    assert_eq!(
        row_errors(text),
        vec![
            "line 3, column plate: plate has a character that cannot be on a plate (U+0023) at position 2",
            "line 4, column region: region must be 2 or 3 letters",
            "line 5, column category: must be one of stolen_vehicle, stolen_plate, felony_vehicle, amber, wanted_person, bolo, officer_entered, other",
            "line 6, column priority: must be a whole number from 0 to 9",
            "line 7, column entry_id: duplicate entry id in list l1 (first on line 2)",
            "line 8: has 3 fields, the header has 6",
            "line 9, column entry_id: must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'",
            "line 10, column plate: is not UTF-8 text (save the file as UTF-8)",
            "line 11, column plate: pattern needs at least 3 known characters",
        ]
    );
}

#[test]
fn wildcard_and_partial_plates_load_as_patterns() {
    let text = "entry_id,list_id,plate,category\nw,l,7ab?12*,amber\np,l,*x-yz*,amber\n";
    let entries = load(text).unwrap();
    assert_eq!(entries[0].plate.to_string(), "7AB?12*");
    assert!(matches!(&entries[1].plate, EntryPlate::Pattern(p) if p.is_partial()));
}

#[test]
fn ncic_detail_columns_are_kept_apart() {
    let text = "entry_id,list_id,plate,category,nic,ori,vehicle_make,vehicle_colour\n\
                e1,doj,7ABC123,stolen_vehicle,V123456789,CA0330000,HOND, BLK \n\
                e2,doj,7ABC124,stolen_vehicle,,,,\n";
    let entries = load(text).unwrap();
    assert_eq!(entries[0].details.nic.as_deref(), Some("V123456789"));
    assert_eq!(entries[0].details.ori.as_deref(), Some("CA0330000"));
    assert_eq!(entries[0].details.vehicle_colour.as_deref(), Some("BLK"));
    assert_eq!(
        entries[1].details,
        EntryDetails::default(),
        "empty columns are absent, not empty strings"
    );
    let long = format!(
        "entry_id,list_id,plate,category,oca\ne3,doj,7ABC125,bolo,{}\n",
        "9".repeat(65)
    );
    assert_eq!(
        row_errors(long.as_bytes()),
        vec!["line 2, column oca: must be at most 64 printable characters"]
    );
}

#[test]
fn expiry_dates_are_read_and_checked() {
    let text = "entry_id,list_id,plate,category,expires_at,description\n\
                a,officer,9TEMP12,officer_entered,2026-11-28T06:00:00-08:00,seen leaving a burglary\n\
                b,rso,9TEMP13,bolo,,\n";
    let entries = load(text).unwrap();
    assert_eq!(entries[0].expires_at.unwrap().to_rfc3339(), "2026-11-28T14:00:00+00:00");
    assert_eq!(entries[1].expires_at, None);
    let bad = b"entry_id,list_id,plate,category,expires_at,description\n\
                c,officer,9TEMP14,officer_entered,tomorrow,reason\n\
                d,officer,9TEMP15,officer_entered,,reason\n\
                e,officer,9TEMP16,officer_entered,2026-11-28T06:00:00Z,\n";
    assert_eq!(
        row_errors(bad),
        vec![
            "line 2, column expires_at: must be an RFC 3339 date-time with offset",
            "line 3, column expires_at: officer-entered entries must have an expiry",
            "line 4, column description: officer-entered entries must give a reason",
        ]
    );
}

#[test]
fn the_same_entry_id_in_two_lists_is_fine() {
    let text = "entry_id,list_id,plate,category\ne1,a,ABC123,bolo\ne1,b,ABC123,bolo\n";
    assert_eq!(load(text).unwrap().len(), 2);
}

#[test]
fn empty_and_headerless_files_are_refused() {
    for text in ["", "\n\n"] {
        match load(text) {
            Err(HotlistError::Header(reason)) => assert_eq!(reason, "the file is empty"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
    match load("ABC123,CA\nXYZ999,NV\n") {
        Err(HotlistError::Header(reason)) => {
            assert_eq!(reason, "missing column(s): entry_id, list_id, plate, category")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn oversized_files_are_refused() {
    let limits = CsvLimits {
        max_bytes: 64,
        max_rows: 2,
    };
    let big = format!("entry_id,list_id,plate,category\n{}", "e,l,A,bolo\n".repeat(10));
    assert!(matches!(
        load_csv(big.as_bytes(), limits),
        Err(HotlistError::TooLarge { max: 64, .. })
    ));
    let many = "entry_id,list_id,plate,category\na,l,A,bolo\nb,l,B,bolo\nc,l,C,bolo\n";
    let limits = CsvLimits {
        max_bytes: 1024,
        max_rows: 2,
    };
    assert!(matches!(
        load_csv(many.as_bytes(), limits),
        Err(HotlistError::TooManyRows { max: 2 })
    ));
}
