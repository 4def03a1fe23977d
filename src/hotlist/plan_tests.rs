use super::*;
use crate::hotlist::Category;
use crate::normalize::normalize;

fn entry(id: &str, plate: &str, description: &str) -> Arc<HotlistEntry> {
    Arc::new(HotlistEntry {
        entry_id: id.into(),
        list_id: "doj".into(),
        plate: normalize(plate).unwrap().into(),
        region: None,
        category: Category::StolenVehicle,
        priority: 1,
        description: description.into(),
        expires_at: None,
        effective_at: None,
        details: Default::default(),
    })
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
        .unwrap()
        .to_utc()
}

const DOJ: Uploader<'static> = Uploader {
    organisation: "CA DOJ",
    enforce_owner: true,
    covert: None,
    registered_owner: None,
};

/// The topic as it holds `entries`, owned by `owner`.
fn topic(entries: &[Arc<HotlistEntry>], owner: &str) -> (BTreeMap<String, EntryRecord>, BTreeMap<String, ListMeta>) {
    let records = entries
        .iter()
        .map(|e| (EntryRecord::of(e).key(), EntryRecord::of(e)))
        .collect();
    let meta = ListMeta {
        list_id: "doj".into(),
        organisation: owner.into(),
        refreshed_at: now(),
        entries: entries.len(),
        covert: false,
    };
    (records, BTreeMap::from([("doj".to_string(), meta)]))
}

