//! Fuzzes decoding one record of the SB 34 audit log:
//! `serde_json::from_slice::<hotlist_matcher::access::audit::AuditRecord>` on
//! arbitrary bytes (what a reader of `alpr.audit` gets). It asserts that
//! decoding never panics; that a decoded record round-trips (encoding it and
//! decoding that again gives an equal record, and the second encoding is
//! byte-for-byte the first); and that `access::audit::verify` on the
//! one-record chain, and on the record bounded and re-chained with
//! `Chain::append` under the development key, returns without panicking (the re-chained one must verify).
#![no_main]

use hotlist_matcher::access::audit::{verify, AuditRecord, Chain};
use hotlist_matcher::access::keys::ServiceKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = serde_json::from_slice::<AuditRecord>(data) else {
        return;
    };
    let encoded = serde_json::to_vec(&record).expect("a decoded record encodes");
    let again: AuditRecord = match serde_json::from_slice(&encoded) {
        Ok(again) => again,
        Err(e) => panic!(
            "re-encoded record does not decode: {e}; encoded: {}",
            String::from_utf8_lossy(&encoded)
        ),
    };
    assert_eq!(again, record, "round trip changed the record");
    assert_eq!(
        serde_json::to_vec(&again).expect("encodes"),
        encoded,
        "encoding is not stable"
    );
    let key = ServiceKey::development();
    let _ = verify(&key, std::slice::from_ref(&record));
    let rechained = Chain::start(key.clone()).append(record.event.clone());
    assert_eq!(
        verify(&key, &[rechained]),
        Ok(()),
        "a freshly chained record does not verify"
    );
});
