//! Users and contractor grants: durable, shared state.
//!
//! Every matcher and API instance must agree on who may log in and which
//! grants are live, so users and grants are records in a compacted Kafka
//! topic (`alpr.principals`), keyed `user:<name>`, `grant:<id>` or
//! `agency:<ORI>` (the agencies data may be shared with), a tombstone
//! deleting one. [`Principals::apply`] folds those records into the
//! current state; it is pure, so any instance rebuilds the same state by
//! reading the topic from the start. Password hashes are argon2id; nothing
//! here ever holds a plain password.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::auth::{Grant, Role};

/// Why a principal record or a new user is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    #[error("username must be 3 to 64 characters of a-z, 0-9, '.', '_' or '-'")]
    BadUsername,
    #[error("organisation must be 2 to 100 printable characters")]
    BadOrganisation,
    #[error("record key {0:?} is neither user:<name> nor grant:<id>")]
    BadKey(String),
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
        let org = organisation.trim();
        if !(2..=100).contains(&org.chars().count()) || org.chars().any(char::is_control) {
            return Err(PrincipalError::BadOrganisation);
        }
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

fn check_username(name: &str) -> Result<(), PrincipalError> {
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
    /// Checks the ORI shape and the name.
    pub fn validate(&self) -> Result<(), PrincipalError> {
        let ori_ok = self.ori.len() == 9 && self.ori.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        let name_ok = (2..=200).contains(&self.name.trim().chars().count());
        if ori_ok && name_ok {
            Ok(())
        } else {
            Err(PrincipalError::BadRecord {
                key: format!("agency:{}", self.ori),
                reason: "an agency has a 9-character ORI (e.g. CA0330000) and a name".into(),
            })
        }
    }
}

/// The current users, grants and sharing agencies.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Principals {
    users: BTreeMap<String, User>,
    grants: BTreeMap<String, Grant>,
    agencies: BTreeMap<String, Agency>,
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
            upsert(&mut self.grants, key, id, value, |_: &Grant| Ok(()))
        } else if let Some(ori) = key.strip_prefix("agency:") {
            upsert(&mut self.agencies, key, ori, value, Agency::validate)
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
}
