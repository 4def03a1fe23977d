//! Sealing with day keys: AES-256-GCM under a data key for the UTC day a
//! read was captured, so destroying that key when the day passes the
//! retention makes every copy of the day's records unreadable, in any
//! replica or disk backup Kafka's retention never touches (crypto-shredding).
//!
//! A sealed record is a 12-byte random nonce followed by the ciphertext and
//! its 16-byte tag. The day's id (`YYYY-MM-DD`) is bound as associated data,
//! so a record sealed under one day's key can never be opened as another
//! day's, even with the same key bytes. Day keys are wrapped (sealed the same
//! way) under a master key from a mounted secret before they are stored.
//! Pure apart from the random nonces and keys; which records are sealed and
//! where the keys live is the Kafka layer's.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

/// Why a record or a key could not be opened or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed data is shorter than a nonce and a tag")]
    Truncated,
    #[error("cannot open: wrong key or day, or the data was changed")]
    Unopenable,
    #[error("no random bytes from the system")]
    Random,
    #[error("a key is 32 bytes, raw or as 64 hex digits (make one with `openssl rand -hex 32`)")]
    KeyLength,
}

/// Header on a sealed record: the id (`YYYY-MM-DD`) of the day key that
/// sealed its value. A record without it is plain (reads from a camera
/// that does not seal).
pub const SEALED_HEADER: &str = "hm.sealed";

/// The 16-byte GCM tag.
const TAG_LEN: usize = 16;

/// A 256-bit key for one purpose (a day's data, or the master key), with
/// its AES key schedule expanded once.
#[derive(Clone)]
struct Key {
    id: String,
    bytes: [u8; 32],
    aead: LessSafeKey,
}

impl Key {
    fn new(id: String, bytes: [u8; 32]) -> Key {
        let aead = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &bytes).expect("32-byte key"));
        Key { id, bytes, aead }
    }

    fn aead(&self) -> &LessSafeKey {
        &self.aead
    }

    fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut data = plaintext.to_vec();
        let aad = format!("hotlist-matcher {purpose} {}", self.id);
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut data,
            )
            .map_err(|_| SealError::Unopenable)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&data);
        Ok(sealed)
    }

    fn open(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Truncated);
        }
        let (nonce, data) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Truncated)?;
        let mut data = data.to_vec();
        let aad = format!("hotlist-matcher {purpose} {}", self.id);
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut data)
            .map_err(|_| SealError::Unopenable)?;
        Ok(plain.to_vec())
    }
}

/// The data key of one UTC day. Its `Debug` shows the day, never the key.
#[derive(Clone)]
pub struct DayKey(Key);

impl std::fmt::Debug for DayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DayKey({})", self.0.id)
    }
}

/// The key that wraps day keys, from a mounted secret.
#[derive(Clone)]
pub struct MasterKey(Key);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<secret>)")
    }
}

/// The id of a day, as records name their key: `YYYY-MM-DD`.
pub fn day_id(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The UTC day of a capture time.
pub fn day_of<Tz: TimeZone>(captured_at: &DateTime<Tz>) -> NaiveDate {
    captured_at.with_timezone(&Utc).date_naive()
}

/// Whether `day`'s key must be destroyed at `now`: its last capture is
/// older than `retention_days`.
pub fn expired(day: NaiveDate, now: DateTime<Utc>, retention_days: u32) -> bool {
    let end_of_day = day
        .succ_opt()
        .unwrap_or(day)
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    now >= end_of_day + chrono::Duration::days(i64::from(retention_days))
}

impl DayKey {
    /// A fresh random key for `day`.
    pub fn generate(day: NaiveDate) -> Result<DayKey, SealError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).map_err(|_| SealError::Random)?;
        Ok(DayKey(Key::new(day_id(day), bytes)))
    }

    /// The day's id (`YYYY-MM-DD`), carried in a header of each sealed record.
    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// Seals one record's sensitive bytes.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        self.0.seal("record", plaintext)
    }

    /// Opens what [`DayKey::seal`] made under this day's key.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        self.0.open("record", sealed)
    }
}

/// The day a key id (`YYYY-MM-DD`, from [`SEALED_HEADER`]) names.
pub fn parse_day_id(id: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(id, "%Y-%m-%d")
        .ok()
        .filter(|day| day_id(*day) == id)
}

impl MasterKey {
    /// The master key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, SealError> {
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| SealError::KeyLength)?;
        Ok(MasterKey(Key::new("master".into(), bytes)))
    }

    /// The master key from the contents of its file: 32 raw bytes, or 64
    /// hex digits with surrounding whitespace (`openssl rand -hex 32`).
    pub fn from_file_contents(contents: &[u8]) -> Result<MasterKey, SealError> {
        if contents.len() == 32 {
            return MasterKey::from_bytes(contents);
        }
        let text = std::str::from_utf8(contents).map_err(|_| SealError::KeyLength)?;
        let bytes = hex::decode(text.trim()).map_err(|_| SealError::KeyLength)?;
        MasterKey::from_bytes(&bytes)
    }

    /// The well-known development master key: the demo and tests only; it
    /// protects nothing.
    pub fn development() -> MasterKey {
        MasterKey::from_bytes(b"hotlist-matcher development 32B!").expect("32 bytes")
    }

    /// The key that seals the audit log's query terms, derived from the
    /// master key for that one purpose. It is never destroyed: the access
    /// log outlives the 30 days, but its terms stay unreadable to anyone who
    /// merely reads Kafka.
    pub fn audit_key(&self) -> AuditKey {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.0.bytes).expect("any key length");
        mac.update(b"hotlist-matcher audit terms key");
        AuditKey(Key::new("audit".into(), mac.finalize().into_bytes().into()))
    }

    /// A day key sealed under the master key, bound to its day, to store.
    pub fn wrap(&self, key: &DayKey) -> Result<Vec<u8>, SealError> {
        self.0.seal(&format!("day key {}", key.id()), &key.0.bytes)
    }

    /// The day key of `day` from what [`MasterKey::wrap`] stored.
    pub fn unwrap(&self, day: NaiveDate, wrapped: &[u8]) -> Result<DayKey, SealError> {
        let id = day_id(day);
        let bytes = self.0.open(&format!("day key {id}"), wrapped)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| SealError::KeyLength)?;
        Ok(DayKey(Key::new(id, bytes)))
    }
}

