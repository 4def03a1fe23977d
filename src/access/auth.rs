//! Roles, the permission table, contractor grants, passwords and lockout.
//!
//! Deny by default: [`permitted`] is an exhaustive match over every role and
//! action, so adding an action without deciding it for every role does not
//! compile. A contractor has no standing permission at all; only a grant
//! issued by the custodian, naming the written permission, its scope and an
//! expiry, lets one act, and only until it expires or is revoked.
//! Passwords are stored as argon2id hashes and never logged. Failed
//! logins are slowed by [`super::lockout`].

use std::time::{Duration, SystemTime};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

/// Why an access or a credential was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("role {role:?} may not {action:?}")]
    Forbidden { role: Role, action: Action },
    #[error("the contractor has no valid grant for {0:?}")]
    NoGrant(Action),
    #[error("wrong username or password")]
    BadCredentials,
    #[error("a password is {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters, not counting spaces at either end, with at least {MIN_DISTINCT} different characters")]
    WeakPassword,
    #[error("stored password hash is unusable")]
    BadHash,
}

/// The roles of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The City Manager: owns the system, users, grants, sharing, audits.
    Custodian,
    /// A sworn RSO officer: alerts and reads, with a stated purpose.
    Officer,
    /// RSO dispatch: the live alert feed and accept/reject, nothing historical.
    Dispatcher,
    /// An agency uploading its own organisation's hotlists.
    AgencyFeed,
    /// The camera contractor: nothing without a grant.
    Contractor,
    /// Operations: health and metrics, which carry no plate data.
    Ops,
}

impl Role {
    /// Parses the snake_case name (`custodian`, `officer`, ...).
    pub fn parse(name: &str) -> Option<Role> {
        serde_json::from_value(serde_json::Value::String(name.trim().to_owned())).ok()
    }

    pub const ALL: [Role; 6] = [
        Role::Custodian,
        Role::Officer,
        Role::Dispatcher,
        Role::AgencyFeed,
        Role::Contractor,
        Role::Ops,
    ];
}

/// Everything a user can ask of the system; each API route maps to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    ViewLiveAlerts,
    DecideAlert,
    SearchAlerts,
    SearchReads,
    UploadOwnHotlist,
    ManageAnyHotlist,
    ManageUsers,
    ManageGrants,
    ManageSharing,
    Export,
    ReadAudit,
    Health,
    Metrics,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::ViewLiveAlerts,
        Action::DecideAlert,
        Action::SearchAlerts,
        Action::SearchReads,
        Action::UploadOwnHotlist,
        Action::ManageAnyHotlist,
        Action::ManageUsers,
        Action::ManageGrants,
        Action::ManageSharing,
        Action::Export,
        Action::ReadAudit,
        Action::Health,
        Action::Metrics,
    ];

    /// Whether the action touches ALPR data (and so must be audited with a purpose).
    pub fn touches_alpr_data(self) -> bool {
        matches!(
            self,
            Action::ViewLiveAlerts | Action::DecideAlert | Action::SearchAlerts | Action::SearchReads | Action::Export
        )
    }
}

/// The standing permission of a role, before grants. Exhaustive on purpose.
pub fn permitted(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Custodian => true,
        Role::Officer => matches!(action, ViewLiveAlerts | SearchAlerts | SearchReads | Export),
        Role::Dispatcher => matches!(action, ViewLiveAlerts | DecideAlert),
        Role::AgencyFeed => matches!(action, UploadOwnHotlist),
        Role::Contractor => false,
        Role::Ops => matches!(action, Health | Metrics),
    }
}

/// Whether a user of `organisation` may see hits on a list: a covert list's
/// hits go only to users of the organisation that owns it (nobody else, not
/// the custodian, no webhook); any other list's to everyone allowed alerts.
/// `None` (no list record, e.g. the deployed file) is not covert.
pub fn may_see_list(list: Option<&crate::hotlist::plan::ListMeta>, organisation: Option<&str>) -> bool {
    match list {
        Some(meta) if meta.covert => organisation.is_some_and(|o| o == meta.organisation),
        _ => true,
    }
}

/// A custodian's written permission for the contractor (policy section 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: String,
    /// Reference of the signed permission document.
    pub document_ref: String,
    pub scope: Vec<Action>,
    pub expires_at: SystemTime,
    pub revoked: bool,
}

impl Grant {
    /// Whether the grant lets its grantee do `action` at `now`.
    pub fn allows(&self, action: Action, now: SystemTime) -> bool {
        !self.revoked && now < self.expires_at && self.scope.contains(&action)
    }
}

/// The only actions a grant can give the contractor: maintaining the
/// cameras (health, metrics) and, with the City's written permission,
/// helping collect evidence of a crime from the reads (policy section 3).
/// Nothing that manages users, grants, sharing, lists or the audit log.
pub const CONTRACTOR_ACTIONS: [Action; 3] = [Action::Health, Action::Metrics, Action::SearchReads];

/// The longest a grant may run: one retention period.
pub const MAX_GRANT: Duration = Duration::from_secs(30 * 86_400);

/// Decides one request: the role's standing permission, or for a
/// contractor a live grant naming the action (one of
/// [`CONTRACTOR_ACTIONS`], whatever a grant record says).
pub fn authorize(role: Role, grants: &[Grant], action: Action, now: SystemTime) -> Result<(), AuthError> {
    if role == Role::Contractor {
        let grantable = CONTRACTOR_ACTIONS.contains(&action);
        return if grantable && grants.iter().any(|g| g.allows(action, now)) {
            Ok(())
        } else {
            Err(AuthError::NoGrant(action))
        };
    }
    if permitted(role, action) {
        Ok(())
    } else {
        Err(AuthError::Forbidden { role, action })
    }
}

