//! Tests of the audit chain: purposes, reasons, the keyed chain and its
//! verification, bounds, and signed events.

use super::*;

fn key() -> ServiceKey {
    ServiceKey::development()
}

fn purpose() -> Purpose {
    Purpose {
        category: PurposeCategory::StolenVehicle,
        case_number: "RSO-26-004417".into(),
        details: "stolen Civic reported 11/26, checking Hwy 111 cameras".into(),
    }
}

fn search(i: u32) -> AuditEvent {
    AuditEvent {
        at: "2026-11-27T11:00:00Z".parse().unwrap(),
        username: format!("deputy{i}"),
        organisation: "RSO".into(),
        role: Some(Role::Officer),
        action: "search_reads".into(),
        query_terms: vec!["plate=7ABC123".into()],
        purpose: Some(purpose()),
        result_count: Some(3),
        client_addr: "127.0.0.1".into(),
        truncated: false,
        sealed_terms: None,
    }
}

fn chain(n: u32) -> Vec<AuditRecord> {
    let mut chain = Chain::start(key());
    (0..n).map(|i| chain.append(search(i))).collect()
}

#[test]
fn searches_and_exports_need_a_real_purpose() {
    assert_eq!(
        require_purpose(Action::SearchReads, None),
        Err(AuditError::PurposeRequired(Action::SearchReads))
    );
    assert_eq!(require_purpose(Action::Export, Some(&purpose())), Ok(()));
    assert_eq!(require_purpose(Action::Health, None), Ok(()));
    let vague = Purpose {
        details: "work".into(),
        ..purpose()
    };
    assert!(matches!(
        require_purpose(Action::SearchAlerts, Some(&vague)),
        Err(AuditError::InvalidPurpose(_))
    ));
    let no_case = Purpose {
        case_number: " ".into(),
        ..purpose()
    };
    assert!(no_case.validate().is_err());
}

#[test]
fn a_change_needs_a_reason_of_five_characters() {
    assert_eq!(check_reason("  nightly DOJ extract "), Ok("nightly DOJ extract"));
    assert_eq!(check_reason("fixes"), Ok("fixes"));
    for vague in ["", "    ", "fix", " fix  "] {
        assert_eq!(check_reason(vague), Err(AuditError::ReasonRequired), "{vague:?}");
    }
    assert_eq!(
        AuditError::ReasonRequired.to_string(),
        "give a reason of at least 5 characters"
    );
}

#[test]
fn an_intact_chain_verifies_and_continues_after_a_restart() {
    let mut records = chain(5);
    assert_eq!(verify(&key(), &records), Ok(()));
    let mut resumed = Chain::after(key(), records.last().unwrap());
    records.push(resumed.append(search(9)));
    assert_eq!(verify(&key(), &records), Ok(()));
    assert_eq!(records[5].seq, 5);
}

#[test]
fn an_edited_record_is_named() {
    let mut records = chain(5);
    records[2].event.query_terms = vec!["plate=XXXXXXX".into()];
    assert_eq!(
        verify(&key(), &records),
        Err(AuditError::Broken {
            seq: 2,
            reason: "not written with the service key, or changed since"
        })
    );
}

#[test]
fn a_removed_record_is_named() {
    let mut records = chain(5);
    records.remove(3);
    assert_eq!(
        verify(&key(), &records),
        Err(AuditError::Broken {
            seq: 4,
            reason: "sequence gap: a record before it was removed or reordered"
        })
    );
}

#[test]
fn a_rewritten_tail_is_caught_by_its_link() {
    let mut records = chain(4);
    // Someone edits record 1 and recomputes its hash: record 2's link breaks.
    records[1].event.username = "someone-else".into();
    records[1].hash = digest(&key(), 1, &records[1].event, &records[1].prev_hash);
    assert_eq!(
        verify(&key(), &records),
        Err(AuditError::Broken {
            seq: 2,
            reason: "does not follow the record before it"
        })
    );
}

#[test]
fn records_carry_every_sb34_field() {
    let json = serde_json::to_value(&chain(1)[0]).unwrap();
    for field in [
        "seq",
        "at",
        "username",
        "organisation",
        "role",
        "action",
        "query_terms",
        "purpose",
        "result_count",
        "client_addr",
        "prev_hash",
        "hash",
    ] {
        assert!(json.get(field).is_some(), "missing {field}: {json}");
    }
    assert_eq!(json["purpose"]["category"], "stolen_vehicle");
}

/// Penetration test: a login with a 1.5 MB username made a record the
/// broker refused, retried forever. Every field is now bounded before
/// it is chained, and the cut is flagged.
#[test]
fn an_oversized_event_is_chained_bounded_and_flagged() {
    let mut event = search(0);
    event.username = "x".repeat(1_500_000);
    event.query_terms = vec!["t".repeat(10_000); 1000];
    let record = Chain::start(key()).append(event);
    assert_eq!(record.event.username.len(), bounds::NAME);
    assert_eq!(record.event.query_terms.len(), bounds::TERMS);
    assert!(record.event.query_terms.iter().all(|t| t.len() == bounds::TERM));
    assert!(record.event.truncated);
    assert!(serde_json::to_vec(&record).unwrap().len() < 16 * 1024);
    assert_eq!(verify(&key(), &[record]), Ok(()));
    let whole = Chain::start(key()).append(search(1));
    assert!(!whole.event.truncated, "nothing cut, nothing flagged");
    assert!(
        !serde_json::to_string(&whole).unwrap().contains("truncated"),
        "records without a cut hash as they did before the flag existed"
    );
}

