//! Users and contractor grants: durable, shared state.
//!
//! Every matcher and API instance must agree on who may log in and which
//! grants are live, so users and grants are records in a compacted Kafka
//! topic (`alpr.principals`), keyed `user:<name>`, `grant:<id>`,
//! `agency:<ORI>` (the agencies data may be shared with) or `list:<id>`
//! (the register of hotlists: which organisation may upload each, in which
//! category), a tombstone deleting one. [`Principals::apply`] folds those records into the
//! current state; it is pure, so any instance rebuilds the same state by
//! reading the topic from the start. Password hashes are argon2id; nothing
//! here ever holds a plain password.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use std::time::SystemTime;

use super::auth::{Grant, Role, CONTRACTOR_ACTIONS, MAX_GRANT};
use super::sessions::Logins;

/// Why a principal record or a new user is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    #[error("username must be 3 to 64 characters of a-z, 0-9, '.', '_' or '-'")]
    BadUsername,
    #[error("organisation must be 2 to 100 characters without control, invisible or direction-changing characters")]
    BadOrganisation,
    #[error("record key {0:?} is not user:<name>, grant:<id>, agency:<ORI> or list:<id>")]
    BadKey(String),
    #[error("grant refused: {0}")]
    BadGrant(&'static str),
    #[error("record {key} is not a valid principal: {reason}")]
    BadRecord { key: String, reason: String },
}

/// A person who may log in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: String,
    pub organisation: String,
    pub role: Role,
    /// argon2id PHC string.
    pub password_hash: String,
    pub disabled: bool,
}

impl User {
    /// A new, enabled user; checks the name and organisation.
    pub fn new(username: &str, organisation: &str, role: Role, password_hash: String) -> Result<User, PrincipalError> {
        check_username(username)?;
        let org = check_organisation(organisation)?;
        Ok(User {
            username: username.to_owned(),
            organisation: org.to_owned(),
            role,
            password_hash,
            disabled: false,
        })
    }

    /// The record key and value for the principals topic.
    pub fn record(&self) -> (String, Vec<u8>) {
        (
            format!("user:{}", self.username),
            serde_json::to_vec(self).expect("users serialize"),
        )
    }
}

/// Checks an organisation name (2 to 100 visible characters); returns it trimmed.
pub fn check_organisation(name: &str) -> Result<&str, PrincipalError> {
    crate::text::check_name(name, 2, 100).map_err(|_| PrincipalError::BadOrganisation)
}

/// Checks a username: 3 to 64 characters of `a-z`, `0-9`, `.`, `_`, `-`.
pub fn check_username(name: &str) -> Result<(), PrincipalError> {
    let ok = (3..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(PrincipalError::BadUsername)
    }
}

/// A law-enforcement or prosecutorial agency the custodian may share with
/// (policy sections 5, 6; SB 34 §1798.90.55).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agency {
    /// NCIC Originating Agency Identifier, 9 characters (e.g. CA0330000).
    pub ori: String,
    pub name: String,
    /// Only California public agencies may receive ALPR data.
    pub california_public_agency: bool,
}

impl Agency {
    /// Checks the ORI shape, the name, and that only an agency whose ORI
    /// is Californian (`CA...`) is marked a California public agency.
    pub fn validate(&self) -> Result<(), PrincipalError> {
        let ori_ok = self.ori.len() == 9 && self.ori.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        let name_ok = crate::text::check_name(&self.name, 2, 200).is_ok();
        let reason = if !ori_ok || !name_ok {
            "an agency has a 9-character ORI (e.g. CA0330000) and a name of 2 to 200 visible characters"
        } else if self.california_public_agency && !self.ori.starts_with("CA") {
            "only an agency with a California ORI (CA...) can be a California public agency"
        } else {
            return Ok(());
        };
        Err(PrincipalError::BadRecord {
            key: format!("agency:{}", self.ori),
            reason: reason.into(),
        })
    }
}

/// A hotlist in the custodian's register: the one organisation whose
/// feed accounts may replace it, and the one category its entries have.
/// An agency uploads only to a list registered to it; it cannot create a
/// list or choose a category by uploading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRegistration {
    pub list_id: String,
    pub organisation: String,
    pub category: crate::hotlist::Category,
}

impl ListRegistration {
    /// Checks the list id and the organisation name.
    pub fn validate(&self) -> Result<(), PrincipalError> {
        crate::text::check_id(&self.list_id).map_err(|e| bad_record(&format!("list:{}", self.list_id), e))?;
        check_organisation(&self.organisation)?;
        Ok(())
    }

    /// The record key and value for the principals topic.
    pub fn record(&self) -> (String, Vec<u8>) {
        (
            format!("list:{}", self.list_id),
            serde_json::to_vec(self).expect("registrations serialize"),
        )
    }
}

/// The current users, grants and sharing agencies.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Principals {
    users: BTreeMap<String, User>,
    grants: BTreeMap<String, Grant>,
    agencies: BTreeMap<String, Agency>,
    lists: BTreeMap<String, ListRegistration>,
    /// Sessions and failed-login counts every instance shares
    /// ([`super::sessions`]).
    pub logins: Logins,
}

