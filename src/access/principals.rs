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
    #[error("ORI {0:?} is invalid: an ORI is exactly 9 characters of A-Z and 0-9, the first two a US state or territory postal code (e.g. CA0330000)")]
    BadOri(String),
    #[error(
        "agency {0}: an agency name is 2 to 200 characters without control, invisible or direction-changing characters"
    )]
    BadAgencyName(String),
    #[error(
        "agency {0} is not Californian: only an agency whose ORI begins with CA can be a California public agency"
    )]
    NotCalifornian(String),
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
    /// A sworn officer (policy §3, §6): only sworn officers search.
    #[serde(default)]
    pub sworn: bool,
    /// The day of the user's last ALPR training; searches need it current
    /// ([`super::prerequisites`]).
    #[serde(default)]
    pub trained_on: Option<chrono::NaiveDate>,
    /// The last day (UTC) the account may be used; `None` never expires.
    #[serde(default)]
    pub expires_on: Option<chrono::NaiveDate>,
}

impl User {
    /// A new, enabled user without prerequisites (not sworn, no training
    /// on record, no expiry: see [`User::with_prerequisites`]); checks the
    /// name and organisation.
    pub fn new(username: &str, organisation: &str, role: Role, password_hash: String) -> Result<User, PrincipalError> {
        check_username(username)?;
        let org = check_organisation(organisation)?;
        Ok(User {
            username: username.to_owned(),
            organisation: org.to_owned(),
            role,
            password_hash,
            disabled: false,
            sworn: false,
            trained_on: None,
            expires_on: None,
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
    /// Checks the ORI ([`check_ori`]), the name, and that only an agency
    /// whose ORI is Californian (`CA...`) is marked a California public
    /// agency (SB 34 §1798.90.55: no sharing outside California).
    pub fn validate(&self) -> Result<(), PrincipalError> {
        check_ori(&self.ori)?;
        if crate::text::check_name(&self.name, 2, 200).is_err() {
            return Err(PrincipalError::BadAgencyName(self.ori.clone()));
        }
        if self.california_public_agency && !self.ori.starts_with("CA") {
            return Err(PrincipalError::NotCalifornian(self.ori.clone()));
        }
        Ok(())
    }
}

/// The postal codes an ORI may begin with: the 50 states, the District of
/// Columbia, and the territories (Puerto Rico, Guam, the US Virgin
/// Islands, American Samoa, the Northern Mariana Islands).
pub const ORI_PREFIXES: [&str; 56] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY", "LA", "ME",
    "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA",
    "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "DC", "PR", "GU", "VI", "AS", "MP",
];

/// Checks an NCIC Originating Agency Identifier: exactly 9 characters of
/// `A-Z` and `0-9`, the first two a US state or territory postal code
/// ([`ORI_PREFIXES`]).
pub fn check_ori(ori: &str) -> Result<(), PrincipalError> {
    let shaped = ori.len() == 9 && ori.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if shaped && ORI_PREFIXES.contains(&&ori[..2]) {
        Ok(())
    } else {
        Err(PrincipalError::BadOri(ori.to_owned()))
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
            upsert(&mut self.agencies, key, ori, value, |agency: &Agency| {
                agency.validate()?;
                if agency.ori == ori {
                    Ok(())
                } else {
                    Err(bad_record(key, "ORI differs from the key"))
                }
            })
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
#[path = "principals_tests.rs"]
mod tests;
