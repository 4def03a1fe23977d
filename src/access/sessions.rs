//! Sessions every instance knows: the record of a login on the principals
//! topic, so a token issued by one replica works on every other, and a
//! logout on one ends it on all.
//!
//! Why the principals topic and not signed stateless tokens: a session must
//! end everywhere the moment its user logs out or is disabled, which a
//! stateless token can only do with a revocation list on a topic anyway;
//! the principals topic is already compacted, read whole at start and
//! followed by every instance, and its records are written with the acks
//! of every in-sync replica. A session record is keyed
//! `session:<SHA-256 of the token>` and holds only the hash: whoever reads
//! the topic learns who is logged in until when, never a token. The CSRF
//! token browser requests echo is derived from the session token
//! ([`csrf_of`]), so every instance can check it and none stores it: a page
//! on another site can neither read the cookie nor compute it. Logout
//! writes a tombstone.
//! Expired records are skipped when read and tombstoned when met.
//!
//! Failed logins are shared the same way, so the lockout limit does not
//! multiply with the replicas: each instance writes its own count for a
//! (username, address) pair under `failures:<pair digest>:<instance>`
//! (one writer per key, so no count is lost to a race between instances),
//! and every instance adds up the counts of the others when an attempt
//! begins ([`Logins::failures_elsewhere`]). A right password tombstones
//! the pair's records of every instance. Only digests go on the topic: a
//! mistyped username may be someone's password.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::auth::Role;

/// The key prefix of session records on the principals topic.
pub const PREFIX: &str = "session:";
/// The key prefix of failed-login counts on the principals topic.
pub const FAILURES: &str = "failures:";

/// Hex SHA-256 of a secret (a session or CSRF token).
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The principals key of the session whose token is `token`.
pub fn key_of(token: &str) -> String {
    format!("{PREFIX}{}", digest(token))
}

/// The CSRF token of the session whose token is `token`.
pub fn csrf_of(token: &str) -> String {
    digest(&format!("csrf:{token}"))
}

/// One login, as every instance knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub username: String,
    pub organisation: String,
    pub role: Role,
    pub expires_at: SystemTime,
}

impl SessionRecord {
    /// Whether the session may still be used at `now`.
    pub fn live_at(&self, now: SystemTime) -> bool {
        now < self.expires_at
    }
}

/// The digest naming a (username, address) pair's failed logins.
pub fn pair_of(username: &str, addr: IpAddr) -> String {
    digest(&format!("failures:{username}\n{addr}"))
}

/// The principals key of `instance`'s failure count for `pair`.
pub fn failures_key(pair: &str, instance: &str) -> String {
    format!("{FAILURES}{pair}:{instance}")
}

/// One instance's count of failed (or still running) login attempts of a
/// pair, and when the last began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub count: u32,
    pub last: SystemTime,
}

/// Sessions and failed-login counts as the principals topic has them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Logins {
    /// Live logins by the digest of their token.
    sessions: BTreeMap<String, SessionRecord>,
    /// Failure counts by pair digest, then by instance.
    failures: BTreeMap<String, BTreeMap<String, FailureRecord>>,
    /// Pairs whose counts were tombstoned (a right password on some
    /// instance) since this instance last looked ([`Logins::take_forgiven`]).
    forgiven: std::collections::BTreeSet<String>,
}

/// Most forgiven pairs remembered; past it they are forgotten at once
/// (the worst outcome: a pair keeps this instance's own count).
const MAX_FORGIVEN: usize = 100_000;