/// Shortest password accepted, not counting spaces at either end.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest password accepted.
pub const MAX_PASSWORD_LEN: usize = 256;
/// Fewest different characters in a password.
pub const MIN_DISTINCT: usize = 5;

/// Checks a new password: [`MIN_PASSWORD_LEN`] to [`MAX_PASSWORD_LEN`]
/// characters once trimmed, and not a run of a few repeated characters.
pub fn check_password(password: &str) -> Result<(), AuthError> {
    let trimmed = password.trim();
    let length = trimmed.chars().count();
    let mut distinct: Vec<char> = trimmed.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let ok = (MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&length)
        && password.chars().count() <= MAX_PASSWORD_LEN
        && distinct.len() >= MIN_DISTINCT;
    if ok {
        Ok(())
    } else {
        Err(AuthError::WeakPassword)
    }
}

/// Hashes a password with argon2id and a random salt (PHC string format),
/// once it passes [`check_password`].
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    check_password(password)?;
    let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes()).map_err(|_| AuthError::BadHash)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| AuthError::BadHash)
}

/// Checks a password against a stored hash (argon2's comparison is constant-time).
pub fn verify_password(password: &str, stored: &str) -> Result<(), AuthError> {
    let hash = PasswordHash::new(stored).map_err(|_| AuthError::BadHash)?;
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .map_err(|_| AuthError::BadCredentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    /// The policy, written out role by role: every (role, action) pair.
    #[test]
    fn every_role_and_action_gets_the_policys_answer() {
        use Action::*;
        let expected: &[(Role, &[Action])] = &[
            (Role::Custodian, &Action::ALL),
            (Role::Officer, &[ViewLiveAlerts, SearchAlerts, SearchReads, Export]),
            (Role::Dispatcher, &[ViewLiveAlerts, DecideAlert]),
            (Role::AgencyFeed, &[UploadOwnHotlist]),
            (Role::Contractor, &[]),
            (Role::Ops, &[Health, Metrics]),
        ];
        for (role, allowed) in expected {
            for action in Action::ALL {
                assert_eq!(
                    authorize(*role, &[], action, at(0)).is_ok(),
                    allowed.contains(&action),
                    "{role:?} {action:?}"
                );
            }
        }
    }

    #[test]
    fn roles_parse_by_name() {
        assert_eq!(Role::parse("custodian"), Some(Role::Custodian));
        assert_eq!(Role::parse(" agency_feed "), Some(Role::AgencyFeed));
        assert_eq!(Role::parse("admin"), None);
    }

    #[test]
    fn a_contractor_acts_only_within_a_live_grant() {
        let grant = Grant {
            grantee: "acme-cameras".into(),
            document_ref: "CM-2026-114 (signed 2026-11-20)".into(),
            scope: vec![Action::SearchReads],
            expires_at: at(3600),
            revoked: false,
        };
        let grants = [grant.clone()];
        assert_eq!(
            authorize(Role::Contractor, &grants, Action::SearchReads, at(10)),
            Ok(())
        );
        assert_eq!(
            authorize(Role::Contractor, &grants, Action::Export, at(10)),
            Err(AuthError::NoGrant(Action::Export))
        );
        assert_eq!(
            authorize(Role::Contractor, &grants, Action::SearchReads, at(3600)),
            Err(AuthError::NoGrant(Action::SearchReads)),
            "expired"
        );
        let revoked = [Grant { revoked: true, ..grant }];
        assert!(authorize(Role::Contractor, &revoked, Action::SearchReads, at(10)).is_err());
    }

    #[test]
    fn passwords_are_argon2id_hashed_and_verified() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert_eq!(verify_password("correct horse battery", &hash), Ok(()));
        assert_eq!(
            verify_password("correct horse batterY", &hash),
            Err(AuthError::BadCredentials)
        );
        assert_ne!(hash, hash_password("correct horse battery").unwrap(), "salted");
        assert_eq!(hash_password("short"), Err(AuthError::WeakPassword));
        assert_eq!(verify_password("x", "not a hash"), Err(AuthError::BadHash));
    }

    /// Penetration test: a password of 12 spaces was accepted.
    #[test]
    fn a_password_is_more_than_spaces_or_repeats() {
        for weak in [
            " ".repeat(12),
            format!("  {}  ", "ab".repeat(5)),
            "aaaaaaaaaaaaaaa".into(),
            "x".repeat(300),
        ] {
            assert_eq!(check_password(&weak), Err(AuthError::WeakPassword), "{weak:?}");
        }
        for good in ["correct horse battery", "a long test password", "Kx9#mP2$vL7!"] {
            assert_eq!(check_password(good), Ok(()), "{good:?}");
        }
    }

    /// Penetration test: a grant with scope `manage_users` let the
    /// contractor create a custodian. Whatever a grant record says, only
    /// the contractor actions can be granted.
    #[test]
    fn a_grant_gives_only_contractor_actions() {
        let grant = Grant {
            grantee: "acme".into(),
            document_ref: "CM-2026-114".into(),
            scope: Action::ALL.to_vec(),
            expires_at: at(3600),
            revoked: false,
        };
        for action in Action::ALL {
            assert_eq!(
                authorize(Role::Contractor, std::slice::from_ref(&grant), action, at(0)).is_ok(),
                CONTRACTOR_ACTIONS.contains(&action),
                "{action:?}"
            );
        }
    }
}
