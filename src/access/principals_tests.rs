use super::*;
use crate::access::auth::Action;
use std::time::{Duration, SystemTime};

fn user(name: &str, role: Role) -> User {
    User::new(
        name,
        "City of Coachella",
        role,
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    )
    .unwrap()
}

#[test]
fn records_fold_into_the_current_state() {
    let mut p = Principals::default();
    let (key, value) = user("city.manager", Role::Custodian).record();
    assert_eq!(key, "user:city.manager");
    p.apply(&key, Some(&value)).unwrap();
    assert!(p.has_custodian());
    let mut officer = user("deputy.ruiz", Role::Officer);
    p.apply(&officer.record().0, Some(&officer.record().1)).unwrap();
    officer.disabled = true;
    p.apply(&officer.record().0, Some(&officer.record().1)).unwrap();
    assert!(
        p.user("deputy.ruiz").unwrap().disabled,
        "a later record replaces an earlier one"
    );
    p.apply("user:city.manager", None).unwrap();
    assert!(!p.has_custodian(), "a tombstone deletes");
    let grant = Grant {
        grantee: "acme".into(),
        document_ref: "CM-2026-114".into(),
        scope: vec![Action::SearchReads],
        expires_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000),
        revoked: false,
    };
    p.apply("grant:g1", Some(&serde_json::to_vec(&grant).unwrap())).unwrap();
    assert_eq!(p.grants_for("acme"), vec![grant]);
    assert_eq!(p.grants_for("deputy.ruiz"), vec![]);
}

#[test]
fn grants_and_agencies_are_replaced_and_deleted_like_users() {
    let mut p = Principals::default();
    let agency = Agency {
        ori: "CA0330000".into(),
        name: "Riverside County DA".into(),
        california_public_agency: true,
    };
    p.apply("agency:CA0330000", Some(&serde_json::to_vec(&agency).unwrap()))
        .unwrap();
    assert_eq!(p.agency("CA0330000"), Some(&agency));
    let bad = Agency {
        ori: "x".into(),
        ..agency.clone()
    };
    assert!(matches!(
        p.apply("agency:x", Some(&serde_json::to_vec(&bad).unwrap())),
        Err(PrincipalError::BadOri(ori)) if ori == "x"
    ));
    assert!(matches!(
        p.apply("agency:CA0330001", Some(&serde_json::to_vec(&agency).unwrap())),
        Err(PrincipalError::BadRecord { .. })
    ));
    assert!(matches!(
        p.apply("grant:g1", Some(b"[]")),
        Err(PrincipalError::BadRecord { .. })
    ));
    p.apply("agency:CA0330000", None).unwrap();
    p.apply("grant:never-issued", None).unwrap();
    assert_eq!(p, Principals::default());
}

#[test]
fn bad_records_and_names_are_refused() {
    let mut p = Principals::default();
    assert_eq!(
        p.apply("admin", Some(b"{}")),
        Err(PrincipalError::BadKey("admin".into()))
    );
    assert!(matches!(
        p.apply("user:bob", Some(b"not json")),
        Err(PrincipalError::BadRecord { .. })
    ));
    let (_, value) = user("alice", Role::Officer).record();
    assert!(matches!(
        p.apply("user:mallory", Some(&value)),
        Err(PrincipalError::BadRecord { .. })
    ));
    for name in ["", "ab", "Bob", "bob smith", "bob;drop", &"x".repeat(65)] {
        assert_eq!(
            User::new(name, "RSO", Role::Officer, String::new()),
            Err(PrincipalError::BadUsername),
            "{name:?}"
        );
    }
    assert_eq!(
        User::new("bob", " ", Role::Officer, String::new()),
        Err(PrincipalError::BadOrganisation)
    );
    assert_eq!(p, Principals::default(), "nothing applied");
}

/// Penetration test: an ORI from Arizona registered as a California
/// public agency received an export; organisation names carried
/// zero-width and bidi characters.
#[test]
fn agencies_and_organisations_are_what_they_claim_to_be() {
    let arizona = Agency {
        ori: "AZ0070001".into(),
        name: "Mesa PD".into(),
        california_public_agency: true,
    };
    let err = arizona.validate().unwrap_err();
    assert_eq!(
        err.to_string(),
        "agency AZ0070001 is not Californian: only an agency whose ORI begins with CA can be a California public agency"
    );
    let not_shared = Agency {
        california_public_agency: false,
        ..arizona
    };
    assert_eq!(not_shared.validate(), Ok(()), "known, but never sent data");
    for org in ["RSO\u{200B}", "R\u{202E}OS", "R\nSO", "\u{2066}RSO"] {
        assert_eq!(
            User::new("bob", org, Role::Officer, String::new()),
            Err(PrincipalError::BadOrganisation),
            "{org:?}"
        );
    }
}

