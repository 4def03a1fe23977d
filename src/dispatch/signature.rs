//! Webhook signatures and retry timing, pure.
//!
//! A receiver must be able to tell that a request came from this service
//! and is not a replay. In the manner of Stripe's and GitHub's webhooks,
//! each request carries `Hotlist-Signature: t=<unix seconds>,v1=<hex>`,
//! where `<hex>` is HMAC-SHA256 under the endpoint's secret of
//! `"<t>.<body>"`. The receiver recomputes it over the raw body, compares in
//! constant time, and refuses a timestamp more than [`TOLERANCE`] from its
//! clock. Each attempt is signed afresh, so a retry an hour later still
//! passes the replay window. [`verify`] is that procedure, for receivers
//! written in Rust and for the tests; the README shows it in Python.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "hotlist-signature";
/// How far a signature's timestamp may be from the receiver's clock.
pub const TOLERANCE: Duration = Duration::from_secs(300);

/// Why a receiver refuses a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is missing or malformed")]
    Malformed,
    #[error("the timestamp is outside the replay window")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(tag))
}

/// Most `v1` entries a header may carry (one per secret during a rotation).
const MAX_SIGNATURES: usize = 4;

/// Checks a received `header` against the raw `body` at the receiver's
/// time `now` (unix seconds). Exactly one `t`; up to [`MAX_SIGNATURES`]
/// `v1` entries of 64 hex digits, any of which may match (secret rotation).
/// The tag is computed once, whatever the header holds.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) if timestamp.is_none() => {
                timestamp = Some(t.parse::<i64>().map_err(|_| SignatureError::Malformed)?)
            }
            Some(("t", _)) => return Err(SignatureError::Malformed),
            Some(("v1", v)) if v.len() == 64 && signatures.len() < MAX_SIGNATURES => {
                signatures.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?)
            }
            Some(("v1", _)) => return Err(SignatureError::Malformed),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > TOLERANCE.as_secs() {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, timestamp, body).finalize().into_bytes();
    let same = |s: &Vec<u8>| s.iter().zip(expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    signatures
        .iter()
        .any(same)
        .then_some(())
        .ok_or(SignatureError::Mismatch)
}

/// The wait before attempt `attempt + 1` (attempts count from 1): the first
/// backoff doubled per attempt, capped, then scaled by `jitter` in [0, 1)
/// to between half and all of it, so receivers coming back from an outage
/// are not hit by every sender at once.
pub fn backoff(attempt: u32, first: Duration, max: Duration, jitter: f64) -> Duration {
    let doubled = first.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    doubled.min(max).mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec-test-0123456789abcdef";

    #[test]
    fn a_signed_body_verifies_and_any_change_does_not() {
        let body = br#"{"type":"alert.opened"}"#;
        let header = sign(SECRET, 1_764_300_000, body);
        // Pinned against Python's hmac (the README's receiver example).
        assert_eq!(
            header,
            "t=1764300000,v1=10506f06e1b0a43ba28f6336dbedd7682f6c5ece477adaf6c27ec46eb8d81b4f"
        );
        assert_eq!(verify(SECRET, &header, body, 1_764_300_010), Ok(()));
        assert_eq!(
            verify(SECRET, &header, br#"{"type":"alert.opened" }"#, 1_764_300_010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"another-secret-0123456789", &header, body, 1_764_300_010),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is covered: moving it breaks the signature.
        let moved = header.replace("t=1764300000", "t=1764300001");
        assert_eq!(
            verify(SECRET, &moved, body, 1_764_300_010),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn an_old_or_future_timestamp_is_a_replay() {
        let body = b"{}";
        let header = sign(SECRET, 1_000_000, body);
        assert_eq!(verify(SECRET, &header, body, 1_000_300), Ok(()));
        assert_eq!(verify(SECRET, &header, body, 1_000_301), Err(SignatureError::Stale));
        assert_eq!(verify(SECRET, &header, body, 999_699), Err(SignatureError::Stale));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let zeros = "00".repeat(32);
        let many = format!("t=1,{}", vec![format!("v1={zeros}"); 5].join(","));
        let two_times = format!("t=1,t=2,v1={zeros}");
        for header in [
            "",
            "t=1",
            "v1=00",
            "t=x,v1=00",
            "t=1,v1=zz",
            "t=1,v1=00",
            "garbage",
            &many,
            &two_times,
        ] {
            assert_eq!(
                verify(SECRET, header, b"{}", 1),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
        // A second v1 (rotation) may be the one that matches.
        let good = sign(SECRET, 5, b"{}");
        let rotated = format!("t=5,v1={},{}", "00".repeat(32), &good["t=5,".len()..]);
        assert_eq!(verify(SECRET, &rotated, b"{}", 5), Ok(()));
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter_between_half_and_all() {
        let (first, max) = (Duration::from_millis(100), Duration::from_secs(1));
        let full: Vec<_> = (1..=6).map(|a| backoff(a, first, max, 0.999_999).as_millis()).collect();
        assert_eq!(full, [99, 199, 399, 799, 999, 999]);
        assert_eq!(backoff(1, first, max, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(40, first, max, 0.0), Duration::from_millis(500));
    }
}