fn planned(outcome: Planned) -> Plan {
    match outcome {
        Planned::Plan(plan) => plan,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_new_list_is_written_whole_and_claimed_by_its_uploader() {
    let entries = [entry("a", "ABC123", ""), entry("b", "7XYZ999", "")];
    let plan = planned(plan("doj", &entries, &BTreeMap::new(), &BTreeMap::new(), DOJ, now()));
    let keys: Vec<_> = plan.writes.iter().map(|(k, r)| (k.as_str(), r.is_some())).collect();
    assert_eq!(keys, [("doj/a", true), ("doj/b", true)]);
    assert_eq!((plan.report.added, plan.report.changed, plan.report.removed), (2, 0, 0));
    assert_eq!((plan.meta.organisation.as_str(), plan.meta.entries), ("CA DOJ", 2));
    assert_eq!(plan.fresh.len(), 2, "new plates are checked against retained reads");
}

#[test]
fn a_replacement_writes_changes_and_tombstones_and_checks_only_what_matches_differently() {
    let before = [
        entry("a", "ABC123", "old"),
        entry("b", "7XYZ999", "old"),
        entry("c", "5GONE55", ""),
    ];
    let (current, lists) = topic(&before, "CA DOJ");
    let after = [
        entry("a", "ABC123", "old"),    // unchanged
        entry("b", "7XYZ999", "new"),   // a new description only
        entry("d", "9NEW999", ""),      // added
        entry("e", "4MOVE44", "moved"), // added
    ];
    let mut after = after.to_vec();
    after.push(entry("c2", "5GONE56", "")); // another id: c is gone
    let plan = planned(plan("doj", &after, &current, &lists, DOJ, now()));
    assert_eq!(
        (
            plan.report.added,
            plan.report.changed,
            plan.report.removed,
            plan.report.unchanged
        ),
        (3, 1, 1, 1)
    );
    assert_eq!(
        plan.report.plates,
        PlateChanges {
            added: vec!["9NEW999".into(), "4MOVE44".into(), "5GONE56".into()],
            removed: vec!["5GONE55".into()],
        },
        "a new description puts no plate on the list"
    );
    let tombstones: Vec<_> = plan
        .writes
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(tombstones, ["doj/c"]);
    let fresh: Vec<_> = plan.fresh.iter().map(|e| e.entry_id.as_str()).collect();
    assert_eq!(fresh, ["d", "e", "c2"], "a new description is not a new match");
    assert_eq!(plan.meta.entries, 5);
}

#[test]
fn a_changed_plate_state_or_category_is_checked_again() {
    let before = [entry("a", "ABC123", "")];
    let (current, lists) = topic(&before, "CA DOJ");
    let mut moved = (*before[0]).clone();
    moved.region = Some(crate::normalize::normalize_region("NV").unwrap());
    let moved = planned(plan("doj", &[Arc::new(moved)], &current, &lists, DOJ, now()));
    assert_eq!((moved.report.changed, moved.fresh.len()), (1, 1));
    let mut felony = (*before[0]).clone();
    felony.category = Category::FelonyVehicle;
    let felony = planned(plan("doj", &[Arc::new(felony)], &current, &lists, DOJ, now()));
    assert_eq!((felony.report.changed, felony.fresh.len()), (1, 1));
}

#[test]
fn only_the_owner_replaces_a_list_unless_the_uploader_is_not_held_to_ownership() {
    let (current, lists) = topic(&[entry("a", "ABC123", "")], "CA DOJ");
    let other = Uploader {
        organisation: "Some Other PD",
        enforce_owner: true,
        covert: None,
        registered_owner: None,
    };
    assert_eq!(
        plan("doj", &[], &current, &lists, other, now()),
        Planned::NotOwner { owner: "CA DOJ".into() }
    );
    let custodian = Uploader {
        organisation: "City of Coachella",
        enforce_owner: false,
        covert: None,
        registered_owner: None,
    };
    let plan = planned(plan("doj", &[], &current, &lists, custodian, now()));
    assert_eq!(plan.report.removed, 1);
    assert_eq!(plan.meta.organisation, "CA DOJ", "the owner stays the owner");
}

/// The custodian's register decides the owner, whatever the list's own
/// record says: a list moved to another organisation is theirs to replace.
#[test]
fn a_registered_owner_outranks_the_lists_own_record() {
    let (current, lists) = topic(&[entry("a", "ABC123", "")], "CA DOJ");
    let moved_to = |organisation| Uploader {
        organisation,
        enforce_owner: true,
        covert: None,
        registered_owner: Some("Indio PD"),
    };
    assert_eq!(
        plan("doj", &[], &current, &lists, moved_to("CA DOJ"), now()),
        Planned::NotOwner {
            owner: "Indio PD".into()
        }
    );
    let plan = planned(plan("doj", &[], &current, &lists, moved_to("Indio PD"), now()));
    assert_eq!(plan.meta.organisation, "Indio PD");
}

#[test]
fn a_stored_record_validates_back_into_the_same_entry() {
    let original = entry("a", "7ABC123", "blue sedan");
    let back = EntryRecord::of(&original).to_entry().unwrap();
    assert_eq!(EntryRecord::of(&back), EntryRecord::of(&original));
    let mut broken = EntryRecord::of(&original);
    broken.plate = "BAD#1".into();
    assert!(broken.to_entry().is_err());
}

#[test]
fn only_the_owning_organisation_sets_or_lifts_the_covert_flag_and_it_survives_replacements() {
    let (current, mut lists) = topic(&[entry("a", "ABC123", "")], "CA DOJ");
    let set = Uploader {
        covert: Some(true),
        ..DOJ
    };
    let flagged = planned(plan("doj", &[], &current, &lists, set, now()));
    assert!(flagged.meta.covert);
    lists.insert("doj".into(), flagged.meta);
    // A later upload that says nothing keeps it, even the custodian's.
    assert!(planned(plan("doj", &[], &current, &lists, DOJ, now())).meta.covert);
    let custodian = Uploader {
        organisation: "City of Coachella",
        enforce_owner: false,
        covert: None,
        registered_owner: None,
    };
    assert!(
        planned(plan("doj", &[], &current, &lists, custodian, now()))
            .meta
            .covert
    );
    // Nobody else may lift it, the custodian included.
    let lift = Uploader {
        covert: Some(false),
        ..custodian
    };
    assert_eq!(
        plan("doj", &[], &current, &lists, lift, now()),
        Planned::NotOwner { owner: "CA DOJ".into() }
    );
    let owner_lifts = Uploader {
        covert: Some(false),
        ..DOJ
    };
    assert!(
        !planned(plan("doj", &[], &current, &lists, owner_lifts, now()))
            .meta
            .covert
    );
}

/// An entry whose plate changed takes its old plate off the list and puts
/// the new one on, for the audit record.
#[test]
fn a_changed_plate_is_one_plate_removed_and_one_added() {
    let (current, lists) = topic(&[entry("a", "ABC123", ""), entry("b", "7XYZ999", "")], "CA DOJ");
    let after = [entry("a", "ABC124", ""), entry("b", "7XYZ999", "")];
    let plan = planned(plan("doj", &after, &current, &lists, DOJ, now()));
    assert_eq!((plan.report.added, plan.report.changed, plan.report.removed), (0, 1, 0));
    assert_eq!(
        plan.report.plates,
        PlateChanges {
            added: vec!["ABC124".into()],
            removed: vec!["ABC123".into()],
        }
    );
    assert_eq!(
        format!("{:?}", plan.report.plates),
        "PlateChanges { added: [<redacted 6 chars>], removed: [<redacted 6 chars>] }"
    );
}