/// The key of the audit log's query terms ([`MasterKey::audit_key`]).
#[derive(Clone)]
pub struct AuditKey(Key);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(<secret>)")
    }
}

impl AuditKey {
    /// Seals one audit record's query terms.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        self.0.seal("audit terms", plaintext)
    }

    /// Opens what [`AuditKey::seal`] made.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        self.0.open("audit terms", sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    const ALERT: &[u8] = br#"{"plate":"7ABC123","camera_id":"cam-1","image_ref":"s3://img/1"}"#;

    #[test]
    fn a_record_opens_only_under_its_own_days_key() {
        let key = DayKey::generate(day(5)).unwrap();
        let sealed = key.seal(ALERT).unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + ALERT.len() + TAG_LEN);
        assert!(
            !sealed.windows(7).any(|w| w == b"7ABC123"),
            "no plate text in the sealed bytes"
        );
        assert_eq!(key.open(&sealed).unwrap(), ALERT);
        assert_ne!(key.seal(ALERT).unwrap(), sealed, "a fresh nonce each time");
        let other = DayKey::generate(day(6)).unwrap();
        assert_eq!(other.open(&sealed), Err(SealError::Unopenable));
        let mut changed = sealed.clone();
        changed[NONCE_LEN] ^= 1;
        assert_eq!(key.open(&changed), Err(SealError::Unopenable));
        assert_eq!(key.open(&sealed[..20]), Err(SealError::Truncated));
    }

    /// The day's id is associated data: the same key bytes under another
    /// day's id do not open the record.
    #[test]
    fn the_same_key_bytes_named_for_another_day_do_not_open_a_record() {
        let key = DayKey::generate(day(5)).unwrap();
        let sealed = key.seal(ALERT).unwrap();
        let renamed = DayKey(Key::new(day_id(day(6)), key.0.bytes));
        assert_eq!(renamed.open(&sealed), Err(SealError::Unopenable));
    }

    #[test]
    fn day_keys_are_wrapped_for_their_day_under_the_master_key() {
        let master = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let key = DayKey::generate(day(5)).unwrap();
        let wrapped = master.wrap(&key).unwrap();
        let back = master.unwrap(day(5), &wrapped).unwrap();
        assert_eq!(back.open(&key.seal(ALERT).unwrap()).unwrap(), ALERT);
        assert_eq!(master.unwrap(day(6), &wrapped).unwrap_err(), SealError::Unopenable);
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap();
        assert_eq!(other.unwrap(day(5), &wrapped).unwrap_err(), SealError::Unopenable);
        assert_eq!(MasterKey::from_bytes(&[1u8; 31]).unwrap_err(), SealError::KeyLength);
        assert_eq!(format!("{master:?} {key:?}"), "MasterKey(<secret>) DayKey(2026-11-05)");
    }

    #[test]
    fn master_keys_come_raw_or_in_hex_and_audit_terms_have_a_key_of_their_own() {
        let hex_file = format!("{}\n", "ab".repeat(32));
        let from_hex = MasterKey::from_file_contents(hex_file.as_bytes()).unwrap();
        let raw = MasterKey::from_file_contents(&[0xab; 32]).unwrap();
        let day_key = DayKey::generate(day(5)).unwrap();
        assert_eq!(
            raw.unwrap(day(5), &from_hex.wrap(&day_key).unwrap()).unwrap().id(),
            "2026-11-05"
        );
        assert_eq!(
            MasterKey::from_file_contents(b"abcd").unwrap_err(),
            SealError::KeyLength
        );
        assert_eq!(
            MasterKey::from_file_contents(&[1; 33]).unwrap_err(),
            SealError::KeyLength
        );
        let terms = b"plate=7ABC123";
        let sealed = raw.audit_key().seal(terms).unwrap();
        assert_eq!(from_hex.audit_key().open(&sealed).unwrap(), terms);
        assert_eq!(
            MasterKey::development().audit_key().open(&sealed),
            Err(SealError::Unopenable)
        );
        assert_eq!(day_key.open(&sealed), Err(SealError::Unopenable), "not a record's key");
        assert_eq!(parse_day_id("2026-11-05"), Some(day(5)));
        assert_eq!(parse_day_id("2026-11-5"), None);
        assert_eq!(parse_day_id("2026-11-05/x"), None);
    }

    /// A read captured on 5 November (UTC) is readable 29 days after its day
    /// ends; 30 days after, the day's key is destroyed.
    #[test]
    fn a_days_key_is_destroyed_thirty_days_after_the_day_ends() {
        let captured: DateTime<Utc> = "2026-11-05T23:59:00Z".parse().unwrap();
        assert_eq!(day_of(&captured), day(5));
        let pacific = DateTime::parse_from_rfc3339("2026-11-05T17:00:00-08:00").unwrap();
        assert_eq!(day_of(&pacific), day(6), "the UTC day");
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert!(!expired(day(5), at("2026-12-05T23:59:59Z"), 30));
        assert!(expired(day(5), at("2026-12-06T00:00:00Z"), 30));
    }
}
