//! No plate text in any `Debug`: one value of every type that holds a
//! plate, built around plate 7ABC123, printed with `{:?}` and `{:#?}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::access::audit::{AuditEvent, Chain};
use crate::alert::incident::Incidents;
use crate::alert::view::IncidentView;
use crate::alert::Alert;
use crate::hotlist::csv::RawEntry;
use crate::hotlist::plan::{self, EntryRecord, Planned, UploadOutcome, Uploader};
use crate::hotlist::{load_csv, CsvLimits, LiveMatcher, TolerancePolicy};
use crate::normalize::normalize;
use crate::pipeline::{Outcome, Processor};

const PLATE: &str = "7ABC123";

/// Fails naming the value if its `Debug`, plain or pretty, shows [`PLATE`].
fn assert_hidden(name: &str, value: &dyn std::fmt::Debug) {
    for shown in [format!("{value:?}"), format!("{value:#?}")] {
        assert!(!shown.contains(PLATE), "{name} shows the plate: {shown}");
    }
}

#[test]
fn no_debug_of_a_type_holding_a_plate_shows_it() {
    let list = format!("entry_id,list_id,plate,region,category\ne1,rso,{PLATE},CA,stolen_vehicle\n");
    let entries = load_csv(list.as_bytes(), CsvLimits::default()).unwrap();
    let matcher = LiveMatcher::new(entries.clone(), TolerancePolicy::default());
    let bytes = format!(
        r#"{{"read_id":"6f1c2b1e-8d2a-4c39-9a55-0b7d1c1e2f3a","camera_id":"cam-1","captured_at":"2026-11-27T03:00:00-08:00","plate":"{PLATE}","region":"CA","candidates":[{{"plate":"{PLATE}","confidence":0.9}}]}}"#
    );
    let read = crate::read::parse(bytes.as_bytes(), 65_536).unwrap();
    let Outcome::Alerts(encoded) = Processor::new(Arc::new(matcher), 65_536).process(bytes.as_bytes()) else {
        panic!("the read hits");
    };
    let alert = Alert::decode(&encoded[0].payload).unwrap();
    let mut incidents = Incidents::new(std::time::Duration::from_secs(600));
    let id = incidents.add_alert(alert.clone()).incident();
    let incident = incidents.get(&id).unwrap().clone();
    let view = IncidentView::new(&incident, &incidents.lifecycle(&id), false);
    let uploader = Uploader {
        organisation: "RSO",
        enforce_owner: true,
        covert: None,
        registered_owner: None,
    };
    let now = chrono::Utc::now();
    let Planned::Plan(upload_plan) = plan::plan("rso", &entries, &BTreeMap::new(), &BTreeMap::new(), uploader, now)
    else {
        panic!("a new list is planned");
    };
    let mut terms = vec!["list=rso".to_string()];
    crate::access::audit::upload_terms(&mut terms, &upload_plan.report);
    let event = AuditEvent {
        at: now,
        username: "deputy".into(),
        organisation: "RSO".into(),
        role: None,
        action: "search_reads".into(),
        query_terms: terms,
        purpose: None,
        result_count: Some(1),
        client_addr: "127.0.0.1".into(),
        truncated: false,
        sealed_terms: None,
    };
    assert!(
        event.query_terms.iter().any(|t| t.contains(PLATE)),
        "the record itself keeps it"
    );
    let record = Chain::start(crate::access::keys::ServiceKey::development()).append(event.clone());
    let raw = RawEntry {
        plate: PLATE,
        ..RawEntry::default()
    };

    assert_hidden("Plate", &normalize(PLATE).unwrap());
    assert_hidden("PlateRead", &read);
    assert_hidden("Candidate", &read.candidates[0]);
    assert_hidden("EncodedAlert", &encoded[0]);
    assert!(!format!("{:?}", encoded[0]).contains("55, 65, 66, 67"), "nor its bytes");
    assert_hidden("Alert", &alert);
    assert_hidden("AlertRead", &alert.read);
    assert_hidden("AlertEntry", &alert.entry);
    assert_hidden("Incident", &incident);
    assert_hidden("IncidentView", &view);
    assert_hidden("HotlistEntry", &entries[0]);
    assert_hidden("EntryRecord", &EntryRecord::of(&entries[0]));
    assert_hidden("RawEntry", &raw);
    assert_hidden("Plan", &upload_plan);
    assert_hidden("PlateChanges", &upload_plan.report.plates);
    assert_hidden("UploadOutcome", &UploadOutcome::Done(upload_plan.report.clone()));
    assert_hidden("AuditEvent", &event);
    assert_hidden("AuditRecord", &record);
    // What is shown instead: the length.
    assert!(format!("{read:?}").contains(r#"plate: <redacted 7 chars>"#));
    assert!(format!("{:?}", alert.read).contains("plate_raw: <redacted 7 chars>, plate: <redacted 7 chars>"));
    assert!(format!("{event:?}").contains("added=<redacted 7 chars>"));
}
