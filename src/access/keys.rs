//! The service key: what makes a record on Kafka the service's own.
//!
//! Anyone who can produce to a topic can write a record that looks right;
//! only the holder of the service key can write one whose MAC checks. The
//! key (at least 32 random bytes, from a mounted secret: `security.key_file`)
//! keys the audit chain, signs audit events on their way to the sealer and
//! signs every record of the principals topic. Each use has its own
//! [`Domain`], so a MAC made for one kind of record is never accepted for
//! another. MACs are HMAC-SHA256 in hex, compared in constant time.
//! Pure: the key's bytes are read by the configuration.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the service key must be at least {MIN_KEY_BYTES} bytes (it is {0}); make one with `openssl rand -hex 32`"
    )]
    TooShort(usize),
}

/// The fewest bytes a service key may have.
pub const MIN_KEY_BYTES: usize = 32;

/// What a MAC is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// A sealed record of the audit chain.
    AuditRecord,
    /// An audit event on its way to the sealer.
    AuditEvent,
    /// A record of the principals topic.
    Principal,
}

impl Domain {
    fn label(self) -> &'static [u8] {
        match self {
            Domain::AuditRecord => b"hotlist-matcher audit record\n",
            Domain::AuditEvent => b"hotlist-matcher audit event\n",
            Domain::Principal => b"hotlist-matcher principal\n",
        }
    }
}

/// The secret that signs the service's records.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceKey(Vec<u8>);

impl std::fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceKey(<secret>)")
    }
}

impl ServiceKey {
    /// A key from the contents of its file, surrounding whitespace trimmed.
    pub fn from_bytes(bytes: &[u8]) -> Result<ServiceKey, KeyError> {
        let trimmed = bytes.trim_ascii();
        if trimmed.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort(trimmed.len()));
        }
        Ok(ServiceKey(trimmed.to_vec()))
    }

    /// The well-known key of the demo and the tests: it protects nothing,
    /// and `security.development_key` must be set to use it.
    pub fn development() -> ServiceKey {
        ServiceKey(b"hotlist-matcher development key: never use it in production".to_vec())
    }

    /// The hex HMAC-SHA256 of `parts` (each length-prefixed) in `domain`.
    pub fn mac(&self, domain: Domain, parts: &[&[u8]]) -> String {
        hex::encode(self.hmac(domain, parts).finalize().into_bytes())
    }

    /// Whether `mac` is the MAC of `parts` in `domain` (constant time).
    pub fn verify(&self, domain: Domain, parts: &[&[u8]], mac: &str) -> bool {
        let Ok(bytes) = hex::decode(mac) else { return false };
        self.hmac(domain, parts).verify_slice(&bytes).is_ok()
    }

    /// The MAC of a principals record: its key and value, or its key as a
    /// tombstone (a forged tombstone could delete a user or end a session).
    pub fn principal_mac(&self, key: &str, value: Option<&[u8]>) -> String {
        match value {
            Some(value) => self.mac(Domain::Principal, &[b"record", key.as_bytes(), value]),
            None => self.mac(Domain::Principal, &[b"tombstone", key.as_bytes()]),
        }
    }

    /// Whether `mac` is this key's MAC of the principals record.
    pub fn principal_signed(&self, key: &str, value: Option<&[u8]>, mac: Option<&str>) -> bool {
        let Some(mac) = mac else { return false };
        match value {
            Some(value) => self.verify(Domain::Principal, &[b"record", key.as_bytes(), value], mac),
            None => self.verify(Domain::Principal, &[b"tombstone", key.as_bytes()], mac),
        }
    }

    fn hmac(&self, domain: Domain, parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(domain.label());
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mac_checks_only_with_the_same_key_domain_and_parts() {
        let key = ServiceKey::from_bytes(b"  0123456789abcdef0123456789abcdef\n").unwrap();
        let mac = key.mac(Domain::Principal, &[b"user:deputy", b"{}"]);
        assert_eq!(mac.len(), 64);
        assert!(key.verify(Domain::Principal, &[b"user:deputy", b"{}"], &mac));
        assert!(
            !key.verify(Domain::AuditRecord, &[b"user:deputy", b"{}"], &mac),
            "domain"
        );
        assert!(
            !key.verify(Domain::Principal, &[b"user:deputy", b"{ }"], &mac),
            "contents"
        );
        assert!(
            !key.verify(Domain::Principal, &[b"user:deput", b"y{}"], &mac),
            "part boundaries"
        );
        assert!(!ServiceKey::development().verify(Domain::Principal, &[b"user:deputy", b"{}"], &mac));
        assert!(!key.verify(Domain::Principal, &[b"user:deputy", b"{}"], "not hex"));
    }

    #[test]
    fn a_short_key_is_refused_and_no_key_is_printed() {
        assert_eq!(ServiceKey::from_bytes(b"short\n"), Err(KeyError::TooShort(5)));
        let key = ServiceKey::from_bytes(&[b'k'; 40]).unwrap();
        assert_eq!(format!("{key:?}"), "ServiceKey(<secret>)");
    }

    #[test]
    fn a_principal_record_is_accepted_only_as_signed() {
        let key = ServiceKey::development();
        let other = ServiceKey::from_bytes(&[b'o'; 32]).unwrap();
        let value: &[u8] = br#"{"username":"intruder","role":"custodian"}"#;
        let mac = key.principal_mac("user:intruder", Some(value));
        assert!(key.principal_signed("user:intruder", Some(value), Some(&mac)));
        assert!(!key.principal_signed("user:intruder", Some(value), None), "unsigned");
        let forged = other.principal_mac("user:intruder", Some(value));
        assert!(
            !key.principal_signed("user:intruder", Some(value), Some(&forged)),
            "another key"
        );
        assert!(
            !key.principal_signed("user:intruder", Some(br#"{"role":"officer"}"#), Some(&mac)),
            "edited"
        );
        assert!(
            !key.principal_signed("user:manager", Some(value), Some(&mac)),
            "moved to another key"
        );
        assert!(
            !key.principal_signed("user:intruder", None, Some(&mac)),
            "a record's MAC is no tombstone's"
        );
        let tombstone = key.principal_mac("user:manager", None);
        assert!(key.principal_signed("user:manager", None, Some(&tombstone)));
        let forged_tombstone = other.principal_mac("user:manager", None);
        assert!(!key.principal_signed("user:manager", None, Some(&forged_tombstone)));
    }
}