#[test]
fn an_outline_keeps_who_when_and_what_only() {
    let outline = search(2).outline();
    assert_eq!(outline.username, "deputy2");
    assert_eq!(outline.action, "search_reads");
    assert!(outline.query_terms.is_empty() && outline.purpose.is_none());
    assert!(outline.truncated);
}

/// Anyone who can produce to the topic can compute an unkeyed hash;
/// without the service key their record is named.
#[test]
fn a_record_appended_without_the_key_is_named() {
    let mut records = chain(3);
    let mut forger = Chain::after(ServiceKey::from_bytes(&[b'f'; 32]).unwrap(), &records[2]);
    records.push(forger.append(search(7)));
    assert_eq!(
        verify(&key(), &records),
        Err(AuditError::Broken {
            seq: 3,
            reason: "not written with the service key, or changed since"
        })
    );
    let resumed = Chain::after_last_of(key(), &records);
    assert_eq!(
        resumed.next_seq(),
        3,
        "the sealer continues after the last keyed record"
    );
}

/// Retention removed records 0 to 2: the chain verifies from the
/// oldest kept, and a gap after it is still named.
#[test]
fn the_chain_verifies_from_the_oldest_retained_record() {
    let records = chain(6);
    assert_eq!(verify(&key(), &records[3..]), Ok(()));
    let mut gapped = records[3..].to_vec();
    gapped.remove(1);
    assert_eq!(
        verify(&key(), &gapped),
        Err(AuditError::Broken {
            seq: 5,
            reason: "sequence gap: a record before it was removed or reordered"
        })
    );
}

#[test]
fn an_event_is_sealed_only_if_signed_with_the_key() {
    let payload = sign_event(&key(), &search(1));
    assert_eq!(open_event(&key(), &payload), Ok(search(1)));
    let forged = sign_event(&ServiceKey::from_bytes(&[b'f'; 32]).unwrap(), &search(1));
    assert_eq!(
        open_event(&key(), &forged),
        Err(AuditError::BadEvent("not signed with the service key"))
    );
    let mut edited = payload.clone();
    let last = edited.len() - 2;
    edited[last] ^= 1;
    assert!(open_event(&key(), &edited).is_err());
    assert_eq!(
        open_event(&key(), b"{}"),
        Err(AuditError::BadEvent("not a signed event"))
    );
}

#[test]
fn lists_are_packed_into_bounded_terms_sharing_the_room() {
    let few: Vec<String> = ["7ABC123", "8XYZ999"].map(String::from).to_vec();
    let none: Vec<String> = Vec::new();
    assert_eq!(
        packed_terms(&[("added", &few), ("removed", &none)], 12),
        (vec!["added=7ABC123,8XYZ999".to_string()], true)
    );
    // 200 plates of 7 characters: 63 to a term of 512 bytes.
    let many: Vec<String> = (0..200).map(|i| format!("7AB{i:04}")).collect();
    let (terms, complete) = packed_terms(&[("added", &many), ("removed", &few)], 12);
    assert!(complete);
    assert_eq!(terms.len(), 5);
    assert!(terms.iter().all(|t| t.len() <= bounds::TERM), "{terms:?}");
    assert_eq!(terms[0], format!("added={}", many[..63].join(",")));
    assert_eq!(terms[4], "removed=7ABC123,8XYZ999");
    let listed: Vec<&str> = terms[..4]
        .iter()
        .flat_map(|t| t.strip_prefix("added=").unwrap().split(','))
        .collect();
    assert_eq!(listed, many.iter().map(String::as_str).collect::<Vec<_>>());
    // Too many for the room: each list gets its share, the rest is cut.
    let (terms, complete) = packed_terms(&[("added", &many), ("removed", &many)], 5);
    assert!(!complete);
    let names: Vec<&str> = terms.iter().map(|t| t.split_once('=').unwrap().0).collect();
    assert_eq!(names, ["added", "added", "removed", "removed", "removed"]);
    assert_eq!(packed_terms(&[("added", &many)], 0), (vec![], false));
}

#[test]
fn debug_of_an_event_hides_term_values_and_purpose_details() {
    let mut event = search(1);
    event.purpose.as_mut().unwrap().details = "looking for 7ABC123 on Hwy 111".into();
    event.query_terms.push("added=7ABC123,8XYZ999".into());
    for shown in [format!("{event:?}"), format!("{event:#?}"), format!("{:?}", chain(1))] {
        assert!(!shown.contains("7ABC123"), "{shown}");
    }
    assert!(format!("{event:?}").contains("plate=<redacted 7 chars>"));
}