/// An ORI is 9 characters of A-Z and 0-9 beginning with a US state or
/// territory postal code; a Nevada agency is never a California one.
#[test]
fn oris_are_checked_and_only_californian_ones_are_california_agencies() {
    for good in [
        "CA0330000",
        "NV0020000",
        "DC0010000",
        "PR0001234",
        "GU0000000",
        "VI1234567",
        "AS0000001",
        "MP00000AB",
    ] {
        assert_eq!(check_ori(good), Ok(()), "{good}");
    }
    for bad in [
        "",
        "CA033000",
        "CA03300000",
        "ca0330000",
        "XX0330000",
        "CA033-000",
        "ＣA0330000",
        "0C0330000",
        "CA 330000",
    ] {
        assert_eq!(check_ori(bad), Err(PrincipalError::BadOri(bad.to_owned())), "{bad:?}");
    }
    let nevada = Agency {
        ori: "NV0020000".into(),
        name: "Las Vegas Metropolitan PD".into(),
        california_public_agency: true,
    };
    assert_eq!(
        nevada.validate(),
        Err(PrincipalError::NotCalifornian("NV0020000".into()))
    );
    let mut p = Principals::default();
    assert_eq!(
        p.apply("agency:NV0020000", Some(&serde_json::to_vec(&nevada).unwrap())),
        Err(PrincipalError::NotCalifornian("NV0020000".into()))
    );
    assert_eq!(p.agencies().count(), 0, "never stored, even from the topic");
    let unnamed = Agency {
        ori: "CA0330000".into(),
        name: "\u{202E}DA".into(),
        california_public_agency: true,
    };
    assert_eq!(
        unnamed.validate(),
        Err(PrincipalError::BadAgencyName("CA0330000".into()))
    );
    assert_eq!(
        PrincipalError::BadOri("CA12".into()).to_string(),
        "ORI \"CA12\" is invalid: an ORI is exactly 9 characters of A-Z and 0-9, the first two a US state or territory postal code (e.g. CA0330000)"
    );
}

#[test]
fn lists_are_registered_by_id_with_one_owner_and_category() {
    use crate::hotlist::Category;
    let mut p = Principals::default();
    let amber = ListRegistration {
        list_id: "amber-ca".into(),
        organisation: "CA DOJ".into(),
        category: Category::Amber,
    };
    let (key, value) = amber.record();
    assert_eq!(key, "list:amber-ca");
    p.apply(&key, Some(&value)).unwrap();
    assert_eq!(p.list("amber-ca"), Some(&amber));
    assert!(matches!(
        p.apply("list:other", Some(&value)),
        Err(PrincipalError::BadRecord { .. })
    ));
    let hostile = ListRegistration {
        list_id: "#list".into(),
        ..amber.clone()
    };
    assert!(matches!(
        p.apply("list:#list", Some(&serde_json::to_vec(&hostile).unwrap())),
        Err(PrincipalError::BadRecord { .. })
    ));
    p.apply("list:amber-ca", None).unwrap();
    assert_eq!(p.lists().count(), 0);
}

/// Penetration test: a grant to a non-existent grantee expiring in
/// 9999 was accepted, and one with scope `manage_users` too.
#[test]
fn grants_are_bounded_in_scope_time_and_grantee() {
    let mut p = Principals::default();
    for (name, role) in [("acme", Role::Contractor), ("deputy", Role::Officer)] {
        let (key, value) = user(name, role).record();
        p.apply(&key, Some(&value)).unwrap();
    }
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let good = Grant {
        grantee: "acme".into(),
        document_ref: "CM-2026-114".into(),
        scope: vec![Action::SearchReads],
        expires_at: now + Duration::from_secs(7 * 86_400),
        revoked: false,
    };
    assert_eq!(p.check_new_grant(&good, now), Ok(()));
    let cases = [
        Grant {
            grantee: "nobody".into(),
            ..good.clone()
        },
        Grant {
            grantee: "deputy".into(),
            ..good.clone()
        },
        Grant {
            scope: vec![Action::ManageUsers],
            ..good.clone()
        },
        Grant {
            scope: vec![],
            ..good.clone()
        },
        Grant {
            expires_at: now + Duration::from_secs(31 * 86_400),
            ..good.clone()
        },
        Grant {
            expires_at: now,
            ..good.clone()
        },
        Grant {
            document_ref: "\u{202E}x".into(),
            ..good.clone()
        },
    ];
    for grant in cases {
        assert!(
            matches!(p.check_new_grant(&grant, now), Err(PrincipalError::BadGrant(_))),
            "{grant:?}"
        );
    }
    let forged = Grant {
        scope: vec![Action::ManageUsers],
        ..good
    };
    assert!(matches!(
        p.apply("grant:g9", Some(&serde_json::to_vec(&forged).unwrap())),
        Err(PrincipalError::BadRecord { .. })
    ));
}