impl Principals {
    /// Applies one record of the principals topic (`None` = tombstone).
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>) -> Result<(), PrincipalError> {
        if let Some(name) = key.strip_prefix("user:") {
            check_username(name)?;
            upsert(&mut self.users, key, name, value, |user: &User| {
                if user.username == name {
                    Ok(())
                } else {
                    Err(bad_record(key, "username differs from the key"))
                }
            })
        } else if let Some(id) = key.strip_prefix("grant:") {
            upsert(&mut self.grants, key, id, value, |grant: &Grant| {
                if grant.scope.iter().all(|a| CONTRACTOR_ACTIONS.contains(a)) {
                    Ok(())
                } else {
                    Err(bad_record(key, "a grant's scope is limited to the contractor actions"))
                }
            })
        } else if let Some(ori) = key.strip_prefix("agency:") {
            upsert(&mut self.agencies, key, ori, value, Agency::validate)
        } else if let Some(id) = key.strip_prefix("list:") {
            upsert(&mut self.lists, key, id, value, |list: &ListRegistration| {
                list.validate()?;
                if list.list_id == id {
                    Ok(())
                } else {
                    Err(bad_record(key, "list id differs from the key"))
                }
            })
        } else if let Some(handled) = self.logins.apply(key, value) {
            handled.map_err(|reason| bad_record(key, reason))
        } else {
            Err(PrincipalError::BadKey(key.to_owned()))
        }
    }

    pub fn agency(&self, ori: &str) -> Option<&Agency> {
        self.agencies.get(ori)
    }

    pub fn agencies(&self) -> impl Iterator<Item = &Agency> {
        self.agencies.values()
    }

    /// The registration of hotlist `list_id`, if the custodian made one.
    pub fn list(&self, list_id: &str) -> Option<&ListRegistration> {
        self.lists.get(list_id)
    }

    /// Every registered hotlist, by id.
    pub fn lists(&self) -> impl Iterator<Item = &ListRegistration> {
        self.lists.values()
    }

    pub fn user(&self, username: &str) -> Option<&User> {
        self.users.get(username)
    }

    /// Every user, by name.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    pub fn grant(&self, id: &str) -> Option<&Grant> {
        self.grants.get(id)
    }

    /// Every grant issued to `username`, live or not.
    pub fn grants_for(&self, username: &str) -> Vec<Grant> {
        self.grants
            .values()
            .filter(|g| g.grantee == username)
            .cloned()
            .collect()
    }

    /// Checks a grant the custodian is about to issue at `now`: to an
    /// existing, enabled contractor; naming its written permission; a scope
    /// of contractor actions only; expiring in the future and within
    /// [`MAX_GRANT`].
    pub fn check_new_grant(&self, grant: &Grant, now: SystemTime) -> Result<(), PrincipalError> {
        let grantee = self.users.get(&grant.grantee);
        if !grantee.is_some_and(|u| u.role == Role::Contractor && !u.disabled) {
            return Err(PrincipalError::BadGrant(
                "the grantee must be an existing, enabled contractor",
            ));
        }
        if crate::text::check_name(&grant.document_ref, 3, 200).is_err() {
            return Err(PrincipalError::BadGrant(
                "name the written permission document (3 to 200 visible characters)",
            ));
        }
        if grant.scope.is_empty() || !grant.scope.iter().all(|a| CONTRACTOR_ACTIONS.contains(a)) {
            return Err(PrincipalError::BadGrant(
                "the scope must be one or more of health, metrics, search_reads",
            ));
        }
        if grant.expires_at <= now || grant.expires_at > now + MAX_GRANT {
            return Err(PrincipalError::BadGrant(
                "a grant must expire in the future and within 30 days",
            ));
        }
        Ok(())
    }

    /// Whether any enabled custodian exists (the bootstrap check).
    pub fn has_custodian(&self) -> bool {
        self.users.values().any(|u| u.role == Role::Custodian && !u.disabled)
    }
}

/// Applies one record to one kind of principal: a tombstone removes `id`;
/// a value replaces it once it decodes and passes `check`.
fn upsert<T: DeserializeOwned>(
    map: &mut BTreeMap<String, T>,
    key: &str,
    id: &str,
    value: Option<&[u8]>,
    check: impl FnOnce(&T) -> Result<(), PrincipalError>,
) -> Result<(), PrincipalError> {
    let Some(bytes) = value else {
        map.remove(id);
        return Ok(());
    };
    let principal: T = serde_json::from_slice(bytes).map_err(|e| bad_record(key, e))?;
    check(&principal)?;
    map.insert(id.to_owned(), principal);
    Ok(())
}

fn bad_record(key: &str, reason: impl std::fmt::Display) -> PrincipalError {
    PrincipalError::BadRecord {
        key: key.to_owned(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
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
            "record agency:AZ0070001 is not a valid principal: only an agency with a California ORI (CA...) can be a California public agency"
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
}