fn is_digest(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Logins {
    /// Applies a `session:` or `failures:` record (`None`: a tombstone);
    /// `None` if the key is neither, else whether the record was good.
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>) -> Option<Result<(), String>> {
        if let Some(digest) = key.strip_prefix(PREFIX) {
            Some(self.apply_session(digest, value))
        } else {
            let rest = key.strip_prefix(FAILURES)?;
            Some(self.apply_failures(rest, value))
        }
    }

    fn apply_session(&mut self, digest: &str, value: Option<&[u8]>) -> Result<(), String> {
        if !is_digest(digest) {
            return Err("a session key is session:<64 hex digits>".into());
        }
        match value {
            None => self.sessions.remove(digest),
            Some(bytes) => {
                let record = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
                self.sessions.insert(digest.to_owned(), record)
            }
        };
        Ok(())
    }

    fn apply_failures(&mut self, rest: &str, value: Option<&[u8]>) -> Result<(), String> {
        let (pair, instance) = rest
            .split_once(':')
            .filter(|(pair, instance)| is_digest(pair) && (1..=64).contains(&instance.len()))
            .ok_or("a failures key is failures:<64 hex digits>:<instance>")?;
        let counts = self.failures.entry(pair.to_owned()).or_default();
        match value {
            None => {
                counts.remove(instance);
                if self.forgiven.len() >= MAX_FORGIVEN {
                    self.forgiven.clear();
                }
                self.forgiven.insert(pair.to_owned());
            }
            Some(bytes) => {
                let record = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
                counts.insert(instance.to_owned(), record);
            }
        }
        if counts.is_empty() {
            self.failures.remove(pair);
        }
        Ok(())
    }

    /// The session whose token has this digest, live or expired.
    pub fn session(&self, digest: &str) -> Option<&SessionRecord> {
        self.sessions.get(digest)
    }

    /// Records a session this instance just made (the same record goes to
    /// the topic, so applying it again later changes nothing).
    pub fn insert_session(&mut self, digest: String, session: SessionRecord) {
        self.sessions.insert(digest, session);
    }

    /// Forgets a session here (its tombstone goes to the topic).
    pub fn remove_session(&mut self, digest: &str) {
        self.sessions.remove(digest);
    }

    /// The digests of `username`'s sessions.
    pub fn sessions_of(&self, username: &str) -> Vec<String> {
        let of_user = self.sessions.iter().filter(|(_, s)| s.username == username);
        of_user.map(|(digest, _)| digest.clone()).collect()
    }

    /// Up to `max` digests of sessions expired at `now`, to tombstone.
    pub fn expired_sessions(&self, now: SystemTime, max: usize) -> Vec<String> {
        let expired = self.sessions.iter().filter(|(_, s)| !s.live_at(now));
        expired.take(max).map(|(digest, _)| digest.clone()).collect()
    }

    /// How many sessions are known (live or not yet tombstoned).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The failures of `pair` counted by instances other than `instance`
    /// that began within `quiet` before `now`: their sum and the latest.
    pub fn failures_elsewhere(
        &self,
        pair: &str,
        instance: &str,
        now: SystemTime,
        quiet: Duration,
    ) -> Option<FailureRecord> {
        let recent = self.failures.get(pair)?.iter().filter(|(other, record)| {
            other.as_str() != instance && now.duration_since(record.last).unwrap_or_default() < quiet
        });
        recent.map(|(_, r)| *r).reduce(|a, b| FailureRecord {
            count: a.count + b.count,
            last: a.last.max(b.last),
        })
    }

    /// Whether `pair`'s counts were tombstoned since the last call: then
    /// this instance forgets its own count too.
    pub fn take_forgiven(&mut self, pair: &str) -> bool {
        self.forgiven.remove(pair)
    }

    /// The keys of every instance's count for `pair`, to tombstone.
    pub fn failure_keys(&self, pair: &str) -> Vec<String> {
        let instances = self.failures.get(pair).into_iter().flat_map(|counts| counts.keys());
        instances.map(|instance| failures_key(pair, instance)).collect()
    }

    /// Up to `max` keys of counts quiet for `quiet` at `now`, to tombstone.
    pub fn stale_failures(&self, now: SystemTime, quiet: Duration, max: usize) -> Vec<String> {
        let all = self
            .failures
            .iter()
            .flat_map(|(pair, counts)| counts.iter().map(move |(instance, record)| (pair, instance, record)));
        let stale = all.filter(|(_, _, record)| now.duration_since(record.last).unwrap_or_default() >= quiet);
        stale
            .take(max)
            .map(|(pair, instance, _)| failures_key(pair, instance))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_and_the_csrf_token_reveal_no_session_token() {
        let token = "5f1c0d6b2a7e4e0c9b1f2d3c4b5a6978aa";
        let key = key_of(token);
        assert_eq!(key.len(), PREFIX.len() + 64);
        assert!(!key.contains(token));
        assert_eq!(csrf_of(token).len(), 64);
        assert_ne!(csrf_of(token), digest(token), "the CSRF token is not the key's digest");
        assert_ne!(csrf_of(token), csrf_of("another token"));
    }

    #[test]
    fn a_session_is_live_until_it_expires() {
        let record = SessionRecord {
            username: "deputy".into(),
            organisation: "RSO".into(),
            role: Role::Officer,
            expires_at: SystemTime::UNIX_EPOCH + Duration::from_secs(100),
        };
        assert!(record.live_at(SystemTime::UNIX_EPOCH + Duration::from_secs(99)));
        assert!(!record.live_at(SystemTime::UNIX_EPOCH + Duration::from_secs(100)));
    }

    #[test]
    fn failures_of_other_instances_add_up_and_a_tombstone_clears_them() {
        let mut logins = Logins::default();
        let pair = pair_of("deputy", IpAddr::from([10, 0, 0, 1]));
        let at = |secs: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs);
        let record = |count, last| serde_json::to_vec(&FailureRecord { count, last }).unwrap();
        for (instance, count, last) in [("a", 2, at(10)), ("b", 3, at(20)), ("c", 9, at(0))] {
            let applied = logins.apply(&failures_key(&pair, instance), Some(&record(count, last)));
            assert_eq!(applied, Some(Ok(())));
        }
        let quiet = Duration::from_secs(15);
        assert_eq!(
            logins.failures_elsewhere(&pair, "a", at(20), quiet),
            Some(FailureRecord { count: 3, last: at(20) }),
            "a's own count and c's quiet one are not added"
        );
        assert_eq!(
            logins.failures_elsewhere(&pair, "z", at(20), quiet),
            Some(FailureRecord { count: 5, last: at(20) })
        );
        assert_eq!(logins.stale_failures(at(20), quiet, 16), vec![failures_key(&pair, "c")]);
        for key in logins.failure_keys(&pair) {
            assert_eq!(logins.apply(&key, None), Some(Ok(())));
        }
        assert_eq!(logins.failures_elsewhere(&pair, "z", at(20), quiet), None);
        assert!(logins.failures.is_empty());
        assert!(logins.take_forgiven(&pair), "a right password elsewhere");
        assert!(!logins.take_forgiven(&pair), "told once");
    }

    #[test]
    fn malformed_login_records_are_refused_and_other_keys_left_alone() {
        let mut logins = Logins::default();
        assert_eq!(logins.apply("user:deputy", None), None);
        assert!(matches!(logins.apply("session:abc", None), Some(Err(_))));
        assert!(matches!(logins.apply("failures:abc:a", None), Some(Err(_))));
        let key = format!("session:{}", digest("token"));
        assert!(matches!(logins.apply(&key, Some(b"{}")), Some(Err(_))));
        assert_eq!(logins.session_count(), 0);
        assert_ne!(
            pair_of("deputy", IpAddr::from([10, 0, 0, 1])),
            pair_of("deputy", IpAddr::from([10, 0, 0, 2]))
        );
    }
}
